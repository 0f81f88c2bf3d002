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
 */
import { MAX_CALLBACKS } from '../constants';

export const HISTORY_EVENT_BUDGET = 9_000;
export const SHARD_SIZE_LIMIT = 1_000;
export const COMMANDS_PER_TASK = 1_600;
/** Temporal's default limit on one execution's pending activities (`limit.numPendingActivities.error`). */
export const PENDING_ACTIVITIES_LIMIT = 2_000;
/** Kept free below it: the final callbacks (a delivery's among them) and a records save. */
const PENDING_ACTIVITIES_RESERVED = MAX_CALLBACKS + 2;
/**
 * Targets a shard runs at once when a sharded fan-out's concurrency can be spread over more shards. While the
 * worker holds one of an execution's workflow tasks, what settles meanwhile is buffered, two events an activity;
 * past 100 buffered events (`history.maximumBufferedEventsBatch`, on every cluster) the server closes the task,
 * the worker's work on it is thrown away and the run is replayed from its start. With 1,000 targets in flight in
 * one execution that happened over and over on a busy 2-core worker (104 of 140 tasks of a 5,000-wide fan-out
 * force-closed, the rate halved); spread over five executions each sees a fifth of the completions.
 */
export const SHARD_IN_FLIGHT = 200;

export interface ShardPlan {
  /** Targets per execution: the whole fan-out runs in one execution when it has at most this many. */
  shardSize: number;
  /** How many shards run at once. */
  shardsAtOnce: number;
  /** Targets in flight per execution; shardsAtOnce × this never passes the fan-out's maxConcurrency. */
  concurrencyPerExecution: number;
  shardCount: number;
  /** The most targets one execution may have in flight: bounded by its shard size and by one task's commands. */
  executionCap: number;
  /** Targets in flight per shard that the fan-out aims for, spreading its concurrency over more shards. */
  inFlightPerShard: number;
}

export interface PlanOptions {
  /**
   * Keep each execution's pending activities within PENDING_ACTIVITIES_LIMIT (the default). Off only for fan-outs
   * started before the bound, which must replay with the plan they started with: it changes only plans with four or
   * more on-target callbacks.
   */
  withinPendingActivitiesLimit?: boolean;
  /**
   * Spread a sharded fan-out's concurrency over shards running SHARD_IN_FLIGHT targets each (the default). Off only
   * for fan-outs started before, which ran as few shards at once as their concurrency allowed.
   */
  spreadOverShards?: boolean;
}

function shardSizeFor(onTargetCallbacks: number, { withinPendingActivitiesLimit = true }: PlanOptions): number {
  const eventsPerTarget = 3 + 3 * onTargetCallbacks + 3;
  const byEvents = Math.floor(HISTORY_EVENT_BUDGET / eventsPerTarget);
  const byPending = withinPendingActivitiesLimit
    ? Math.floor((PENDING_ACTIVITIES_LIMIT - PENDING_ACTIVITIES_RESERVED) / Math.max(1, onTargetCallbacks))
    : Infinity;
  return Math.max(1, Math.min(SHARD_SIZE_LIMIT, byEvents, byPending));
}

export function planShards(
  targets: number,
  onTargetCallbacks: number,
  maxConcurrency: number,
  options: PlanOptions = {},
): ShardPlan {
  const shardSize = shardSizeFor(onTargetCallbacks, options);
  const shardCount = targets <= shardSize ? 1 : Math.ceil(targets / shardSize);
  const perTaskCap = Math.max(1, Math.floor(COMMANDS_PER_TASK / (1 + onTargetCallbacks)));
  const executionCap = Math.min(perTaskCap, shardSize);
  const spread = shardCount > 1 && (options.spreadOverShards ?? true);
  const inFlightPerShard = spread ? Math.min(executionCap, SHARD_IN_FLIGHT) : executionCap;
  const shardsAtOnce = Math.min(shardCount, Math.max(1, Math.ceil(maxConcurrency / inFlightPerShard)));
  const concurrencyPerExecution = Math.max(1, Math.min(executionCap, Math.floor(maxConcurrency / shardsAtOnce)));
  return { shardSize, shardsAtOnce, concurrencyPerExecution, shardCount, executionCap, inFlightPerShard };
}

/** A shard's child workflow ID. `//` keeps it apart from child-workflow targets, `<cid>/<target>`. */
export function shardWorkflowId(cid: string, index: number): string {
  return `${cid}//shard-${index + 1}`;
}
