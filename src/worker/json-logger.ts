/**
 * The worker command's log: one JSON line per entry on standard error (where the SDK's default logger writes),
 * for log collectors. The workflow logger's lines (the fan-out's started, stopped and finished) come through it
 * with the workflow's ids, the CID, and the trace id when tracing is on.
 */
import type { LogLevel } from '@temporalio/worker';
import { DefaultLogger } from '@temporalio/worker';

export function jsonLogger(level: LogLevel = 'INFO'): DefaultLogger {
  return new DefaultLogger(level, ({ level, timestampNanos, message, meta }) => {
    const time = new Date(Number(timestampNanos / 1_000_000n)).toISOString();
    process.stderr.write(`${JSON.stringify({ time, level, message, ...meta }, jsonSafe)}\n`);
  });
}

/** Errors keep their message and stack (JSON.stringify would give `{}`), big integers become strings. */
function jsonSafe(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message, stack: value.stack };
  return typeof value === 'bigint' ? value.toString() : value;
}
