/**
 * Attempts of one target or callback inside a batch, run the way Temporal runs an activity's: a retry policy with
 * its backoff, non-retryable errors and `nextRetryDelay`, and a start-to-close timeout per attempt. Each attempt
 * runs in an activity context of its own (`Context.current()` in a service or callback sees its attempt number and
 * a cancellation signal that fires at its timeout or when the batch is cancelled).
 */
import { Context, asyncLocalStorage } from '@temporalio/activity';
import type { Info } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure, TimeoutFailure, TimeoutType, msToNumber } from '@temporalio/common';
import type { Duration, RetryPolicy } from '../contracts';
import { abortableSleep } from '../abortable-sleep';
import { backoffMs } from '../retry-math';
import type { RetryShape } from '../retry-math';

export interface AttemptPlan {
  /** What the attempts' contexts say they are: Temporal's activity ID and type for this target or callback. */
  activityId: string;
  activityType: string;
  startToCloseTimeout: Duration;
  retry: RetryPolicy;
  /** Attempts at most when the policy sets none: a batch never retries for ever. */
  defaultAttempts: number;
}

/** What the attempts of one batch share: its cancellation, and the time on the server's clock. */
export interface BatchAttempt {
  signal: AbortSignal;
  /** The batch attempt's scheduled time plus what it has taken here: the clock its records' times are on. */
  serverNow: () => number;
}

function attemptsOf(plan: Pick<AttemptPlan, 'retry' | 'defaultAttempts'>): number {
  return plan.retry.maximumAttempts ?? plan.defaultAttempts;
}

function retryable(error: unknown, retry: RetryPolicy): boolean {
  if (error instanceof ApplicationFailure && error.nonRetryable) return false;
  const type =
    error instanceof ApplicationFailure && error.type ? error.type : error instanceof Error ? error.name : '';
  return !(retry.nonRetryableErrorTypes ?? []).includes(type);
}

/**
 * Runs `attempt` until it succeeds, fails non-retryably, runs out of attempts, or `batch` (the batch's cancellation)
 * fires. Rejects with the last attempt's error: a `TimeoutFailure` for an attempt past its timeout, the batch's
 * `CancelledFailure` once it is cancelled.
 */
export async function runAttempts<T>(
  plan: AttemptPlan,
  { signal: batch, serverNow }: BatchAttempt,
  attempt: (attemptNumber: number, signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const attempts = attemptsOf(plan);
  const timeoutMs = msToNumber(plan.startToCloseTimeout as never);
  for (let number = 1; ; number++) {
    if (batch.aborted) throw batch.reason as Error;
    const controller = new AbortController();
    const timeout = new TimeoutFailure(undefined, undefined, TimeoutType.START_TO_CLOSE);
    const timer = setTimeout(() => controller.abort(timeout), timeoutMs);
    const cancel = () => controller.abort(batch.reason);
    batch.addEventListener('abort', cancel, { once: true });
    // An attempt cut short ends then, as Temporal ends it, whether or not the service heeds its signal; what it
    // does afterwards is left to run out on its own (it can no longer store a record: see callService).
    const running = inAttemptContext(plan, number, controller.signal, serverNow(), () =>
      attempt(number, controller.signal),
    );
    running.catch(() => undefined);
    const cutShort = new Promise<never>((_, reject) =>
      controller.signal.addEventListener('abort', () => reject(controller.signal.reason as Error), { once: true }),
    );
    cutShort.catch(() => undefined);
    try {
      return await Promise.race([running, cutShort]);
    } catch (error) {
      // An attempt cut short fails with why it was (its timeout, the batch's cancellation), whatever it threw then.
      const failure: unknown = controller.signal.aborted ? controller.signal.reason : error;
      if (batch.aborted || number >= attempts || !retryable(failure, plan.retry)) throw failure;
      const delay =
        failure instanceof ApplicationFailure && failure.nextRetryDelay != null
          ? msToNumber(failure.nextRetryDelay)
          : backoffMs(plan.retry as RetryShape, number);
      await abortableSleep(delay, batch);
    } finally {
      clearTimeout(timer);
      batch.removeEventListener('abort', cancel);
    }
  }
}

/**
 * Runs `fn` with `Context.current()` answering for this attempt: its own ID, type, attempt number and cancellation,
 * the batch's client, logger and metrics. Its heartbeats keep nothing (the batch's own heartbeats hold its progress).
 */
function inAttemptContext<T>(
  plan: AttemptPlan,
  attempt: number,
  signal: AbortSignal,
  scheduledMs: number,
  fn: () => Promise<T>,
): Promise<T> {
  const batch = Context.current();
  const info: Info = {
    ...batch.info,
    activityId: plan.activityId,
    activityType: plan.activityType,
    attempt,
    heartbeatDetails: undefined,
    currentAttemptScheduledTimestampMs: scheduledMs,
    startToCloseTimeoutMs: msToNumber(plan.startToCloseTimeout as never),
    heartbeatTimeoutMs: undefined,
  };
  const cancelled = new Promise<never>((_, reject) => {
    const fire = () => reject(signal.reason instanceof Error ? signal.reason : new CancelledFailure('CANCELLED'));
    if (signal.aborted) fire();
    else signal.addEventListener('abort', fire, { once: true });
  });
  cancelled.catch(() => undefined); // awaited only by a service that asks for it
  let client: Context['client'] | undefined;
  try {
    client = batch.client;
  } catch {
    client = undefined; // a batch run outside a worker (a mock activity environment) has none
  }
  const context = new Context(info, cancelled, signal, () => undefined, client, batch.log, batch.metricMeter, {});
  return asyncLocalStorage.run(context, fn);
}
