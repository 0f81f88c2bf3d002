/**
 * A fan-out too wide for one execution: its targets run as shards, child workflows `<cid>//shard-<n>` of
 * `fanoutShard`, `shardsAtOnce` side by side, each given an even share of `maxConcurrency` as its `targetsAtOnce`.
 * Once the fan-out is cancelled, the shards not started yet still start, cancelled at once, so that their targets
 * are recorded and their callbacks run within their own histories.
 */
import {
  CancellationScope,
  CancelledFailure,
  ParentClosePolicy,
  condition,
  executeChild,
  getExternalWorkflowHandle,
  isCancellation,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type {
  Hedging,
  CallbackOutcome,
  FanoutCounts,
  LatencyStats,
  FanoutWorkflowInput,
  ShardResult,
  ShardWorkflowInput,
  StopReason,
} from '../contracts';
import { shardControlSignal, shardSettledSignal, shardSucceededSignal, targetFailedSignal } from './definitions';
import { LanePool } from './lane-pool';
import { hedgeBudget, hedgeShare } from './hedge-budget';
import { latencyFigures, mergeLatency } from './latency';
import { countsLine } from './records';
import { fanoutShard } from './shard';
import type { ShardPlan } from './sharding';
import { shardWorkflowId, shardsAtOnceFor, targetsAtOnceFor } from './sharding';
import type { RunHost, RunSettings, TargetsRun } from './targets-run';

type ShardState = 'pending' | 'running' | 'settled' | 'done';

export class ShardedRun implements TargetsRun {
  readonly shards: number;
  private readonly states: ShardState[];
  private readonly results: ShardResult[] = [];
  private readonly pool: LanePool;
  private done?: Promise<void>;
  private settings: RunSettings;
  /** Each shard's share of the concurrency, as the running shards were last told and the next ones start with. */
  private targetsAtOnce: number;
  /** Failed targets the shards reported (signalled only under a failure policy or a quorum). */
  private failures = 0;
  /** Each shard's successes as it last reported them (signalled only under a quorum). */
  private readonly successes: number[] = [];

  constructor(
    private readonly input: FanoutWorkflowInput,
    private readonly reqTsUtc: string,
    private readonly plan: ShardPlan,
    private readonly host: RunHost,
    /** What the shards report: each failed target (under a failure policy or a quorum), successes (a quorum). */
    private readonly report: { failures: boolean; quorum: boolean },
  ) {
    this.shards = plan.shardCount;
    this.states = Array.from({ length: plan.shardCount }, (): ShardState => 'pending');
    this.settings = { maxConcurrency: input.maxConcurrency, paused: false };
    this.targetsAtOnce = plan.targetsAtOnce;
    this.pool = new LanePool({
      size: plan.shardCount,
      atOnce: plan.shardsAtOnce,
      take: (index) => this.runShard(index),
      whenCancelled: 'take-rest',
    });
    setHandler(shardSettledSignal, (index) => {
      if (this.states[index] === 'running') this.states[index] = 'settled';
    });
    setHandler(targetFailedSignal, () => host.failed(++this.failures));
    setHandler(shardSucceededSignal, (index, ok) => {
      this.successes[index] = Math.max(this.successes[index] ?? 0, ok);
      host.succeeded(this.successes.reduce((sum, n) => sum + (n ?? 0), 0));
    });
  }

  async runTargets(scope: CancellationScope): Promise<boolean> {
    this.done = scope.run(() => this.pool.run());
    const settled = () => this.states.every((state) => state === 'settled' || state === 'done');
    try {
      await condition(settled);
    } catch (error) {
      if (!isCancellation(error)) throw error;
      await CancellationScope.nonCancellable(() => condition(settled));
    }
    return scope.consideredCancelled;
  }

  /** Each shard stored its records before it settled. */
  async saveRecords(): Promise<void> {}

  async finished(): Promise<void> {
    await this.done;
  }

  /**
   * More shards side by side when raised; lowered, the running shards share the lower concurrency until they finish
   * (then the others get theirs back). Pausing also holds back the shards not started yet.
   */
  async control(settings: RunSettings): Promise<void> {
    this.settings = settings;
    this.pool.paused = settings.paused;
    // The new share first: a shard the pool starts at once starts with it.
    const told = this.share();
    this.pool.setAtOnce(shardsAtOnceFor(this.plan, settings.maxConcurrency));
    await told;
  }

  stopped(_reason: StopReason): void {
    // The shards are cancelled with the fan-out's scope; each records its own targets as cancelled.
  }

  counts(): FanoutCounts {
    const sum: FanoutCounts = { total: 0, ok: 0, failed: 0, cancelled: 0, callbacks: 0, callbacksFailed: 0 };
    for (const { counts } of this.finishedShards())
      for (const key of Object.keys(sum) as (keyof FanoutCounts)[]) sum[key] += counts[key];
    return sum;
  }

  /** Finished shards are counted here; the client adds the running shards' own progress. */
  progress(counts: FanoutCounts): ReturnType<TargetsRun['progress']> {
    const { cid, targets } = this.input;
    let pending = 0;
    const runningShards: string[] = [];
    this.states.forEach((state, index) => {
      const size = Math.min(this.plan.shardSize, targets.length - index * this.plan.shardSize);
      if (state === 'pending') pending += size;
      if (state === 'running' || state === 'settled') runningShards.push(shardWorkflowId(cid, index));
    });
    const { ok, failed, cancelled } = counts;
    return {
      states: { ok, failed, cancelled, running: 0, pending },
      more: { runningShards, latency: latencyFigures(this.latency()) },
    };
  }

  details(title: string): string {
    const running = this.states.filter((s) => s === 'running' || s === 'settled').length;
    const done = this.states.filter((s) => s === 'done').length;
    const { shardCount, shardSize } = this.plan;
    return [
      `**${title}** — ${shardCount} shards of up to ${shardSize} targets: ${done} done, ${running} running`,
      '',
      `finished shards: ${countsLine(this.counts())}`,
    ].join('\n');
  }

  outcomes(): CallbackOutcome[] {
    return this.finishedShards().flatMap((result) => result.callbacks);
  }

  latency(): LatencyStats {
    const merged: LatencyStats = {};
    for (const result of this.finishedShards()) mergeLatency(merged, result.latency);
    return merged;
  }

  /** A slice's hedging: its share of the fan-out's hedges. */
  private hedgingOf(offset: number, width: number): Hedging {
    const hedging = this.input.hedging!;
    const total = this.input.targets.length;
    return { ...hedging, max: hedgeShare(hedgeBudget(hedging, total), total, offset, width) };
  }

  /** Shards finish in any order: results has holes until all are done. */
  private finishedShards(): ShardResult[] {
    return this.results.filter((result): result is ShardResult => result !== undefined);
  }

  /**
   * Gives each shard its share of the concurrency: running shards and the ones to start split it evenly, so that
   * together they never have more in flight than `maxConcurrency`. The share is set at once (shards started from
   * then on get it); the running shards are told by signal. With `onlyIfChanged`, they are told only a new share
   * (their pause is as they were last told).
   */
  private async share({ onlyIfChanged = false } = {}): Promise<void> {
    const running = this.states.filter((state) => state === 'running').length;
    const shards = Math.max(shardsAtOnceFor(this.plan, this.settings.maxConcurrency), running);
    const share = targetsAtOnceFor(this.plan, this.settings.maxConcurrency, shards);
    if (onlyIfChanged && share === this.targetsAtOnce) return;
    this.targetsAtOnce = share;
    const control = { concurrency: share, paused: this.settings.paused };
    await Promise.all(
      this.states.map(async (state, index) => {
        if (state !== 'running') return;
        // A shard that has just finished no longer listens: nothing to tell it.
        await getExternalWorkflowHandle(shardWorkflowId(this.input.cid, index))
          .signal(shardControlSignal, control)
          .catch(() => undefined);
      }),
    );
  }

  private async runShard(index: number): Promise<void> {
    const { cid, source, pattern, targets, onTarget, defaults, redrive } = this.input;
    const { shardCount, shardSize } = this.plan;
    const offset = index * shardSize;
    const slice = targets.slice(offset, Math.min(offset + shardSize, targets.length));
    const shard: Omit<ShardWorkflowInput, 'startCancelled'> = {
      cid,
      source,
      pattern,
      offset,
      targets: slice,
      onTarget,
      // The shard's targets at once, under the name its input has always given it.
      maxConcurrency: this.targetsAtOnce,
      defaults,
      reqTsUtc: this.reqTsUtc,
      ...(redrive ? { redrive: redrive.number } : {}),
      ...(this.input.circuitBreaker ? { circuitBreaker: this.input.circuitBreaker } : {}),
      ...(this.input.adaptiveConcurrency ? { adaptiveConcurrency: this.input.adaptiveConcurrency } : {}),
      ...(this.input.hedging ? { hedging: this.hedgingOf(offset, slice.length) } : {}),
      shardIndex: index,
      ...(this.report.failures ? { reportFailures: true } : {}),
      // Every hundredth of the shard: the fan-out learns of its quorum late by at most that much a shard.
      ...(this.report.quorum ? { reportSuccessesEvery: Math.max(1, Math.floor(slice.length / 100)) } : {}),
      ...(this.settings.paused ? { startPaused: true } : {}),
    };
    this.states[index] = 'running';
    this.host.changed();
    const start = (startCancelled: boolean) =>
      executeChild(fanoutShard, {
        workflowId: shardWorkflowId(cid, index),
        args: [{ ...shard, startCancelled }],
        taskQueue: workflowInfo().taskQueue,
        parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
        staticSummary: `shard ${index + 1} of ${shardCount} of fan-out ${cid}: targets ${offset + 1}–${offset + slice.length}`,
      });
    // A cancelled fan-out asks its running shards to stop (they record what they have and finish normally);
    // a shard not started by then starts cancelled, outside the cancelled scope.
    if (CancellationScope.current().consideredCancelled) {
      this.results[index] = await CancellationScope.nonCancellable(() => start(true));
    } else {
      try {
        this.results[index] = await start(false);
      } catch (error) {
        if (!(error instanceof CancelledFailure)) throw error; // cancelled before the child was started
        this.results[index] = await CancellationScope.nonCancellable(() => start(true));
      }
    }
    this.states[index] = 'done';
    this.host.saveCounts();
    this.host.changed();
    // After a lowered concurrency, the shards still running may have a larger share now.
    if (!CancellationScope.current().consideredCancelled) await this.share({ onlyIfChanged: true });
  }
}
