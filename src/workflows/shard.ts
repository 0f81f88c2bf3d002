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
import {
  progressQuery,
  shardControlSignal,
  shardSettledSignal,
  shardSucceededSignal,
  targetFailedSignal,
} from './definitions';
import { circuitsOf, progressOf, targetStates, windowsOf } from './progress';
import { detailsTable } from './records';
import { TargetRunner } from './target-runner';

export async function fanoutShard(input: ShardWorkflowInput): Promise<ShardResult> {
  let phase: FanoutProgress['state'] = 'running';
  const title = () => `shard ${input.shardIndex + 1} of fan-out ${input.cid} ${phase}`;
  const parent = workflowInfo().parent;
  const fanout = parent && getExternalWorkflowHandle(parent.workflowId, parent.runId);
  // The shard's input names its share of the fan-out's concurrency `maxConcurrency`: its targets at once.
  const runner: TargetRunner = new TargetRunner({ ...input, targetsAtOnce: input.maxConcurrency }, (state) => {
    // The fan-out counts failures across shards for its failure policy; it may have finished (or stopped) by
    // the time a late signal arrives, which is no concern of the shard's.
    if (state === 'failed' && input.reportFailures && fanout)
      fanout.signal(targetFailedSignal, input.shardIndex).catch(() => undefined);
    const every = input.reportSuccessesEvery;
    const { ok } = runner.counts;
    if (state === 'ok' && every && fanout && ok % every === 0)
      fanout.signal(shardSucceededSignal, input.shardIndex, ok).catch(() => undefined);
    setCurrentDetails(detailsTable(runner.states, runner.counts, title()));
  });
  runner.control({ targetsAtOnce: input.maxConcurrency, paused: input.startPaused ?? false });
  setHandler(shardControlSignal, ({ concurrency, paused }) => runner.control({ targetsAtOnce: concurrency, paused }));
  setHandler(progressQuery, () => {
    const { cid, source, pattern, targets } = input;
    return progressOf({ cid, source, pattern, state: phase, total: targets.length }, runner.counts, {
      ...targetStates(runner.states),
      ...circuitsOf(runner.circuits()),
      ...windowsOf(runner.windows()),
    });
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
    return { counts: runner.totals(), callbacks: runner.outcomes, latency: runner.latency };
  });
}
