/**
 * Building Zato's records inside workflow code: UTC timestamps from the workflow clock, exception text from
 * Temporal failures, and the small markdown table the Web UI shows as current details.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  ChildWorkflowFailure,
  TemporalFailure,
  TimeoutFailure,
  isCancellation,
} from '@temporalio/workflow';
import type { TargetRecord, TargetState } from '../contracts';

export function utc(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * The innermost cause is what the target itself raised; its stack (from the worker) is the traceback. A cancelled
 * target says what cancelled it (`cancelledBy`: the fan-out was cancelled, or stopped by itself, and why).
 */
export function exceptionText(error: unknown, cancelledBy = 'the fan-out was cancelled'): string {
  let cause: unknown = error;
  while ((cause instanceof ActivityFailure || cause instanceof ChildWorkflowFailure) && cause.cause)
    cause = cause.cause;
  if (isCancellation(error)) {
    const started = !(error instanceof Error && /before this target started/.test(error.message));
    return `CancelledFailure: ${cancelledBy} before this target ${started ? 'finished' : 'started'}`;
  }
  if (cause instanceof TimeoutFailure) return timeoutText(cause);
  if (cause instanceof TemporalFailure || cause instanceof Error) {
    const type = cause instanceof ApplicationFailure && cause.type ? cause.type : cause.name;
    const stack = cause.stack && !cause.stack.startsWith('Error\n') ? cause.stack : '';
    return stack.includes(cause.message) ? stack : `${type}: ${cause.message}${stack ? '\n' + stack : ''}`;
  }
  return String(cause);
}

const TIMEOUTS: Record<string, [string, string]> = {
  START_TO_CLOSE: ['StartToClose', 'an attempt ran longer than its start-to-close timeout'],
  SCHEDULE_TO_START: ['ScheduleToStart', 'no worker picked the target up within its schedule-to-start timeout'],
  SCHEDULE_TO_CLOSE: ['ScheduleToClose', 'the target, retries included, ran longer than its schedule-to-close timeout'],
  HEARTBEAT: ['Heartbeat', 'the target stopped heartbeating within its heartbeat timeout'],
};

/** The server's timeout failures carry no message, only their type: say what timed out. */
function timeoutText(failure: TimeoutFailure): string {
  const [name, meaning] = TIMEOUTS[failure.timeoutType ?? ''] ?? [String(failure.timeoutType), 'timed out'];
  return `TimeoutFailure: ${name} timeout: ${meaning}${failure.message ? ` (${failure.message})` : ''}`;
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
