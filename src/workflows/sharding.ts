/**
 * How a fan-out is cut to fit Temporal's limits, whatever its width. Pure arithmetic, shared by the workflows and
 * the client. The limits it keeps, per workflow execution:
 *  - history: at most HISTORY_EVENT_BUDGET events (Temporal warns at 10,240 and terminates at 51,200). A target
 *    costs 3 events (scheduled, started, closed), each on-target callback 3 more, and workflow tasks up to 3 more;
 *  - one workflow task's commands: at most COMMANDS_PER_TASK, so that with payloads kept small (records inline
 *    only under 1 KiB, anything over 2 KiB offloaded to the store) a task's completion stays far under the 4 MiB
 *    gRPC limit: a task can schedule one new target and every on-target callback for each target that settled;
 *  - pending activities: at most PENDING_ACTIVITIES_LIMIT. A target in flight is one; a settled target, one per
 *    on-target callback still running (a slow receiver can keep all of them running), so a shard of S targets with
 *    n on-target callbacks may have n × S pending at once, beside its final callbacks and one records save.
 * Batched targets (every target batched, the narrowest batch `batchWidth` wide) cost per batch what a target costs
 * unbatched, less their callbacks (the batch runs them): an execution holds many more, and the limits above count
 * batches. See BATCHED_EVENTS_PER_BATCH.
 */
import { MAX_CALLBACKS, MAX_CONCURRENCY_LIMIT, MAX_TARGETS } from '../constants';

export const HISTORY_EVENT_BUDGET = 9_000;
export const COMMANDS_PER_TASK = 1_600;
/** Temporal's default limit on one execution's pending activities (`limit.numPendingActivities.error`). */
export const PENDING_ACTIVITIES_LIMIT = 2_000;
/** Kept free below it: the final callbacks (a delivery's among them) and a records save. */
const PENDING_ACTIVITIES_RESERVED = MAX_CALLBACKS + 2;

/**
 * How large unbatched shards are and how many targets each keeps in flight when a fan-out's concurrency can be
 * spread over more shards. While the worker holds one of an execution's workflow tasks, what settles meanwhile is
 * buffered, two events an activity; past 100 buffered events (`history.maximumBufferedEventsBatch`, on every
 * cluster) the server closes the task, the worker's work on it is thrown away and the run is replayed from its start.
 * What decides it is how fast one execution's targets settle, against how long the worker holds a task: the machine
 * settles what it can, shared among the shards running, and a busy worker holds tasks longer. A replay of a long
 * history holds its task longest of all, so one closed task can bring on the next.
 */
export interface ShardLayout {
  /** Unbatched targets per shard at most. */
  sizeLimit: number;
  /** Unbatched targets a shard keeps in flight, when the concurrency can be spread over more shards. */
  inFlight: number;
}

/**
 * Fan-outs started before 1.1.0 (and their replays): shards of 1,000 with 200 in flight. At 5,000 targets with 1,000
 * in flight on 2 cores, a busy worker now and then fell into closed tasks and replays (up to 49 closed tasks a run,
 * each replay of a shard seconds long under load, the run half as fast again).
 */
export const SHARD_LAYOUT_1_0: ShardLayout = { sizeLimit: 1_000, inFlight: 200 };
/**
 * Since 1.1.0 (PATCH_SPREAD_SHARDS): shards of 500 with 100 in flight, so that a concurrency of 1,000 runs ten
 * shards side by side, each settling a tenth of the targets, its history and so its replay half as long. Measured the
 * same way (docs/benchmarks.md): one closed task in ten runs against 23 in three of ten, for 3.5 history events per
 * target against 3.4.
 */
export const SHARD_LAYOUT: ShardLayout = { sizeLimit: 500, inFlight: 100 };

/** Batches a shard keeps in flight when the concurrency can be spread over more shards (both layouts). */
export const SHARD_BATCHES_IN_FLIGHT = 200;

/**
 * History events per batch: its activity (3), the workflow task its result wakes (up to 3), and an activity that
 * records its targets when they were cancelled (3). BATCH_PROGRESS_EVENTS more are kept for the workers' progress
 * signals (one event each, one signal per worker every 2 s or so while batches run).
 */
export const BATCHED_EVENTS_PER_BATCH = 9;
export const BATCH_PROGRESS_EVENTS = 1_000;

