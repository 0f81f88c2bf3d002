/**
 * The progress query's answer, built alike by every workflow: what the run is, its counts of targets by state, and
 * each target's state while there are few enough to list.
 */
import type { FanoutProgress, TargetState } from '../contracts';
import { PROGRESS_TARGETS_LIMIT } from '../constants';
import type { StateCounts } from './records';

type About = Pick<FanoutProgress, 'cid' | 'source' | 'pattern' | 'state' | 'total'>;

export function progressOf(about: About, counts: StateCounts, more: Partial<FanoutProgress> = {}): FanoutProgress {
  const { ok, failed, cancelled, running, pending } = counts;
  return { ...about, settled: ok + failed + cancelled, ok, failed, cancelled, running, pending, ...more };
}

/** Each target's state, for runs of at most PROGRESS_TARGETS_LIMIT targets. */
export function targetStates(states: Map<string, TargetState>): Pick<FanoutProgress, 'targets'> {
  return states.size <= PROGRESS_TARGETS_LIMIT ? { targets: Object.fromEntries(states) } : {};
}
