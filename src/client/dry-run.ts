/**
 * A dry run's answer: from a validated fan-out input (planFanout's), how it would run, the history it would leave
 * per execution and the Temporal Cloud actions it would cost, nothing started. The shape of the run comes from the
 * workflows' own planning functions (workflows/sharding: pure, they load nothing but constants), so the plan is what
 * the workflow will do. Every count assumes first attempts that succeed; the terms are counted from what the
 * workflow code records (workflows/fanout, sharded-run, shard, target-runner, steps).
 */
import type { FanoutPlan, FanoutWorkflowInput, HistoryEstimate, PlannedTarget } from '../contracts';
import { RECORDS_PER_SAVE, countsMemoInterval } from '../constants';
import { batchWidthOf, planUnits } from '../workflows/batch-plan';
import { hedgeBudget } from '../workflows/hedge-budget';
import { FANOUT_RUN_PATCHES } from '../workflows/patches';
import { planShards } from '../workflows/sharding';

/** Temporal's warning threshold for one execution's history (workflows/sharding keeps shards well under it). */
const HISTORY_WARN_EVENTS = 10_240;
/** An activity, a child workflow: scheduled (initiated), started, completed (closed). */
const EVENTS_PER_ACTIVITY = 3;
/** A local activity: one MarkerRecorded, written with its workflow task's completion. */
const EVENTS_PER_LOCAL = 1;
/** A workflow task: scheduled, started, completed. */
const EVENTS_PER_TASK = 3;
/**
 * Workflow tasks every execution needs whatever its width: the first (it schedules the first targets), the one
 * in which the last target settles (it saves records, starts the final callbacks or signals the fan-out) and the
 * last (it completes the run). Others come as completions arrive: how many arrive per task depends on the worker's
 * speed, so `expected` counts these and `atMost` one per completion.
 */
const FIXED_TASKS = 3;

interface Slice {
  activities: number;
  local: number;
  childWorkflows: number;
  /** Targets run in batches: the batch runs their callbacks too. */
  batched: number;
  batches: number;
  localBatches: number;
}

function sliceOf(targets: PlannedTarget[]): Slice {
  const slice: Slice = { activities: 0, local: 0, childWorkflows: 0, batched: 0, batches: 0, localBatches: 0 };
  for (const unit of planUnits(targets)) {
    const first = targets[unit.start];
    if (unit.batch) {
      slice.batched += unit.end - unit.start;
      if (first.local) slice.localBatches++;
      else slice.batches++;
    } else if (first.kind === 'workflow') slice.childWorkflows++;
    else if (first.local) slice.local++;
    else slice.activities++;
  }
  return slice;
}

/** Records the workflow builds itself (child-workflow targets' here: activities store their own) and saves. */
const saveBatches = (slice: Slice) => Math.ceil(slice.childWorkflows / RECORDS_PER_SAVE);

/**
 * Events of the targets of one execution and their on-target callbacks, and how many of them may wake the workflow
 * (each completion of an activity or child workflow, each local activity, each callback).
 */
function targetEvents(slice: Slice, onTarget: number): { events: number; wakeUps: number } {
  const targets = slice.activities + slice.local + slice.childWorkflows;
  const callbacks = targets * onTarget;
  const batches = slice.batches + slice.localBatches;
  const events =
    EVENTS_PER_ACTIVITY * (slice.activities + slice.childWorkflows + slice.batches) +
    EVENTS_PER_LOCAL * (slice.local + slice.localBatches) +
    EVENTS_PER_ACTIVITY * callbacks +
    EVENTS_PER_ACTIVITY * saveBatches(slice);
  // A child workflow wakes its parent when it starts and when it closes.
  // Batches also wake it with their workers' progress signals, one event each: not counted (how many depends on
  // how long the batches run).
  return { events, wakeUps: targets + batches + slice.childWorkflows + callbacks + saveBatches(slice) };
}

function estimate(recorded: number, wakeUps: number): HistoryEstimate {
  return {
    expected: recorded + EVENTS_PER_TASK * FIXED_TASKS,
    atMost: recorded + EVENTS_PER_TASK * (FIXED_TASKS + wakeUps),
  };
}

/** The single run's memo of counts at every tenth of the targets settled (workflows/single-run). */
function tenthMemos(targets: number): number {
  return Math.floor((targets - 1) / countsMemoInterval(targets));
}

