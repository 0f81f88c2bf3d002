/**
 * The targets of a fan-out in a lane pool per service, all within the fan-out's concurrency, so that one service can
 * be held back without holding up the others':
 *  - a circuit breaker (`circuitBreaker: { failures, probeEvery }`): after `failures` failed targets of a service in
 *    a row its circuit opens and none of its targets starts (those not started are not failures: they wait); every
 *    `probeEvery` one goes through as a probe, and a success closes the circuit. Each probe is a real target, so a
 *    circuit that never closes still ends: its targets are probed, one an interval, and recorded as they fail;
 *  - adaptive concurrency (`adaptiveConcurrency: { min, max }`): each service's targets in flight start at `min`,
 *    grow by one for every window's worth of successes, and halve (not below `min`) on a failure or a backend that
 *    asked to come back later (at most once a window), as TCP's congestion window does.
 */
import { sleep } from '@temporalio/workflow';
import type { Duration as TemporalDuration } from '@temporalio/common';
import type { AdaptiveConcurrency, CircuitBreaker, CircuitState, PlannedTarget, TargetState } from '../contracts';
import type { Unit } from './batch-plan';
import type { Budget } from './lane-pool';
import { LanePool } from './lane-pool';

const DEFAULT_PROBE_EVERY = '30 seconds';

export interface ServicePoolOptions {
  circuitBreaker?: CircuitBreaker;
  adaptiveConcurrency?: AdaptiveConcurrency;
}

interface ServiceLane {
  pool: LanePool;
  state: CircuitState;
  failuresInARow: number;
  /** Adaptive: targets in flight allowed now (fractional: it grows a little with each success). */
  window: number;
  /** Adaptive: targets settled since the window was last cut. */
  settledSinceCut: number;
}

export class ServicePools {
  private readonly budget: Budget;
  private readonly lanes = new Map<string, ServiceLane>();
  private fanoutPaused = false;

  constructor(
    units: Unit[],
    targets: PlannedTarget[],
    atOnce: number,
    take: (unit: number, weight: number) => Promise<void>,
    private readonly options: ServicePoolOptions,
    /** Told when a circuit or a window changes: the fan-out shows it. */
    private readonly onChange: () => void,
  ) {
    this.budget = { inFlight: 0, atOnce };
    const byService = new Map<string, number[]>();
    units.forEach((unit, u) => {
      const service = targets[unit.start].service;
      const own = byService.get(service);
      if (own) own.push(u);
      else byService.set(service, [u]);
    });
    const start = options.adaptiveConcurrency?.min ?? Infinity;
    for (const [service, own] of byService) {
      const width = (i: number) => units[own[i]].end - units[own[i]].start;
      const pool = new LanePool({
        size: own.length,
        atOnce: Math.min(atOnce, start),
        take: (i, weight) => take(own[i], weight),
        width,
        minWidth: own.reduce((narrowest, _, i) => Math.min(narrowest, width(i)), Infinity),
        whenCancelled: 'stop',
        budget: this.budget,
      });
      this.lanes.set(service, { pool, state: 'closed', failuresInARow: 0, window: start, settledSinceCut: 0 });
    }
  }

  set paused(paused: boolean) {
    this.fanoutPaused = paused;
    for (const lane of this.lanes.values()) lane.pool.paused = paused || lane.state === 'open';
  }

  setAtOnce(atOnce: number): void {
    this.budget.atOnce = atOnce;
    for (const lane of this.lanes.values()) this.apply(lane);
  }

  async run(): Promise<void> {
    await Promise.all([...this.lanes.values()].map((lane) => lane.pool.run()));
  }

  /** A target of `service` settled (`busy`: its backend asked to come back later meanwhile). */
  settled(service: string, state: TargetState, busy = false): void {
    const lane = this.lanes.get(service);
    if (!lane || state === 'cancelled') return;
    if (this.options.adaptiveConcurrency) this.adapt(lane, state === 'failed' || busy);
    if (this.options.circuitBreaker) this.trip(lane, state);
  }

  /** The circuits not closed, by service. */
  openCircuits(): Record<string, CircuitState> {
    const open: Record<string, CircuitState> = {};
    for (const [service, lane] of this.lanes) if (lane.state !== 'closed') open[service] = lane.state;
    return open;
  }

  /** Adaptive: each service's targets in flight allowed now. */
  windows(): Record<string, number> {
    if (!this.options.adaptiveConcurrency) return {};
    return Object.fromEntries([...this.lanes].map(([service, lane]) => [service, Math.floor(lane.window)]));
  }

  /** Additive increase, multiplicative decrease. */
  private adapt(lane: ServiceLane, trouble: boolean): void {
    const { min, max } = this.options.adaptiveConcurrency!;
    const before = Math.floor(lane.window);
    lane.settledSinceCut++;
    if (trouble) {
      // Once a window: the targets already in flight when it was cut may fail too, and are no new news.
      if (lane.settledSinceCut < lane.window) return;
      lane.window = Math.max(min, Math.floor(lane.window / 2));
      lane.settledSinceCut = 0;
    } else lane.window = Math.min(max, lane.window + 1 / lane.window);
    if (Math.floor(lane.window) === before) return;
    this.apply(lane);
    this.onChange();
  }

  /** The circuit breaker: failures in a row open it, a probe's outcome decides. */
  private trip(lane: ServiceLane, state: TargetState): void {
    if (state === 'ok') {
      lane.failuresInARow = 0;
      if (lane.state !== 'closed') this.close(lane);
      return;
    }
    lane.failuresInARow++;
    const { failures } = this.options.circuitBreaker!;
    if (lane.state === 'half-open' || (lane.state === 'closed' && lane.failuresInARow >= failures)) this.open(lane);
  }

  /** The lane's targets in flight: one for a probe, else its window within the fan-out's. */
  private apply(lane: ServiceLane): void {
    lane.pool.setAtOnce(lane.state === 'half-open' ? 1 : Math.min(this.budget.atOnce, Math.floor(lane.window)));
  }

  private open(lane: ServiceLane): void {
    lane.state = 'open';
    lane.pool.paused = true;
    this.onChange();
    if (!lane.pool.untaken()) return; // nothing left to probe with
    sleep((this.options.circuitBreaker!.probeEvery ?? DEFAULT_PROBE_EVERY) as TemporalDuration).then(
      () => {
        if (lane.state !== 'open') return;
        // One probe: the pool takes one more target, once those still running from before have ended.
        lane.state = 'half-open';
        this.apply(lane);
        lane.pool.paused = this.fanoutPaused;
        this.onChange();
      },
      () => undefined, // the fan-out ended or was cancelled first
    );
  }

  private close(lane: ServiceLane): void {
    lane.state = 'closed';
    this.apply(lane);
    lane.pool.paused = this.fanoutPaused;
    this.onChange();
  }
}
