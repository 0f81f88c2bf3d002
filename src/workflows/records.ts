/**
 * Building Zato's records inside workflow code: UTC timestamps from the workflow clock, and the small markdown table the Web UI shows as current details.
 */
import type { TargetRecord, TargetState } from '../contracts';
import { exceptionText } from '../exception-text';

export function utc(ms: number): string {
  return new Date(ms).toISOString();
}

export function targetRecord(
  base: { source: string; cid: string; target: string; reqTsUtc: string },
  outcome: { ok: true; response: unknown } | { ok: false; error: unknown },
  nowMs: number,
  cancelledBy?: string,
): TargetRecord {
  return {
    source: base.source,
    target: base.target,
    response: outcome.ok ? (outcome.response ?? null) : null,
    req_ts_utc: base.reqTsUtc,
    resp_ts_utc: utc(nowMs),
    ok: outcome.ok,
    exception: outcome.ok ? null : exceptionText(outcome.error, cancelledBy),
    cid: base.cid,
  };
}

const MAX_DETAIL_ROWS = 20;

export type StateCounts = Record<TargetState, number>;

export function countsLine(counts: { ok: number; failed: number; cancelled: number }): string {
  return `${counts.ok} ok, ${counts.failed} failed, ${counts.cancelled} cancelled`;
}

/** A short markdown table for the Web UI's "current details": counts, then the first targets' states. */
export function detailsTable(states: Map<string, TargetState>, counts: StateCounts, phase: string): string {
  const lines = [
    `**${phase}** — ${counts.ok} ok, ${counts.failed} failed, ${counts.cancelled} cancelled, ${counts.running} running, ${counts.pending} pending`,
    '',
    '| target | state |',
    '| --- | --- |',
  ];
  let shown = 0;
  for (const [target, state] of states) {
    if (shown++ >= MAX_DETAIL_ROWS) {
      lines.push(`| … ${states.size - MAX_DETAIL_ROWS} more | |`);
      break;
    }
    lines.push(`| ${target} | ${state} |`);
  }
  return lines.join('\n');
}