/**
 * How a fan-out runs. The concurrency names, from the widest: `maxConcurrency` (the caller's, across the whole
 * fan-out), `shardsAtOnce` (shards running side by side), `targetsAtOnce` (targets in flight in one execution: the
 * fan-out's own, or each running shard's share), bounded by `executionLimit`.
 */
export interface ShardPlan {
  /** Targets per execution: the whole fan-out runs in one execution when it has at most this many. */
  shardSize: number;
  shardCount: number;
  /** The most targets one execution may have in flight: bounded by its shard size and by one task's commands. */
  executionLimit: number;
  /** Shards running side by side at the start. */
  shardsAtOnce: number;
  /** Targets in flight per execution at the start; shardsAtOnce × this never passes maxConcurrency. */
  targetsAtOnce: number;
  /** Targets per batch in the narrowest batch when every target is batched, else 1. */
  batchWidth: number;
  /** Unbatched targets a shard keeps in flight when the concurrency can be spread (the layout's). */
  inFlight: number;
}

function shardSizeFor(onTargetCallbacks: number, batchWidth: number, sizeLimit: number): number {
  if (batchWidth > 1) {
    const batches = Math.floor((HISTORY_EVENT_BUDGET - BATCH_PROGRESS_EVENTS) / BATCHED_EVENTS_PER_BATCH);
    return Math.min(MAX_TARGETS, batches * batchWidth);
  }
  const eventsPerTarget = 3 + 3 * onTargetCallbacks + 3;
  const byEvents = Math.floor(HISTORY_EVENT_BUDGET / eventsPerTarget);
  const byPending = Math.floor(
    (PENDING_ACTIVITIES_LIMIT - PENDING_ACTIVITIES_RESERVED) / Math.max(1, onTargetCallbacks),
  );
  return Math.max(1, Math.min(sizeLimit, byEvents, byPending));
}

export function planShards(
  targets: number,
  onTargetCallbacks: number,
  maxConcurrency: number,
  batchWidth = 1,
  layout: ShardLayout = SHARD_LAYOUT,
): ShardPlan {
  const shardSize = shardSizeFor(onTargetCallbacks, batchWidth, layout.sizeLimit);
  const shardCount = targets <= shardSize ? 1 : Math.ceil(targets / shardSize);
  // A batch is one command whose callbacks it runs itself.
  const perTaskLimit =
    batchWidth > 1
      ? COMMANDS_PER_TASK * batchWidth
      : Math.max(1, Math.floor(COMMANDS_PER_TASK / (1 + onTargetCallbacks)));
  const executionLimit = Math.min(perTaskLimit, shardSize, MAX_CONCURRENCY_LIMIT);
  const plan = { shardSize, shardCount, executionLimit, batchWidth, inFlight: layout.inFlight };
  const shardsAtOnce = shardsAtOnceFor(plan, maxConcurrency);
  return { ...plan, shardsAtOnce, targetsAtOnce: targetsAtOnceFor(plan, maxConcurrency, shardsAtOnce) };
}

type Bounds = Pick<ShardPlan, 'shardCount' | 'executionLimit' | 'inFlight'> & Partial<Pick<ShardPlan, 'batchWidth'>>;

/** Shards to run side by side for this concurrency: as many as it takes to give each its layout's share in flight. */
export function shardsAtOnceFor(
  { shardCount, executionLimit, batchWidth = 1, inFlight }: Bounds,
  maxConcurrency: number,
): number {
  const perShard = Math.min(executionLimit, batchWidth > 1 ? SHARD_BATCHES_IN_FLIGHT * batchWidth : inFlight);
  return Math.min(shardCount, Math.max(1, Math.ceil(maxConcurrency / perShard)));
}

/** Each execution's even share of the concurrency among `shards` executions, at least one target. */
export function targetsAtOnceFor({ executionLimit }: Bounds, maxConcurrency: number, shards: number): number {
  return Math.max(1, Math.min(executionLimit, Math.floor(maxConcurrency / Math.max(1, shards))));
}

/** A shard's child workflow ID. `//` keeps it apart from child-workflow targets, `<cid>/<target>`. */
export function shardWorkflowId(cid: string, index: number): string {
  return `${cid}//shard-${index + 1}`;
}
