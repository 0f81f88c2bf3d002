/**
 * Batched targets, workflow side. Consecutive activity targets with the same batching (and the same local or not)
 * are cut into batches: at most `maxTargets` each, and at most `maxBytes` of requests as JSON. A batch is one item
 * of the lane pool, run by one `fanout.runBatch` activity that runs its targets at once in the worker. Targets that
 * are not batched are items of their own, as ever.
 */
import { ActivityCancellationType, proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { ActivityOptions, CancellationScope } from '@temporalio/workflow';
import type { Duration as TemporalDuration } from '@temporalio/common';
import type { BatchActivities } from '../activities/builtin';
import type {
  BatchCallbacks,
  BatchInput,
  BatchResult,
  Batching,
  Defaults,
  PlannedTarget,
  BatchCallbacksInput,
} from '../contracts';
import { BATCH_CALLBACKS, CALLBACKS_AT_ONCE, RUN_BATCH } from '../constants';
import type { RetryShape } from '../retry-math';
import { worstCaseMs } from '../retry-math';
import { CALLBACK_DEFAULTS, TARGET_DEFAULTS } from './steps';

/** One item of the lane pool: the targets at positions start .. end - 1, batched or a single target. */
export interface Unit {
  start: number;
  end: number;
  batch?: Batching;
}

/**
 * A batch's liveness: it heartbeats every second, so a worker lost mid-batch is noticed within this and the batch
 * retried on another (resuming where its records and last heartbeat say it was).
 */
export const BATCH_HEARTBEAT_TIMEOUT = '10 seconds';
/** A batch attempt that fails (its worker lost, not its targets: those fail alone) is retried this often at most. */
const BATCH_ATTEMPTS = 5;

function sameBatching(a: PlannedTarget, b: PlannedTarget): boolean {
  return (
    a.batch !== undefined &&
    b.batch !== undefined &&
    a.batch.maxTargets === b.batch.maxTargets &&
    a.batch.maxBytes === b.batch.maxBytes &&
    (a.local ?? false) === (b.local ?? false)
  );
}

function batchable(target: PlannedTarget): boolean {
  return target.batch !== undefined && target.kind === 'activity';
}

/** The pool's items for these targets, in order. */
export function planUnits(targets: PlannedTarget[]): Unit[] {
  const units: Unit[] = [];
  let current: (Unit & { bytes: number }) | undefined;
  targets.forEach((target, position) => {
    if (!batchable(target)) {
      current = undefined;
      units.push({ start: position, end: position + 1 });
      return;
    }
    const { maxTargets, maxBytes } = target.batch!;
    const bytes = maxBytes === undefined ? 0 : JSON.stringify(target.request ?? null).length;
    const fits =
      current &&
      sameBatching(targets[current.start], target) &&
      current.end - current.start < maxTargets &&
      (maxBytes === undefined || current.bytes + bytes <= maxBytes);
    if (fits) {
      current!.end++;
      current!.bytes += bytes;
    } else {
      current = { start: position, end: position + 1, batch: target.batch, bytes };
      units.push(current);
    }
  });
  return units.map(({ start, end, batch }) => (batch ? { start, end, batch } : { start, end }));
}

/** The narrowest batch when every target is batched (the plan then counts batches), else 1. */
export function batchWidthOf(targets: PlannedTarget[]): number {
  let narrowest = Infinity;
  for (const target of targets) {
    if (!batchable(target)) return 1;
    narrowest = Math.min(narrowest, target.batch!.maxTargets);
  }
  return Number.isFinite(narrowest) ? narrowest : 1;
}

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
