/**
 * A fan-out whose targets fit one execution: they run here, in the fan-out's own history, at most `targetsAtOnce`
 * at a time.
 */
import { isCancellation } from '@temporalio/workflow';
import type { CancellationScope } from '@temporalio/workflow';
import type { CallbackOutcome, FanoutCounts, FanoutWorkflowInput, LatencyStats, StopReason } from '../contracts';
import { countsMemoInterval } from '../constants';
import { hedgeBudget } from './hedge-budget';
import { latencyFigures, latencyLines } from './latency';
import { circuitLines, circuitsOf, targetStates, windowLines, windowsOf } from './progress';
import { detailsTable } from './records';
import type { ShardPlan } from './sharding';
import { targetsAtOnceFor } from './sharding';
import { TargetRunner } from './target-runner';
import type { RunHost, RunSettings, TargetsRun } from './targets-run';

export class SingleRun implements TargetsRun {
  private readonly runner: TargetRunner;

  constructor(
    input: FanoutWorkflowInput,
    reqTsUtc: string,
    private readonly plan: ShardPlan,
    private readonly host: RunHost,
  ) {
    const { cid, source, pattern, targets, onTarget, defaults, redrive, circuitBreaker, adaptiveConcurrency, hedging } =
      input;
    this.runner = new TargetRunner(
      {
        cid,
        source,
        pattern,
        offset: 0,
        targets,
        onTarget,
        defaults,
        reqTsUtc,
        targetsAtOnce: plan.targetsAtOnce,
        ...(redrive ? { redrive: redrive.number } : {}),
        ...(circuitBreaker ? { circuitBreaker } : {}),
        ...(adaptiveConcurrency ? { adaptiveConcurrency } : {}),
        ...(hedging ? { hedging: { ...hedging, max: hedgeBudget(hedging, targets.length) } } : {}),
      },
      (state) => {
        if (state === 'failed') host.failed(this.runner.counts.failed);
        if (state === 'ok') host.succeeded(this.runner.counts.ok);
        if (state !== 'running') this.countsAtEachTenth();
        host.changed();
      },
    );
  }

  async runTargets(scope: CancellationScope): Promise<boolean> {
    try {
      await scope.run(() => this.runner.runTargets());
    } catch (error) {
      if (!isCancellation(error)) throw error;
    }
    this.runner.markNotStarted();
    return this.runner.counts.cancelled > 0;
  }

  saveRecords(): Promise<void> {
    return this.runner.saveRecords();
  }

  finished(): Promise<void> {
    return this.runner.callbacksSettled();
  }

  async control({ maxConcurrency, paused }: RunSettings): Promise<void> {
    this.runner.control({ targetsAtOnce: targetsAtOnceFor(this.plan, maxConcurrency, 1), paused });
  }

  stopped(reason: StopReason): void {
    this.runner.cancelledBy = `the fan-out stopped (${reason.message})`;
  }

  counts(): FanoutCounts {
    return this.runner.totals();
  }

  progress(): ReturnType<TargetsRun['progress']> {
    return {
      states: this.runner.counts,
      more: {
        ...targetStates(this.runner.states),
        latency: latencyFigures(this.runner.latency),
        ...circuitsOf(this.runner.circuits()),
        ...windowsOf(this.runner.windows()),
      },
    };
  }

  details(title: string): string {
    return [
      detailsTable(this.runner.states, this.runner.counts, title),
      ...circuitLines(this.runner.circuits()),
      ...windowLines(this.runner.windows()),
      ...latencyLines(this.runner.latency),
    ].join('\n');
  }

  latency(): LatencyStats {
    return this.runner.latency;
  }

  outcomes(): CallbackOutcome[] {
    return this.runner.outcomes;
  }

  /** The memo's counts at every tenth of the targets settled (the last is the fan-out's outcome). */
  private countsAtEachTenth(): void {
    const { ok, failed, cancelled } = this.runner.counts;
    const total = this.runner.states.size;
    const settled = ok + failed + cancelled;
    if (settled < total && settled % countsMemoInterval(total) === 0) this.host.saveCounts();
  }
}
