/**
 * The payloads a Temporal history holds, as the server keeps them (not decoded), and the largest of them: what the
 * scale benchmark reports and the wide fan-out tests bound.
 */
import type { temporal } from '@temporalio/proto';

export type History = temporal.api.history.v1.IHistory;

export interface RawPayload {
  data: Uint8Array;
  metadata: Record<string, Uint8Array | undefined>;
}

/** Every payload anywhere in these histories' events. */
export function historyPayloads(all: History[]): RawPayload[] {
  const found: RawPayload[] = [];
  const visit = (value: unknown): void => {
    if (!value || typeof value !== 'object') return;
    if (value instanceof Uint8Array) return;
    const payload = value as { data?: Uint8Array; metadata?: unknown };
    if (payload.data instanceof Uint8Array && payload.metadata) found.push(payload as RawPayload);
    for (const child of Object.values(value)) visit(child);
  };
  for (const history of all) visit(history.events);
  return found;
}

/** The largest payload anywhere in these histories, in bytes. */
export function largestPayload(all: History[]): number {
  return historyPayloads(all).reduce((largest, payload) => Math.max(largest, payload.data.length), 0);
}
