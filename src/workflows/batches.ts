/**
 * Batched targets, workflow side: a batch (see batch-plan) is one item of the lane pool, run by one
 * `fanout.runBatch` activity that runs its targets at once in the worker, with timeouts derived from theirs.
 */
import { ActivityCancellationType, proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { ActivityOptions, CancellationScope } from '@temporalio/workflow';
import type { Duration as TemporalDuration } from '@temporalio/common';
import type { BatchActivities } from '../activities/builtin';
import type {
  BatchCallbacks,
  BatchInput,
  BatchResult,
  Defaults,
  PlannedTarget,
  BatchCallbacksInput,
} from '../contracts';
import { BATCH_CALLBACKS, CALLBACKS_AT_ONCE, RUN_BATCH } from '../constants';
import type { RetryShape } from '../retry-math';
import { worstCaseMs } from '../retry-math';
import { CALLBACK_DEFAULTS, TARGET_DEFAULTS } from './steps';

/**
 * A batch's liveness: it heartbeats every second, so a worker lost mid-batch is noticed within this and the batch
 * retried on another (resuming where its records and last heartbeat say it was).
 */
export const BATCH_HEARTBEAT_TIMEOUT = '10 seconds';
/** A batch attempt that fails (its worker lost, not its targets: those fail alone) is retried this often at most. */
const BATCH_ATTEMPTS = 5;

/** The batch's activity options: its timeouts derived from its targets' and callbacks' own. */
export function batchActivityOptions(
  targets: PlannedTarget[],
  atOnce: number,
  defaults: Defaults,
  onTargetCallbacks: number,
  summary: string,
): ActivityOptions {
  const worstTarget = Math.max(
    ...targets.map((t) =>
      worstCaseMs(
        (t.options.startToCloseTimeout ??
          defaults.startToCloseTimeout ??
          TARGET_DEFAULTS.startToCloseTimeout) as TemporalDuration,
        (t.options.retry ?? defaults.retry) as RetryShape | undefined,
        TARGET_DEFAULTS.retry.maximumAttempts,
      ),
    ),
  );
  const worstCallbacks = onTargetCallbacks ? callbacksWorstMs(defaults) : 0;
  // Every wave of `atOnce` targets may take its worst, then its callbacks theirs; and a minute to spare.
  const waves = Math.ceil(targets.length / Math.max(1, atOnce));
  return {
    summary,
    startToCloseTimeout: waves * (worstTarget + worstCallbacks) + 60_000,
    heartbeatTimeout: BATCH_HEARTBEAT_TIMEOUT,
    retry: { maximumAttempts: BATCH_ATTEMPTS, initialInterval: '1 second', maximumInterval: '10 seconds' },
    // Cancelled, a batch cancels its running targets, and returns what became of each: the workflow waits for it.
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  };
}

/** At most how long a target's on-target callbacks take (they run at once), each to the end of its retries. */
function callbacksWorstMs(defaults: Defaults): number {
  return worstCaseMs(
    (defaults.callbackStartToCloseTimeout ?? CALLBACK_DEFAULTS.startToCloseTimeout) as TemporalDuration,
    defaults.callbackRetry as RetryShape | undefined,
    CALLBACK_DEFAULTS.retry.maximumAttempts,
  );
}

/** Runs a batch: as an activity, or as a local activity when its targets run locally. */
export function runBatch(input: BatchInput, options: ActivityOptions, local: boolean): Promise<BatchResult> {
  if (local) {
    const { heartbeatTimeout: _none, cancellationType, ...rest } = options;
    // A local activity has no heartbeat; the worker running the workflow runs it, and hears of its cancellation.
    return proxyLocalActivities<BatchActivities>({ ...rest, cancellationType })[RUN_BATCH](input);
  }
  return proxyActivities<BatchActivities>(options)[RUN_BATCH](input);
}

/** Runs the on-target callbacks of batched targets the workflow recorded itself, in one activity. */
export function batchCallbacks(
  input: BatchCallbacksInput,
  scope: CancellationScope,
  summary: string,
): Promise<BatchCallbacks> {
  const waves = Math.ceil(input.records.length / CALLBACKS_AT_ONCE);
  return scope.run(() =>
    proxyActivities<BatchActivities>({
      summary,
      startToCloseTimeout: waves * callbacksWorstMs(input.defaults) + 60_000,
      heartbeatTimeout: BATCH_HEARTBEAT_TIMEOUT,
      retry: { maximumAttempts: 10, maximumInterval: '30 seconds' },
    })[BATCH_CALLBACKS](input),
  );
}
