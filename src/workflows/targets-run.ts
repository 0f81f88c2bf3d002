/**
 * How a fan-out's targets run, as the fan-out sees it: in its own execution (SingleRun) or as shards, child
 * workflows of their own (ShardedRun). The fan-out keeps what both share: its handlers, phase, failure policy,
 * deadline, final callbacks and outcome.
 */
import type { CallbackOutcome, FanoutCounts, FanoutProgress, LatencyStats, StopReason } from '../contracts';
import type { CancellationScope } from '@temporalio/workflow';
import type { StateCounts } from './records';

/** What a run of targets tells the fan-out as it goes. */
export interface RunHost {
  /** This many targets have failed so far: the fan-out applies its failure policy. */
  failed(count: number): void;
  /** At least this many targets have succeeded so far: the fan-out checks its quorum. */
  succeeded(count: number): void;
  /** Counts worth keeping in the memo (readable with no worker running) have changed. */
  saveCounts(): void;
  /** Something the Web UI's details show has changed. */
  changed(): void;
}

/** The run-time settings of a fan-out: `maxConcurrency` across all of it, and whether starting targets is paused. */
export interface RunSettings {
  maxConcurrency: number;
  paused: boolean;
}

export interface TargetsRun {
  /** Set when the targets run as shards: how many. */
  readonly shards?: number;
  /**
   * Runs the targets in `scope` and resolves once every one has settled, those cancelled included; true when any
   * was cut short by a cancellation (of the fan-out, or its own stop).
   */
  runTargets(scope: CancellationScope): Promise<boolean>;
  /** Once settled: stores the records not stored yet, for the final callbacks to read. */
  saveRecords(): Promise<void>;
  /** Settles when the on-target callbacks (and shards) still running have ended. */
  finished(): Promise<void>;
  /** Applies new settings to the targets running and to come. */
  control(settings: RunSettings): Promise<void>;
  /** The fan-out stopped by itself: what is cancelled from now on says why. */
  stopped(reason: StopReason): void;
  /** Counts of targets and on-target callbacks so far. */
  counts(): FanoutCounts;
  /** Target states for the progress query; `counts` are the fan-out's. */
  progress(counts: FanoutCounts): { states: StateCounts; more: Partial<FanoutProgress> };
  /** The Web UI's current details, under this title. */
  details(title: string): string;
  /** The on-target callback outcomes listed in the fan-out's outcome. */
  outcomes(): CallbackOutcome[];
  /** How long settled targets took, per service (a sharded run's: its finished shards'). */
  latency(): LatencyStats;
}
