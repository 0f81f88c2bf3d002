/**
 * Temporal's retry arithmetic for attempts run inside a batch: the wait before each retry, and the longest all
 * attempts can take (what a batch's own timeout is derived from). Imports only `@temporalio/common`, which the
 * workflow sandbox and the worker both load.
 */
import { msToNumber } from '@temporalio/common';
import type { Duration } from '@temporalio/common';

export interface RetryShape {
  initialInterval?: Duration;
  backoffCoefficient?: number;
  maximumInterval?: Duration;
  maximumAttempts?: number;
}

/** Temporal's defaults for what a retry policy leaves out. */
const INITIAL_INTERVAL_MS = 1000;
const BACKOFF_COEFFICIENT = 2;

/** The wait before attempt `attempt + 1`, as Temporal computes it. */
export function backoffMs(retry: RetryShape | undefined, attempt: number): number {
  const initial = retry?.initialInterval !== undefined ? msToNumber(retry.initialInterval) : INITIAL_INTERVAL_MS;
  const maximum = retry?.maximumInterval !== undefined ? msToNumber(retry.maximumInterval) : 100 * initial;
  return Math.min(maximum, initial * (retry?.backoffCoefficient ?? BACKOFF_COEFFICIENT) ** (attempt - 1));
}

/** At most how long all attempts take: each to its timeout, and every backoff between them. */
export function worstCaseMs(timeout: Duration, retry: RetryShape | undefined, defaultAttempts: number): number {
  const attempts = retry?.maximumAttempts ?? defaultAttempts;
  let total = attempts * msToNumber(timeout);
  for (let attempt = 1; attempt < attempts; attempt++) total += backoffMs(retry, attempt);
  return total;
}
