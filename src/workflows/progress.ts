/**
 * The progress query's answer, built alike by every workflow: what the run is, its counts of targets by state, and
 * each target's state while there are few enough to list.
 */
import type { CircuitState, FanoutProgress, TargetState } from '../contracts';
import { PROGRESS_TARGETS_LIMIT } from '../constants';
import type { StateCounts } from './records';

type About = Pick<FanoutProgress, 'cid' | 'source' | 'pattern' | 'state' | 'total'>;

export function progressOf(about: About, counts: StateCounts, more: Partial<FanoutProgress> = {}): FanoutProgress {
  const { ok, failed, cancelled, running, pending } = counts;
  return { ...about, settled: ok + failed + cancelled, ok, failed, cancelled, running, pending, ...more };
}

/** The services whose circuit is not closed, when there are any. */
export function circuitsOf(circuits: Record<string, CircuitState>): Pick<FanoutProgress, 'circuits'> {
  return Object.keys(circuits).length ? { circuits: circuits as FanoutProgress['circuits'] } : {};
}

/** A line per open circuit for the Web UI's current details. */
export function circuitLines(circuits: Record<string, CircuitState>): string[] {
  return Object.entries(circuits).map(
    ([service, state]) =>
      `circuit ${state} for ${service}: ${state === 'open' ? 'its targets wait for the next probe' : 'a probe is let through'}`,
  );
}

/** With adaptive concurrency: each service's targets in flight allowed now. */
export function windowsOf(windows: Record<string, number>): Pick<FanoutProgress, 'concurrency'> {
  return Object.keys(windows).length ? { concurrency: windows } : {};
}

export function windowLines(windows: Record<string, number>): string[] {
  const entries = Object.entries(windows);
  return entries.length ? [`adaptive concurrency: ${entries.map(([s, n]) => `${s} ${n}`).join(', ')}`] : [];
}

/** Each target's state, for runs of at most PROGRESS_TARGETS_LIMIT targets. */
export function targetStates(states: Map<string, TargetState>): Pick<FanoutProgress, 'targets'> {
  return states.size <= PROGRESS_TARGETS_LIMIT ? { targets: Object.fromEntries(states) } : {};
}
