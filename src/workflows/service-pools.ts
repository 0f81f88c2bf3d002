/**
 * A circuit breaker per service within a fan-out (`circuitBreaker: { failures, probeEvery }`): the targets run in a
 * lane pool per service, all sharing the fan-out's concurrency, so that one service's circuit can stop its targets
 * starting without holding up the others'. After `failures` failed targets of a service in a row, its circuit
 * opens: none of its targets starts (those not started are not failures: they wait). Every `probeEvery` one target
 * goes through as a probe; a success closes the circuit, a failure leaves it open. Each probe is a real target, so a
 * circuit that never closes still ends: its targets are probed, one an interval, and recorded as they fail.
 */
import { sleep } from '@temporalio/workflow';
import type { Duration as TemporalDuration } from '@temporalio/common';
import type { CircuitBreaker, CircuitState, PlannedTarget, TargetState } from '../contracts';
import type { Unit } from './batch-plan';
import type { Budget } from './lane-pool';
import { LanePool } from './lane-pool';

const DEFAULT_PROBE_EVERY = '30 seconds';

interface ServiceCircuit {
  pool: LanePool;
  state: CircuitState;
  failuresInARow: number;
}

export class ServicePools {
  private readonly budget: Budget;
  private readonly circuits = new Map<string, ServiceCircuit>();
  private fanoutPaused = false;

  constructor(
    units: Unit[],
    targets: PlannedTarget[],
    atOnce: number,
    take: (unit: number, weight: number) => Promise<void>,
    private readonly breaker: CircuitBreaker,
    /** Told when a circuit opens or closes: the fan-out shows it. */
    private readonly onChange: () => void,
  ) {
    this.budget = { inFlight: 0, atOnce };
    const byService = new Map<string, number[]>();
    units.forEach((unit, u) => {
      const service = targets[unit.start].service;
      byService.set(service, [...(byService.get(service) ?? []), u]);
    });
    for (const [service, own] of byService) {
      const width = (i: number) => units[own[i]].end - units[own[i]].start;
      const pool = new LanePool({
        size: own.length,
        atOnce,
        take: (i, weight) => take(own[i], weight),
        width,
        minWidth: own.reduce((narrowest, _, i) => Math.min(narrowest, width(i)), Infinity),
        whenCancelled: 'stop',
        budget: this.budget,
      });
      this.circuits.set(service, { pool, state: 'closed', failuresInARow: 0 });
    }
  }

  set paused(paused: boolean) {
    this.fanoutPaused = paused;
    for (const circuit of this.circuits.values()) circuit.pool.paused = paused || circuit.state === 'open';
  }

  setAtOnce(atOnce: number): void {
    this.budget.atOnce = atOnce;
    for (const circuit of this.circuits.values()) if (circuit.state !== 'half-open') circuit.pool.setAtOnce(atOnce);
  }

  async run(): Promise<void> {
    await Promise.all([...this.circuits.values()].map((circuit) => circuit.pool.run()));
  }

  /** A target of `service` settled: its circuit counts failures in a row, and a probe decides. */
  settled(service: string, state: TargetState): void {
    const circuit = this.circuits.get(service);
    if (!circuit || state === 'cancelled') return;
    if (state === 'ok') {
      circuit.failuresInARow = 0;
      if (circuit.state !== 'closed') this.close(circuit);
      return;
    }
    circuit.failuresInARow++;
    if (
      circuit.state === 'half-open' ||
      (circuit.state === 'closed' && circuit.failuresInARow >= this.breaker.failures)
    )
      this.open(circuit);
  }

  /** The circuits not closed, by service. */
  openCircuits(): Record<string, CircuitState> {
    const open: Record<string, CircuitState> = {};
    for (const [service, circuit] of this.circuits) if (circuit.state !== 'closed') open[service] = circuit.state;
    return open;
  }

  private open(circuit: ServiceCircuit): void {
    circuit.state = 'open';
    circuit.pool.paused = true;
    this.onChange();
    if (!circuit.pool.untaken()) return; // nothing left to probe with
    sleep((this.breaker.probeEvery ?? DEFAULT_PROBE_EVERY) as TemporalDuration).then(
      () => {
        if (circuit.state !== 'open') return;
        // One probe: the pool takes one more target, once those still running from before have ended.
        circuit.state = 'half-open';
        circuit.pool.setAtOnce(1);
        circuit.pool.paused = this.fanoutPaused;
        this.onChange();
      },
      () => undefined, // the fan-out ended or was cancelled first
    );
  }

  private close(circuit: ServiceCircuit): void {
    circuit.state = 'closed';
    circuit.pool.setAtOnce(this.budget.atOnce);
    circuit.pool.paused = this.fanoutPaused;
    this.onChange();
  }
}
