/**
 * One shard of a wide fan-out: a child workflow `<cid>//shard-<n>` that runs a slice of the targets with their
 * on-target callbacks, within its own history. When its targets have settled and their records are stored it
 * tells the fan-out (so final callbacks need not wait for on-target callbacks still retrying), then waits for its
 * callbacks and returns counts. Cancelled, it cancels its running targets, marks the rest, and still finishes.
 */
import {
  CancellationScope,
  getExternalWorkflowHandle,
  isCancellation,
  setCurrentDetails,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { FanoutProgress, ShardResult, ShardWorkflowInput } from '../contracts';
import { PROGRESS_TARGETS_LIMIT } from '../constants';
import { progressQuery, shardControlSignal, shardSettledSignal, targetFailedSignal } from './definitions';
import { detailsTable } from './records';
import { targetCancellationType } from './steps';
import { TargetRunner } from './target-runner';

export async function fanoutShard(input: ShardWorkflowInput): Promise<ShardResult> {
  let phase: FanoutProgress['state'] = 'running';
  const title = () => `shard ${input.shardIndex + 1} of fan-out ${input.cid} ${phase}`;
  const parent = workflowInfo().parent;
  const fanout = parent && getExternalWorkflowHandle(parent.workflowId, parent.runId);
  const runner: TargetRunner = new TargetRunner(
    { ...input, concurrency: input.maxConcurrency, cancellationType: targetCancellationType() },
    (state) => {
      // The fan-out counts failures across shards for its failure policy; it may have finished (or stopped) by
      // the time a late signal arrives, which is no concern of the shard's.
      if (state === 'failed' && input.reportFailures && fanout)
        fanout.signal(targetFailedSignal, input.shardIndex).catch(() => undefined);
      setCurrentDetails(detailsTable(runner.states, runner.counts, title()));
    },
  );
  runner.paused = input.startPaused ?? false;
  setHandler(shardControlSignal, (control) => runner.control(control));
  setHandler(progressQuery, (): FanoutProgress => {
    const { counts, states } = runner;
    return {
      cid: input.cid,
      source: input.source,
      pattern: input.pattern,
      state: phase,
      total: input.targets.length,
      settled: counts.ok + counts.failed + counts.cancelled,
      ...counts,
      ...(input.targets.length <= PROGRESS_TARGETS_LIMIT ? { targets: Object.fromEntries(states) } : {}),
    };
  });

  if (!input.startCancelled) {
    try {
      await CancellationScope.cancellable(() => runner.runTargets());
    } catch (error) {
      if (!isCancellation(error)) throw error;
    }
  }
  runner.markNotStarted();
  return CancellationScope.nonCancellable(async () => {
    await runner.saveRecords();
    phase = 'finalizing';
    if (fanout) await fanout.signal(shardSettledSignal, input.shardIndex);
    await runner.callbacksSettled();
    phase = CancellationScope.current().consideredCancelled || input.startCancelled ? 'cancelled' : 'completed';
    setCurrentDetails(detailsTable(runner.states, runner.counts, title()));
    return { counts: runner.totals(), callbacks: runner.outcomes };
  });
}