export function dryRunPlan(input: FanoutWorkflowInput, cidGiven: boolean): FanoutPlan {
  const { targets, onTarget, onFinal, maxConcurrency, deadline } = input;
  const shape = planShards(targets.length, onTarget.length, maxConcurrency, batchWidthOf(targets));
  const sharded = shape.shardCount > 1;
  const shards = sharded ? shape.shardCount : 0;
  const all = sliceOf(targets);
  const finals = onFinal.length;
  const timers = deadline === undefined ? 0 : 1;
  const written = input.writeResults ? 1 : 0;

  // The fan-out execution: started and completed; the catalog check's marker; its patches' markers; the FanoutState
  // upserts of 'finalizing' and 'completed'; the memo of counts at the end; each final callback; the deadline's
  // timer, started and cancelled; with `writeResults`, its activity and the workflow task its completion wakes (the
  // final callbacks start after it).
  const own =
    2 +
    1 +
    FANOUT_RUN_PATCHES.length +
    2 +
    1 +
    EVENTS_PER_ACTIVITY * finals +
    2 * timers +
    written * (EVENTS_PER_ACTIVITY + EVENTS_PER_TASK);
  // Each execution's targets: all of them, or each shard's slice, as workflows/sharded-run cuts them.
  const slices = sharded
    ? Array.from({ length: shards }, (_, i) => sliceOf(targets.slice(i * shape.shardSize, (i + 1) * shape.shardSize)))
    : [all];
  let fanout: HistoryEstimate;
  let largestShard: HistoryEstimate | undefined;
  if (!sharded) {
    const { events, wakeUps } = targetEvents(all, onTarget.length);
    fanout = estimate(own + tenthMemos(targets.length) + events, wakeUps + finals);
  } else {
    // Per shard: a child workflow (initiated, started, completed), its 'settled' signal, the memo as it finishes;
    // and a workflow task of its own as it settles, for shards take seconds and settle apart (at most, one more
    // as it starts and as it closes).
    const perShard = EVENTS_PER_ACTIVITY + 1 + 1 + EVENTS_PER_TASK;
    fanout = estimate(own + shards * perShard, shards * 2 + finals);
    for (const slice of slices) {
      const { events, wakeUps } = targetEvents(slice, onTarget.length);
      // Started and completed, and the 'settled' signal it sends its fan-out (initiated, signalled).
      const shard = estimate(2 + events + 2, wakeUps + 1);
      if (!largestShard || shard.expected > largestShard.expected) largestShard = shard;
    }
  }

  // Temporal Cloud's actions (docs.temporal.io/cloud/actions): a workflow started; a child workflow, two (its
  // start and its execution); an activity started (each retry one more: not counted); local activities, one per
  // workflow task that records markers (at most one per local target, and the catalog check's); a signal sent;
  // an UpsertSearchAttributes command (the attributes given at start are free); a timer. Memo upserts and
  // workflow tasks are not billed.
  const workflowStarts = 1 + 2 * shards + 2 * all.childWorkflows;
  const saves = slices.reduce((sum, slice) => sum + saveBatches(slice), 0);
  const activities =
    all.activities + all.batches + (targets.length - all.batched) * onTarget.length + finals + saves + written;
  const localActivities = 1 + all.local + all.localBatches;
  const signals = shards;
  const searchAttributeUpserts = 2;
  return {
    valid: true,
    pattern: input.pattern,
    ...(cidGiven ? { cid: input.cid } : {}),
    targets: {
      total: targets.length,
      activities: all.activities,
      local: all.local,
      childWorkflows: all.childWorkflows,
      batched: all.batched,
      batches: all.batches + all.localBatches,
    },
    run: {
      mode: sharded ? 'sharded' : 'single',
      executions: 1 + shards,
      shards,
      targetsPerShard: Math.min(shape.shardSize, targets.length),
      shardsAtOnce: shape.shardsAtOnce,
      // The workflow's window, which an execution with fewer targets never fills.
      targetsAtOnce: Math.min(shape.targetsAtOnce, shape.shardSize, targets.length),
      maxConcurrency,
    },
    history: { fanout, ...(largestShard ? { largestShard } : {}), limit: HISTORY_WARN_EVENTS },
    actions: {
      total: workflowStarts + activities + localActivities + signals + searchAttributeUpserts + timers,
      workflowStarts,
      activities,
      localActivities,
      signals,
      searchAttributeUpserts,
      timers,
      // Hedges start only for stragglers: a ceiling, apart from the total. Only targets run one per activity.
      ...(input.hedging && all.activities
        ? { hedgesAtMost: Math.min(all.activities, hedgeBudget(input.hedging, targets.length)) }
        : {}),
    },
  };
}
