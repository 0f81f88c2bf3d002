/**
 * The names, limits and small rules that the worker, the client, the HTTP API and the workflows agree on, without
 * zod. Workflows take their values from here and only types from `contracts`: the workflow sandbox evaluates a
 * workflow's modules afresh for every execution it runs, and loading zod and building the schemas there cost about
 * 12 ms of CPU per fan-out (and per shard) at start. `contracts` re-exports all of it for the other sides.
 */
import { SearchAttributeType, defineSearchAttributeKey } from '@temporalio/common';

export const FANOUT_TASK_QUEUE = 'fanout';

/** Search attributes the fan-out workflows set; registered on the server (docker-compose.yml, tests). */
export const SEARCH_ATTRIBUTES = {
  source: 'FanoutSource',
  state: 'FanoutState',
} as const;
export const FanoutSourceKey = defineSearchAttributeKey(SEARCH_ATTRIBUTES.source, SearchAttributeType.KEYWORD);
export const FanoutStateKey = defineSearchAttributeKey(SEARCH_ATTRIBUTES.state, SearchAttributeType.KEYWORD);

/**
 * Targets in flight at most across a whole fan-out. One execution holds at most 500 (fewer with several on-target
 * callbacks: see workflows/sharding); above that, shards run side by side, each within Temporal's per-execution limits.
 */
export const MAX_CONCURRENCY_LIMIT = 10_000;
export const DEFAULT_MAX_CONCURRENCY = 500;
/** Wider fan-outs run as shards (child workflows) of at most SHARD_LAYOUT.sizeLimit targets each: see workflows/sharding. */
export const MAX_TARGETS = 100_000;

/** Targets one batch runs at most (`batching.maxTargets`). */
export const MAX_BATCH_TARGETS = 1000;

/** Callbacks per list at most (final, on-target, invoke/retry's): each may run beside the targets at once. */
export const MAX_CALLBACKS = 50;

/** Targets whose states the progress query lists one by one; wider fan-outs report counts only. */
export const PROGRESS_TARGETS_LIMIT = 1000;

/** Outcomes listed in a FanoutOutcome; the counts always cover all of them. */
export const MAX_OUTCOMES_KEPT = 1000;

/** The worker's own local activity that returns its catalog, so workflows can refuse unknown names at start. */
export const DESCRIBE_CATALOG = 'fanout.describeCatalog';

/** The worker's own activity that stores records the workflow built (failed, cancelled, child-workflow targets). */
export const SAVE_RECORDS = 'fanout.saveRecords';

/**
 * The worker's own activity that writes a finished fan-out's records out as files (JSON lines per outcome, and a
 * manifest), when the fan-out asked for it (`writeResults`).
 */
export const WRITE_RESULTS = 'fanout.writeResults';

/** The worker's own activity that runs a batch of targets, each with its record and on-target callbacks. */
export const RUN_BATCH = 'fanout.runBatch';

/** The worker's own activity that runs the on-target callbacks of batched targets the workflow recorded itself. */
export const BATCH_CALLBACKS = 'fanout.batchCallbacks';

/** Records whose callbacks one `fanout.batchCallbacks` runs at once. */
export const CALLBACKS_AT_ONCE = 32;

/** The worker's own activity that reads targets streamed into the store, for the fan-out that runs them. */
export const LOAD_TARGETS = 'fanout.loadTargets';

/** Targets per file of targets streamed into the store. */
export const STAGED_CHUNK_TARGETS = 5_000;

/** The signal a worker sends an execution with the progress of the batches it runs for it. */
export const BATCH_PROGRESS_SIGNAL = 'fanout.batchProgress';

/**
 * The task queue of a service limited to so many targets a second: its own, next to the fan-out's, so that the
 * server's dispatch rate limit of that queue is the service's. Workers serve it beside the fan-out's queue.
 */
export function serviceTaskQueue(fanoutTaskQueue: string, service: string): string {
  return `${fanoutTaskQueue}/${service}`;
}

/**
 * Whether a service's targets go to its own task queue (`serviceTaskQueue`): an activity limited to so many a second
 * with a burst. Where the client and the workers read it from registries of their own, both must agree.
 */
export function hasServiceTaskQueue(service: {
  kind: 'activity' | 'workflow';
  limits?: { perSecond?: number; burst?: false };
}): boolean {
  return service.kind === 'activity' && Boolean(service.limits?.perSecond) && service.limits?.burst !== false;
}

/** The workflow ID of a service's concurrency limiter (`serviceLimiter`): one per service per namespace. */
export function limiterWorkflowId(service: string): string {
  return `fanout-limiter/${service}`;
}

/** The workflow ID of a service's one-second window limiter (`serviceLimiter`, `perSecond` without `burst`). */
export function windowLimiterWorkflowId(service: string): string {
  return `fanout-window/${service}`;
}

/** A callback's name, whether it is given by name alone or with options (`CallbackRef`). */
export function callbackName(ref: string | { name: string }): string {
  return typeof ref === 'string' ? ref : ref.name;
}

/** Failed targets a policy (`FailurePolicy`) lets pass, for `total` targets; Infinity for all-settled. */
export function toleratedFailures(
  policy: 'all-settled' | 'fail-fast' | { toleratedFailures: number } | { toleratedFailurePercent: number } | undefined,
  total: number,
): number {
  if (policy === undefined || policy === 'all-settled') return Infinity;
  if (policy === 'fail-fast') return 0;
  if ('toleratedFailures' in policy) return policy.toleratedFailures;
  return Math.floor((total * policy.toleratedFailurePercent) / 100);
}

/** Successes a quorum (`Completion`) needs of `total` targets; Infinity for none. */
export function quorumOf(
  completion: { successes: number } | { successPercent: number } | undefined,
  total: number,
): number {
  if (completion === undefined) return Infinity;
  if ('successes' in completion) return completion.successes;
  return Math.ceil((total * completion.successPercent) / 100);
}

/** Records per saveRecords activity: a few hundred KiB at most, offloaded to the store when larger than 2 KiB. */
export const RECORDS_PER_SAVE = 100;

/** A single run saves its counts in the memo each time this many more targets have settled: every tenth of them. */
export function countsMemoInterval(targets: number): number {
  return Math.ceil(targets / 10);
}
