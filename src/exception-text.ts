/**
 * A target's `exception` text in Zato's record, from what it raised or how Temporal ended it: the workflows build
 * it for targets they record, the batch activity for the targets it runs, so both read the same. Imports only
 * `@temporalio/common`, which the workflow sandbox and the worker both load.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  CancelledFailure,
  ChildWorkflowFailure,
  TemporalFailure,
  TimeoutFailure,
} from '@temporalio/common';

/** As `@temporalio/workflow`'s: cancelled itself, or an activity or child workflow that was. */
export function isCancellation(error: unknown): boolean {
  return (
    error instanceof CancelledFailure ||
    ((error instanceof ActivityFailure || error instanceof ChildWorkflowFailure) &&
      error.cause instanceof CancelledFailure)
  );
}

/**
 * The innermost cause is what the target itself raised; its stack (from the worker) is the traceback. A cancelled
 * target says what cancelled it (`cancelledBy`: the fan-out was cancelled, or stopped by itself, and why).
 */
export function exceptionText(error: unknown, cancelledBy = 'the fan-out was cancelled'): string {
  let cause: unknown = error;
  while ((cause instanceof ActivityFailure || cause instanceof ChildWorkflowFailure) && cause.cause)
    cause = cause.cause;
  if (isCancellation(error)) {
    const started = !(error instanceof Error && /before this target started/.test(error.message));
    return `CancelledFailure: ${cancelledBy} before this target ${started ? 'finished' : 'started'}`;
  }
  if (cause instanceof TimeoutFailure) return timeoutText(cause);
  if (cause instanceof TemporalFailure || cause instanceof Error) {
    const type = cause instanceof ApplicationFailure && cause.type ? cause.type : cause.name;
    const stack = cause.stack && !cause.stack.startsWith('Error\n') ? cause.stack : '';
    return stack.includes(cause.message) ? stack : `${type}: ${cause.message}${stack ? '\n' + stack : ''}`;
  }
  return String(cause);
}

const TIMEOUTS: Record<string, [string, string]> = {
  START_TO_CLOSE: ['StartToClose', 'an attempt ran longer than its start-to-close timeout'],
  SCHEDULE_TO_START: ['ScheduleToStart', 'no worker picked the target up within its schedule-to-start timeout'],
  SCHEDULE_TO_CLOSE: ['ScheduleToClose', 'the target, retries included, ran longer than its schedule-to-close timeout'],
  HEARTBEAT: ['Heartbeat', 'the target stopped heartbeating within its heartbeat timeout'],
};

/** The server's timeout failures carry no message, only their type: say what timed out. */
function timeoutText(failure: TimeoutFailure): string {
  const [name, meaning] = TIMEOUTS[failure.timeoutType ?? ''] ?? [String(failure.timeoutType), 'timed out'];
  return `TimeoutFailure: ${name} timeout: ${meaning}${failure.message ? ` (${failure.message})` : ''}`;
}
