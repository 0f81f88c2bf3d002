/**
 * Keeps up to `atOnce` items of a list in flight, taking them in order: the one mechanism behind the targets of an
 * execution (a target, or a batch of targets, each item) and the shards of a wide fan-out. An item may weigh more
 * than one (a batch: its targets), and `atOnce` counts weight. `atOnce` may change while it runs (raised, lanes are added; lowered,
 * items in flight finish and lanes wait), and `paused` stops it taking new items without touching those in flight.
 */
import { CancellationScope, condition } from '@temporalio/workflow';

export interface LanePoolOptions {
  /** Items to take, by position: 0 to size - 1. */
  size: number;
  /** Items in flight at most, to start with. */
  atOnce: number;
  /**
   * Runs the item at this position, as `weight` of `atOnce` (its width, at most `atOnce` as it stands); settles when
   * it is done. A rejection fails the pool (and so the run).
   */
  take: (position: number, weight: number) => Promise<void>;
  /** How much of `atOnce` the item at this position may take (a batch: its targets); 1 when not given. */
  width?: (position: number) => number;
  /** The narrowest item's width: lanes beyond `atOnce / minWidth` would only wait. */
  minWidth?: number;
  /** Shared by several pools (one per service): what they have in flight together, and the most they may. */
  budget?: Budget;
  /**
   * Once the scope the pool runs in is cancelled: take nothing more (targets: the run marks them not started), or
   * take the rest regardless of `atOnce` and `paused`, so that each settles cancelled in its own way (shards).
   */
  whenCancelled: 'stop' | 'take-rest';
}

export interface Budget {
  inFlight: number;
  atOnce: number;
}

export class LanePool {
  paused = false;
  private atOnce: number;
  private next = 0;
  private inFlight = 0;
  private activeLanes = 0;
  private readonly lanes: Promise<void>[] = [];

  constructor(private readonly options: LanePoolOptions) {
    this.atOnce = options.atOnce;
  }

  /** Runs until every item is taken and done (or, with `stop`, the scope is cancelled and what was taken is done). */
  async run(): Promise<void> {
    this.addLanes(Math.min(this.lanesFor(this.atOnce), this.options.size));
    // Lanes added meanwhile (a raised `atOnce`) are awaited too.
    for (let i = 0; i < this.lanes.length; i++) await this.lanes[i];
  }

  /** Items in flight at most from now on. Before `run`, only sets how many lanes it starts with. */
  setAtOnce(atOnce: number): void {
    this.atOnce = atOnce;
    if (this.lanes.length === 0) return;
    // Every active lane may hold an item, and each item still to take needs a lane of its own.
    const wanted = Math.min(this.lanesFor(atOnce), this.activeLanes + this.remaining());
    this.addLanes(wanted - this.activeLanes);
  }

  /** Lanes enough to keep `atOnce` in flight with the narrowest items. */
  private lanesFor(atOnce: number): number {
    return Math.ceil(atOnce / (this.options.minWidth ?? 1));
  }

  /** What the next item weighs now: its width, at most `atOnce`. */
  private weightOfNext(): number {
    return Math.min(this.options.width?.(this.next) ?? 1, this.atOnce);
  }

  /** Items not taken yet. */
  untaken(): number {
    return this.remaining();
  }

  private remaining(): number {
    return this.options.size - this.next;
  }

  private addLanes(count: number): void {
    for (let i = 0; i < count; i++) this.lanes.push(this.lane());
  }

  private cancelled(): boolean {
    return CancellationScope.current().consideredCancelled;
  }

  /** Whether a lane may take the next item now. */
  private open(): boolean {
    if (this.cancelled()) return this.options.whenCancelled === 'take-rest';
    if (this.paused || this.remaining() === 0) return false;
    const weight = this.weightOfNext();
    const { budget } = this.options;
    if (budget && budget.inFlight > 0 && budget.inFlight + weight > budget.atOnce) return false;
    return this.inFlight + weight <= this.atOnce;
  }

  private async lane(): Promise<void> {
    this.activeLanes++;
    try {
      while (this.remaining() > 0) {
        if (this.cancelled() && this.options.whenCancelled === 'stop') return;
        if (!this.open()) {
          // Rejected once the scope is cancelled: the loop then decides again.
          await condition(() => this.open() || this.remaining() === 0).catch(() => undefined);
          continue;
        }
        // Taken when cancelled (shards: `take-rest`) at their width, at least one.
        const weight = Math.max(1, this.weightOfNext());
        const position = this.next++;
        this.inFlight += weight;
        if (this.options.budget) this.options.budget.inFlight += weight;
        try {
          await this.options.take(position, weight);
        } finally {
          this.inFlight -= weight;
          if (this.options.budget) this.options.budget.inFlight -= weight;
        }
      }
    } finally {
      this.activeLanes--;
    }
  }
}
