/**
 * Runs one execution's share of a fan-out: a slice of targets (all of them when the fan-out fits one execution,
 * else one shard's), at most `targetsAtOnce` at a time; as each settles, its on-target callbacks start on their own.
 * Records of targets that succeeded are stored by the service activity itself; the ones this code builds (failed,
 * timed out, cancelled, child-workflow targets) are stored in batches by `saveRecords` once all targets settled.
 * Batched targets (see batches) run a batch at a time: the batch stores their records and runs their callbacks,
 * and tells this execution as they settle; the records this code decides for them (cancelled) are stored as
 * others it builds, and their callbacks run in one `batchCallbacks` activity.
 */
import { CancellationScope, CancelledFailure, isCancellation, setHandler } from '@temporalio/workflow';
import type {
  BatchCallbacks,
  AdaptiveConcurrency,
  BatchResult,
  CallbackInput,
  CircuitBreaker,
  CircuitState,
  Hedging,
  LatencyStats,
  CallbackOutcome,
  CallbackRef,
  Defaults,
  FanoutCounts,
  PlannedTarget,
  StoredRecord,
  OutcomesListed,
  TargetRecord,
  TargetState,
} from '../contracts';
import { MAX_OUTCOMES_KEPT, RECORDS_PER_SAVE, callbackName } from '../constants';
import type { StateCounts } from './records';
import type { Unit } from './batch-plan';
import { planUnits } from './batch-plan';
import { batchActivityOptions, batchCallbacks, runBatch } from './batches';
import { batchProgressSignal } from './definitions';
import { Hedges, hedgeable } from './hedging';
import { LanePool } from './lane-pool';
import { ServicePools } from './service-pools';
import { recordLatency } from './latency';
import { countSettled } from './metrics';
import { targetRecord } from './records';
import type { TargetSuccess } from './steps';
import { CallbackIds, runCallback, runTarget, saveRecords } from './steps';

/** A batched target this execution records itself, and why. */
interface Decided {
  position: number;
  error: unknown;
}

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
  circuitBreaker?: CircuitBreaker;
  adaptiveConcurrency?: AdaptiveConcurrency;
  /** With `max` the hedges this execution may start (its share of the fan-out's). */
  hedging?: Hedging;
}

/** What runs the items: one lane pool, or with a circuit breaker one per service (see service-pools). */
interface Pool {
  paused: boolean;
  setAtOnce(atOnce: number): void;
  run(): Promise<void>;
}

export class TargetRunner {
  readonly states = new Map<string, TargetState>();
  /** Kept in step with `states`, so wide slices do not recount every target at every settle. */
  readonly counts: StateCounts = { pending: 0, running: 0, ok: 0, failed: 0, cancelled: 0 };
  readonly outcomes: CallbackOutcome[] = [];
  /** How long settled targets took, per service. */
  readonly latency: LatencyStats = {};
  /** When each target running now started, by position (the workflow's clock). */
  private readonly startedAt = new Map<number, number>();
  private callbacksRun = 0;
  private callbacksFailed = 0;
  private readonly callbacksInFlight: Promise<void>[] = [];
  private readonly unsaved: [number, StoredRecord][] = [];
  private readonly callbackIds = new CallbackIds();
  /** One scope for every on-target callback: they run to the end even when the fan-out is cancelled. */
  private readonly callbackScope = new CancellationScope({ cancellable: false });
  /** The pool's items: each target, or a batch of targets. */
  private readonly units: Unit[];
  /** Batches running, by their number (their unit's): progress signals name them. */
  private readonly openBatches = new Map<number, Unit>();
  /** Takes the targets in order; a cancelled scope stops it taking more (markNotStarted records the rest). */
  private readonly pool: Pool;
  /** With a circuit breaker: the pools per service, which also keep each service's circuit. */
  private readonly services?: ServicePools;
  /** With hedging: watches the targets running, and gives stragglers a second attempt. */
  private readonly hedges?: Hedges;
  /** What cancelled the targets, for their records: the fan-out's own stop says why it stopped. */
  cancelledBy = 'the fan-out was cancelled';

