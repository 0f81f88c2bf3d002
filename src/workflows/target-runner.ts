/**
 * Runs one execution's share of a fan-out: a slice of targets (all of them when the fan-out fits one execution,
 * else one shard's), at most `targetsAtOnce` at a time; as each settles, its on-target callbacks start on their own.
 * Records of targets that succeeded are stored by the service activity itself; the ones this code builds (failed,
 * timed out, cancelled, child-workflow targets) are stored in batches by `saveRecords` once all targets settled.
 */
import { CancellationScope, CancelledFailure, isCancellation } from '@temporalio/workflow';
import type {
  CallbackInput,
  CallbackOutcome,
  CallbackRef,
  Defaults,
  FanoutCounts,
  PlannedTarget,
  StoredRecord,
  TargetRecord,
  TargetState,
} from '../contracts';
import { MAX_OUTCOMES_KEPT, RECORDS_PER_SAVE, callbackName } from '../constants';
import type { StateCounts } from './records';
import { LanePool } from './lane-pool';
import { targetRecord } from './records';
import type { TargetSuccess } from './steps';
import { CallbackIds, runCallback, runTarget, saveRecords } from './steps';

export interface RunnerContext {
  cid: string;
  source: string;
  pattern: 'fanout' | 'parallel';
  offset: number;
  targets: PlannedTarget[];
  onTarget: CallbackRef[];
  defaults: Defaults;
  reqTsUtc: string;
  targetsAtOnce: number;
  redrive?: number;
}

export class TargetRunner {
  readonly states = new Map<string, TargetState>();
  /** Kept in step with `states`, so wide slices do not recount every target at every settle. */
  readonly counts: StateCounts = { pending: 0, running: 0, ok: 0, failed: 0, cancelled: 0 };
  readonly outcomes: CallbackOutcome[] = [];
  private callbacksRun = 0;
  private callbacksFailed = 0;
  private readonly callbacksInFlight: Promise<void>[] = [];
  private readonly unsaved: [number, StoredRecord][] = [];
  private readonly callbackIds = new CallbackIds();
  /** One scope for every on-target callback: they run to the end even when the fan-out is cancelled. */
  private readonly callbackScope = new CancellationScope({ cancellable: false });
  /** Takes the targets in order; a cancelled scope stops it taking more (markNotStarted records the rest). */
  private readonly pool: LanePool;
  /** What cancelled the targets, for their records: the fan-out's own stop says why it stopped. */
  cancelledBy = 'the fan-out was cancelled';

  constructor(
    private readonly ctx: RunnerContext,
    /** Called as a target starts running and as it settles, with its new state. */
    private readonly onChange: (state: TargetState) => void = () => undefined,
  ) {
    for (const target of ctx.targets) this.setState(target.name, 'pending');
    this.pool = new LanePool({
      size: ctx.targets.length,
      atOnce: ctx.targetsAtOnce,
      take: (position) => this.runOne(ctx.targets[position], position),
      whenCancelled: 'stop',
    });
  }

  /** Runs the targets in the current scope until all have settled, or it is cancelled and those running have. */
  runTargets(): Promise<void> {
    return this.pool.run();
  }

  /** Lowering `targetsAtOnce` or pausing lets running targets finish; raising it starts more. */
  control({ targetsAtOnce, paused }: { targetsAtOnce: number; paused: boolean }): void {
    this.pool.paused = paused;
    this.pool.setAtOnce(targetsAtOnce);
  }

  /** Targets that never started are cancelled: recorded as such, and their callbacks still run. */
  markNotStarted(): number {
    let marked = 0;
    this.ctx.targets.forEach((target, position) => {
      if (this.states.get(target.name) !== 'pending') return;
      const error = new CancelledFailure('cancelled before this target started');
      this.settle(target, position, { ok: false, error }, 'cancelled');
      marked++;
    });
    return marked;
  }

  /** Stores the records built here, in batches; the records store then holds every target of the slice. */
  async saveRecords(): Promise<void> {
    while (this.unsaved.length) {
      const batch = this.unsaved.splice(0, RECORDS_PER_SAVE);
      await saveRecords(this.ctx.cid, batch);
    }
  }

  async callbacksSettled(): Promise<void> {
    await Promise.all(this.callbacksInFlight);
  }

  totals(): FanoutCounts {
    return {
      total: this.ctx.targets.length,
      ok: this.counts.ok,
      failed: this.counts.failed,
      cancelled: this.counts.cancelled,
      callbacks: this.callbacksRun,
      callbacksFailed: this.callbacksFailed,
    };
  }

  /** Starts the target and settles it when it ends. Chained rather than async, for fewer promises (see `runTarget`). */
  private runOne(target: PlannedTarget, position: number): Promise<void> {
    this.setState(target.name, 'running');
    this.onChange('running');
    const { cid, source, defaults, reqTsUtc, redrive } = this.ctx;
    const index = this.indexOf(target, position);
    const failed = (error: unknown) =>
      this.settle(target, position, { ok: false, error }, isCancellation(error) ? 'cancelled' : 'failed');
    return runTarget(
      { request: target.request, cid, source, target: target.name, index, reqTsUtc, ...(redrive ? { redrive } : {}) },
      target,
      defaults,
    ).then((outcome) => {
      try {
        this.settle(target, position, outcome, 'ok');
      } catch (error) {
        failed(error);
      }
    }, failed);
  }

  /** Records the outcome and starts the on-target callbacks without waiting for them. */
  private settle(
    target: PlannedTarget,
    position: number,
    outcome: TargetSuccess | { ok: false; error: unknown },
    state: TargetState,
  ): void {
    const { cid, source, onTarget, pattern, defaults, reqTsUtc, redrive } = this.ctx;
    const index = this.indexOf(target, position);
    let record: TargetRecord | undefined;
    if (outcome.ok && outcome.stored) {
      record = outcome.record; // stored by the activity; inline only when small
    } else {
      record = targetRecord({ source, cid, target: target.name, reqTsUtc }, outcome, Date.now(), this.cancelledBy);
      this.unsaved.push([index, { state, record, ...(redrive ? { redrive } : {}) }]);
    }
    this.setState(target.name, state);
    this.onChange(state);
    const input: CallbackInput = record ? { record } : { stored: { cid, index } };
    const channel = pattern === 'parallel' ? 'PARALLEL_EXEC_ON_TARGET' : 'FANOUT_ON_TARGET';
    for (const ref of onTarget) {
      const activityId = this.callbackIds.next(`on-target/${target.name}/${callbackName(ref)}`);
      this.callbacksInFlight.push(
        runCallback(
          ref,
          input,
          { cid, channel, target: target.name, activityId, redrive },
          defaults,
          this.callbackScope,
        ).then((result) => this.recordCallback(result)),
      );
    }
  }

  /** Every outcome is counted; the first MAX_OUTCOMES_KEPT are listed, and failures up to as many again. */
  recordCallback(outcome: CallbackOutcome): void {
    this.callbacksRun++;
    if (!outcome.ok) this.callbacksFailed++;
    if (this.outcomes.length < MAX_OUTCOMES_KEPT || (!outcome.ok && this.outcomes.length < 2 * MAX_OUTCOMES_KEPT))
      this.outcomes.push(outcome);
  }

  /** The target's position in the whole fan-out: its record's key (a redrive's targets carry their own). */
  private indexOf(target: PlannedTarget, position: number): number {
    return target.index ?? this.ctx.offset + position;
  }

  private setState(target: string, state: TargetState): void {
    const previous = this.states.get(target);
    if (previous) this.counts[previous]--;
    this.counts[state]++;
    this.states.set(target, state);
  }
}
