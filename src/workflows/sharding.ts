/**
 * How a fan-out is cut to fit Temporal's limits, whatever its width. Pure arithmetic, shared by the workflows and
 * the client. The limits it keeps, per workflow execution:
 *  - history: at most HISTORY_EVENT_BUDGET events (Temporal warns at 10,240 and terminates at 51,200). A target
 *    costs 3 events (scheduled, started, closed), each on-target callback 3 more, and workflow tasks up to 3 more;
 *  - one workflow task's commands: at most COMMANDS_PER_TASK, so that with payloads kept small (records inline
 *    only under 1 KiB, anything over 2 KiB offloaded to the store) a task's completion stays far under the 4 MiB
 *    gRPC limit: a task can schedule one new target and every on-target callback for each target that settled.
 */

export const HISTORY_EVENT_BUDGET = 9_000;
export const SHARD_SIZE_LIMIT = 1_000;
export const COMMANDS_PER_TASK = 1_600;

export interface ShardPlan {
  /** Targets per execution: the whole fan-out runs in one execution when it has at most this many. */
  shardSize: number;
  /** How many shards run at once. */
  shardsAtOnce: number;
  /** Targets in flight per execution; shardsAtOnce × this never passes the fan-out's maxConcurrency. */
  concurrencyPerExecution: number;
  shardCount: number;
}

function shardSizeFor(onTargetCallbacks: number): number {
  const eventsPerTarget = 3 + 3 * onTargetCallbacks + 3;
  return Math.max(1, Math.min(SHARD_SIZE_LIMIT, Math.floor(HISTORY_EVENT_BUDGET / eventsPerTarget)));
}

/** The most targets one execution may have in flight: bounded by its shard size and by one task's commands. */
export function executionCap(onTargetCallbacks: number): number {
  const perTaskCap = Math.max(1, Math.floor(COMMANDS_PER_TASK / (1 + onTargetCallbacks)));
  return Math.min(perTaskCap, shardSizeFor(onTargetCallbacks));
}

export function planShards(targets: number, onTargetCallbacks: number, maxConcurrency: number): ShardPlan {
  const shardSize = shardSizeFor(onTargetCallbacks);
  const shardCount = targets <= shardSize ? 1 : Math.ceil(targets / shardSize);
  const cap = executionCap(onTargetCallbacks);
  const shardsAtOnce = Math.min(shardCount, Math.max(1, Math.ceil(maxConcurrency / cap)));
  const concurrencyPerExecution = Math.max(1, Math.min(cap, Math.floor(maxConcurrency / shardsAtOnce)));
  return { shardSize, shardsAtOnce, concurrencyPerExecution, shardCount };
}

/** A shard's child workflow ID. `//` keeps it apart from child-workflow targets, `<cid>/<target>`. */
export function shardWorkflowId(cid: string, index: number): string {
  return `${cid}//shard-${index + 1}`;
}