  constructor(
    private readonly ctx: RunnerContext,
    /** Called as a target starts running and as it settles, with its new state. */
    private readonly onChange: (state: TargetState) => void = () => undefined,
  ) {
    for (const target of ctx.targets) this.setState(target.name, 'pending');
    const { circuitBreaker, adaptiveConcurrency } = ctx;
    const perService = circuitBreaker !== undefined || adaptiveConcurrency !== undefined;
    this.units = planUnits(ctx.targets, { byService: perService });
    const width = (unit: Unit) => unit.end - unit.start;
    const take = (u: number, weight: number) => {
      const unit = this.units[u];
      return unit.batch ? this.runBatchUnit(u, unit, weight) : this.runOne(ctx.targets[unit.start], unit.start);
    };
    if (perService) {
      // A change of circuit or window is shown as the running targets' changes are.
      const shown = () => this.onChange('running');
      const options = {
        ...(circuitBreaker ? { circuitBreaker } : {}),
        ...(adaptiveConcurrency ? { adaptiveConcurrency } : {}),
      };
      this.services = new ServicePools(this.units, ctx.targets, ctx.targetsAtOnce, take, options, shown);
      this.pool = this.services;
    } else {
      this.pool = new LanePool({
        size: this.units.length,
        atOnce: ctx.targetsAtOnce,
        take,
        width: (u) => width(this.units[u]),
        minWidth: this.units.reduce((narrowest, unit) => Math.min(narrowest, width(unit)), Infinity),
        whenCancelled: 'stop',
      });
    }
    if (ctx.hedging?.max) this.hedges = new Hedges(ctx.hedging, this.latency);
    if (this.units.some((unit) => unit.batch)) {
      setHandler(batchProgressSignal, (batches) => {
        for (const { batch, states } of batches) {
          const unit = this.openBatches.get(batch);
          if (!unit) continue; // ended already: its result said it all
          for (let i = 0; i < states.length && unit.start + i < unit.end; i++) {
            if (states[i] === 'o' || states[i] === 'f')
              this.settleRecorded(unit.start + i, states[i] === 'o' ? 'ok' : 'failed');
          }
        }
      });
    }
  }

  /** Runs the targets in the current scope until all have settled, or it is cancelled and those running have. */
  runTargets(): Promise<void> {
    return this.hedges ? this.runHedged(this.hedges) : this.pool.run();
  }

  /** With hedging: the watcher runs beside the pool, and stops once every target has settled. */
  private async runHedged(hedges: Hedges): Promise<void> {
    const watching = hedges.watch();
    try {
      await this.pool.run();
    } finally {
      hedges.stop();
      await watching;
    }
  }

  /** Lowering `targetsAtOnce` or pausing lets running targets finish; raising it starts more. */
  control({ targetsAtOnce, paused }: { targetsAtOnce: number; paused: boolean }): void {
    this.pool.paused = paused;
    this.pool.setAtOnce(targetsAtOnce);
  }

