/**
 * Hedged stragglers (`hedging: { after, max }`): a target still running past its delay gets one more attempt side by
 * side, a second activity (`hedge/<target>`) with the same options; the first attempt to succeed decides the target
 * (both store its record with `putFirst`, so the store keeps the first one either way), and the other is cancelled.
 * A failure decides only once no attempt of the target is left running.
 *
 * One watcher per execution, not a timer per target: it wakes when the earliest running target is due (no more often
 * than a tenth of the delay, within 100 ms – 1 s), so a wide fan-out pays a few timers for its hedges, not two
 * history events for every target.
 */
import { CancellationScope, condition, isCancellation } from '@temporalio/workflow';
import { msToNumber } from '@temporalio/common';
import type { Hedging, LatencyStats, PlannedTarget } from '../contracts';
import { latencyPercentile, recordHedge } from './latency';
import type { TargetSuccess } from './steps';

/** With `after: { percentile }`: a service is hedged once this many of its targets have settled. */
export const HEDGE_MIN_SAMPLES = 10;
/** Targets that can be hedged: activities run one per target (a batch retries within itself; a child is one). */
export function hedgeable(target: PlannedTarget): boolean {
  return target.kind !== 'workflow' && !target.local;
}

type Attempt = (hedge: boolean) => Promise<TargetSuccess>;

/** One target's attempts, each in a scope of its own under the scope the target started in. */
class Race {
  private running = 0;
  private settled = false;
  private failure: unknown;
  private readonly scopes: CancellationScope[] = [];

  constructor(
    private readonly attempt: Attempt,
    private readonly parent: CancellationScope,
    private readonly resolve: (success: TargetSuccess) => void,
    private readonly reject: (error: unknown) => void,
    /** Told once, as the race is decided: whether the hedge decided it (by succeeding first). */
    private readonly decided: (hedgeWon: boolean) => void,
  ) {}

  start(hedge: boolean): void {
    const scope = new CancellationScope({ cancellable: true, parent: this.parent });
    this.scopes.push(scope);
    this.running++;
    scope
      .run(() => this.attempt(hedge))
      .then(
        (success) => {
          this.running--;
          if (this.settled) return; // the other attempt decided: this one was cancelled too late to stop it
          this.settled = true;
          for (const other of this.scopes) if (other !== scope) other.cancel();
          this.decided(hedge);
          this.resolve(success);
        },
        (error: unknown) => {
          this.running--;
          if (this.settled) return;
          this.failure ??= error;
          if (this.running > 0) return; // the other attempt may still succeed
          this.settled = true;
          this.decided(false);
          this.reject(this.failure);
        },
      );
  }
}

interface Watched {
  service: string;
  startedAt: number;
  race: Race;
}

export class Hedges {
  /** Running targets not hedged yet, in the order they started. */
  private readonly watched = new Map<number, Watched>();
  private left: number;
  /** With `after` a duration: it in ms, read once. */
  private readonly fixedDelay?: number;
  /** Bumped at each start and settle: the watcher, with nothing due, waits for a change. */
  private changes = 0;
  private stopped = false;

  constructor(
    /** With `max` resolved: the hedges this execution may start. */
    private readonly hedging: Hedging,
    /** The execution's latency figures: percentiles are read from them, and hedges counted in them. */
    private readonly latency: LatencyStats,
  ) {
    this.left = hedging.max ?? 0;
    if (typeof hedging.after !== 'object') this.fixedDelay = msToNumber(hedging.after as never);
  }

  /** Runs the target's first attempt, watched; resolves or rejects as the race is decided. */
  race(position: number, service: string, attempt: Attempt): Promise<TargetSuccess> {
    return new Promise((resolve, reject) => {
      const race = new Race(attempt, CancellationScope.current(), resolve, reject, (hedgeWon) => {
        this.watched.delete(position);
        this.changes++;
        if (hedgeWon) recordHedge(this.latency, service, 'won');
      });
      this.watched.set(position, { service, startedAt: Date.now(), race });
      this.changes++;
      race.start(false);
    });
  }

  /** Hedges the targets as they become due, until `stop` (or the scope is cancelled) or the budget is spent. */
  async watch(): Promise<void> {
    try {
      while (!this.stopped && this.left > 0) {
        const seen = this.changes;
        const now = Date.now();
        let next = Infinity;
        let shortest = Infinity;
        // Each service's delay once a pass: a percentile is read from its buckets, not once per target.
        const delays = new Map<string, number | undefined>();
        for (const [position, watched] of this.watched) {
          if (!delays.has(watched.service)) delays.set(watched.service, this.delayOf(watched.service));
          const delay = delays.get(watched.service);
          if (delay === undefined) continue;
          shortest = Math.min(shortest, delay);
          const due = watched.startedAt + delay;
          if (due > now) {
            next = Math.min(next, due);
            continue;
          }
          this.watched.delete(position);
          recordHedge(this.latency, watched.service, 'started');
          watched.race.start(true);
          if (--this.left === 0) return;
        }
        if (next === Infinity) await condition(() => this.stopped || this.changes !== seen);
        else {
          const gap = Math.min(1000, Math.max(100, shortest / 10));
          await condition(() => this.stopped, Math.max(next - now, gap));
        }
      }
    } catch (error) {
      if (!isCancellation(error)) throw error; // cancelled with the targets: their races settle on their own
    }
  }

  stop(): void {
    this.stopped = true;
  }

  /** How long a target of `service` runs before it is hedged; undefined while its percentile is not known yet. */
  private delayOf(service: string): number | undefined {
    const { after } = this.hedging;
    if (typeof after !== 'object') return this.fixedDelay;
    return latencyPercentile(this.latency, service, after.percentile, HEDGE_MIN_SAMPLES);
  }
}
