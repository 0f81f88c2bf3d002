/**
 * What a service throws when its backend asks it to come back later (HTTP 429 or 503 with Retry-After): the target
 * waits that long and calls again within the same attempt, so a busy backend slows its targets down rather than
 * burn their attempts. The attempt's own timeout still bounds it: nothing waits for ever.
 */
import { msToNumber } from '@temporalio/common';
import type { Duration } from '@temporalio/common';
import { abortableSleep } from './abortable-sleep';

/** Waits at most this long at once, whatever a backend asks. */
const MAX_WAIT_MS = 5 * 60_000;

export class ServiceBusyError extends Error {
  readonly retryAfterMs: number;

  constructor(message: string, options: { retryAfter: Duration }) {
    super(message);
    this.name = 'ServiceBusyError';
    this.retryAfterMs = Math.min(MAX_WAIT_MS, Math.max(0, msToNumber(options.retryAfter)));
  }

  /**
   * From an HTTP answer's Retry-After header: seconds, or an HTTP date; absent or unreadable, one second.
   *   if (response.status === 429 || response.status === 503)
   *     throw ServiceBusyError.fromRetryAfter(response.headers.get('retry-after'), `crm answered ${response.status}`);
   */
  static fromRetryAfter(header: string | null | undefined, message: string, now = Date.now()): ServiceBusyError {
    const value = header?.trim() ?? '';
    let ms = 1000;
    if (/^\d+$/.test(value)) ms = Number(value) * 1000;
    else if (value && !Number.isNaN(Date.parse(value))) ms = Date.parse(value) - now;
    return new ServiceBusyError(message, { retryAfter: Math.max(0, ms) });
  }
}

/**
 * Calls `call` again after each ServiceBusyError, as long as it asks, until `signal` fires (the attempt's end);
 * `onBusy` hears of each (adaptive concurrency takes it as a backend asking for less).
 */
export async function callWhileBusy<T>(
  call: () => Promise<T>,
  signal: AbortSignal,
  onBusy: () => void = () => undefined,
): Promise<T> {
  for (;;) {
    try {
      return await call();
    } catch (error) {
      if (!(error instanceof ServiceBusyError)) throw error;
      onBusy();
      await abortableSleep(error.retryAfterMs, signal);
    }
  }
}