  /** Targets that never started are cancelled: recorded as such, and their callbacks still run. */
  markNotStarted(): number {
    let marked = 0;
    for (const unit of this.units) {
      const decided: Decided[] = [];
      for (let position = unit.start; position < unit.end; position++) {
        const target = this.ctx.targets[position];
        if (this.states.get(target.name) !== 'pending') continue;
        const error = new CancelledFailure('cancelled before this target started');
        if (unit.batch) decided.push({ position, error });
        else this.settle(target, position, { ok: false, error }, 'cancelled');
        marked++;
      }
      if (decided.length) this.settleDecided(decided);
    }
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

  /** Services whose circuit is open or letting a probe through. */
  circuits(): Record<string, CircuitState> {
    return this.services?.openCircuits() ?? {};
  }

  /** With adaptive concurrency: each service's targets in flight allowed now. */
  windows(): Record<string, number> {
    return this.services?.windows() ?? {};
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
    this.startedAt.set(position, Date.now());
    this.onChange('running');
    const { cid, source, defaults, reqTsUtc, redrive } = this.ctx;
    const index = this.indexOf(target, position);
    const failed = (error: unknown) =>
      this.settle(target, position, { ok: false, error }, isCancellation(error) ? 'cancelled' : 'failed');
    const call = {
      request: target.request,
      cid,
      source,
      target: target.name,
      index,
      reqTsUtc,
      ...(redrive ? { redrive } : {}),
    };
    const running =
      this.hedges && hedgeable(target)
        ? this.hedges.race(position, target.service, (hedge) => runTarget(call, target, defaults, hedge))
        : runTarget(call, target, defaults);
    return running.then((outcome) => {
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
    countSettled(target.service, state);
    this.services?.settled(target.service, state, outcome.ok && outcome.stored && outcome.busy === true);
    const startedAt = this.startedAt.get(position);
    this.startedAt.delete(position);
    if (startedAt !== undefined && state !== 'cancelled')
      recordLatency(this.latency, target.service, target.name, Date.now() - startedAt);
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
    this.recordCallbacks({ callbacks: 1, callbacksFailed: outcome.ok ? 0 : 1, outcomes: [outcome] });
  }

  /** Runs a batch of targets as one activity, `atOnce` of them at a time; settles each as the batch reports it. */
  private runBatchUnit(u: number, unit: Unit, atOnce: number): Promise<void> {
    const { cid, source, pattern, reqTsUtc, redrive, onTarget, defaults } = this.ctx;
    const targets = this.ctx.targets.slice(unit.start, unit.end);
    for (const target of targets) this.setState(target.name, 'running');
    this.onChange('running');
    this.openBatches.set(u, unit);
    const input = {
      cid,
      source,
      pattern,
      reqTsUtc,
      ...(redrive ? { redrive } : {}),
      batch: u,
      targets: targets.map((target, i) => ({
        index: this.indexOf(target, unit.start + i),
        name: target.name,
        service: target.service,
        request: target.request,
        ...(target.options.startToCloseTimeout ? { startToCloseTimeout: target.options.startToCloseTimeout } : {}),
        ...(target.options.retry ? { retry: target.options.retry } : {}),
      })),
      atOnce,
      onTarget,
      defaults,
      list: this.outcomesListed(),
    };
    const options = batchActivityOptions(targets, atOnce, defaults, onTarget.length, this.batchSummary('batch', unit));
    return runBatch(input, options, targets[0].local ?? false).then(
      (result) => this.batchEnded(unit, u, result),
      (error: unknown) => this.batchEnded(unit, u, undefined, error),
    );
  }

  /**
   * Settles the batch's targets not settled yet: as its result says, or, when the batch failed for good (or was
   * cancelled before it ran), with its error. Targets it did not finish are recorded here (`settleDecided`).
   */
  private batchEnded(unit: Unit, u: number, result?: BatchResult, error?: unknown): void {
    this.openBatches.delete(u);
    if (result) this.recordCallbacks(result);
    // A batch that ended otherwise once the fan-out had stopped waiting (its worker lost meanwhile, say): cancelled.
    const failure =
      error !== undefined && CancellationScope.current().consideredCancelled
        ? new CancelledFailure('cancelled')
        : error;
    const decided: Decided[] = [];
    for (let position = unit.start; position < unit.end; position++) {
      const state = result?.states[position - unit.start];
      const ms = result?.ms?.[position - unit.start] ?? -1;
      if ((state === 'o' || state === 'f') && ms >= 0) {
        const { service, name } = this.ctx.targets[position];
        recordLatency(this.latency, service, name, ms);
      }
      if (state === 'o' || state === 'f') this.settleRecorded(position, state === 'o' ? 'ok' : 'failed');
      else if (this.states.get(this.ctx.targets[position].name) === 'running') {
        const cause =
          state === 'n'
            ? new CancelledFailure('cancelled before this target started')
            : state === 'c'
              ? new CancelledFailure('cancelled')
              : failure;
        decided.push({ position, error: cause });
      }
    }
    if (decided.length) this.settleDecided(decided);
  }

  /** A batched target whose record the batch stored, and whose callbacks it ran. */
  private settleRecorded(position: number, state: 'ok' | 'failed'): void {
    const { name, service } = this.ctx.targets[position];
    const previous = this.states.get(name);
    if (previous === 'ok' || previous === 'failed' || previous === 'cancelled') return; // told before
    this.setState(name, state);
    countSettled(service, state);
    this.services?.settled(service, state);
    this.onChange(state);
  }

  /**
   * Records batched targets as this execution decided (cancelled, or failed with their batch): stored with the other
   * records built here, before the final callbacks; their on-target callbacks run in one activity for them all.
   */
  private settleDecided(decided: Decided[]): void {
    const { cid, source, pattern, reqTsUtc, redrive, onTarget, defaults } = this.ctx;
    const records = decided.map(({ position, error }) => {
      const target = this.ctx.targets[position];
      const state: TargetState = isCancellation(error) ? 'cancelled' : 'failed';
      const base = { source, cid, target: target.name, reqTsUtc };
      const record = targetRecord(base, { ok: false, error }, Date.now(), this.cancelledBy);
      this.unsaved.push([this.indexOf(target, position), { state, record, ...(redrive ? { redrive } : {}) }]);
      this.setState(target.name, state);
      countSettled(target.service, state);
      this.services?.settled(target.service, state);
      this.onChange(state);
      return record;
    });
    if (!onTarget.length) return;
    const range = { start: decided[0].position, end: decided[decided.length - 1].position + 1 };
    this.callbacksInFlight.push(
      batchCallbacks(
        { cid, pattern, ...(redrive ? { redrive } : {}), records, onTarget, defaults, list: this.outcomesListed() },
        this.callbackScope,
        this.batchSummary('callbacks', range),
      ).then((result) => this.recordCallbacks(result)),
    );
  }

  /** The Web UI's name for a batch: what it does, and which targets (by position in the fan-out, and name). */
  private batchSummary(what: string, { start, end }: Pick<Unit, 'start' | 'end'>): string {
    const [first, last] = [this.ctx.targets[start], this.ctx.targets[end - 1]];
    const from = this.indexOf(first, start) + 1;
    const to = this.indexOf(last, end - 1) + 1;
    return end - start === 1
      ? `${what}: target ${from} (${first.name})`
      : `${what}: targets ${from}–${to} (${first.name} … ${last.name})`;
  }

  /** Outcomes a batch should list: as many as this execution still lists. */
  private outcomesListed(): OutcomesListed {
    const listed = this.outcomes.length;
    return { ok: Math.max(0, MAX_OUTCOMES_KEPT - listed), failed: Math.max(0, 2 * MAX_OUTCOMES_KEPT - listed) };
  }

  /** A batch's callbacks: all counted, its listed outcomes kept as far as there is room. */
  private recordCallbacks({ callbacks, callbacksFailed, outcomes }: BatchCallbacks): void {
    this.callbacksRun += callbacks;
    this.callbacksFailed += callbacksFailed;
    for (const outcome of outcomes) {
      const listed = this.outcomes.length;
      if (listed < MAX_OUTCOMES_KEPT || (!outcome.ok && listed < 2 * MAX_OUTCOMES_KEPT)) this.outcomes.push(outcome);
    }
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
