/**
 * The progress of a fan-out that has finished, from what it returned and its records: no worker needed. A query to
 * a closed run is answered by a worker replaying its whole history, which for a wide fan-out can take minutes on a
 * busy worker, and never comes with no worker running. What describes a running fan-out (maxConcurrency, paused,
 * each service's adaptive window and open circuits) is left out.
 */
import type { FanoutOutcome, FanoutProgress, TargetState } from '../contracts';
import { PROGRESS_TARGETS_LIMIT } from '../constants';
import { setOwnKey } from '../own-key';
import type { RecordStore } from '../store/records';

export async function finishedProgress(outcome: FanoutOutcome, records: RecordStore): Promise<FanoutProgress> {
  const { cid, pattern, state, summary, counts, stopped, redrive, latency } = outcome;
  const { total, ok, failed, cancelled } = counts;
  const progress: FanoutProgress = {
    cid,
    source: summary.source,
    pattern,
    state,
    total,
    settled: ok + failed + cancelled,
    ok,
    failed,
    cancelled,
    running: 0,
    pending: 0,
    ...(stopped ? { stopped } : {}),
    ...(redrive ? { redrive } : {}),
    ...(latency && Object.keys(latency).length ? { latency } : {}),
  };
  if (total > PROGRESS_TARGETS_LIMIT) return progress;
  const targets: Record<string, TargetState> = {};
  for await (const { record, state: targetState } of records.all(cid)) setOwnKey(targets, record.target, targetState);
  return { ...progress, targets };
}
