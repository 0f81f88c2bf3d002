/**
 * What a fan-out left in Temporal's history, as the server keeps it (payloads not decoded): the histories of a
 * fan-out and its shards, the largest payload in them, and the External Storage claims they hold.
 */
import type { Client } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';

export type History = temporal.api.history.v1.IHistory;

/** The fan-out's history and each of its `shards` shards'. */
export async function fanoutHistories(client: Client, cid: string, shards: number): Promise<History[]> {
  const ids = [cid, ...Array.from({ length: shards }, (_, i) => `${cid}//shard-${i + 1}`)];
  return Promise.all(ids.map((id) => client.workflow.getHandle(id).fetchHistory()));
}

interface RawPayload {
  data: Uint8Array;
  metadata: Record<string, Uint8Array | undefined>;
}

/** Every payload anywhere in these histories' events. */
function payloads(all: History[]): RawPayload[] {
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
  return payloads(all).reduce((largest, payload) => Math.max(largest, payload.data.length), 0);
}

const decoder = new TextDecoder();

/** The store keys named by the External Storage claims (`ExternalStorageReference` payloads) in these histories. */
export function claimKeys(all: History[]): string[] {
  const keys = new Set<string>();
  for (const payload of payloads(all)) {
    const messageType = payload.metadata.messageType;
    if (!messageType || decoder.decode(messageType) !== 'temporal.api.sdk.v1.ExternalStorageReference') continue;
    const reference = JSON.parse(decoder.decode(payload.data)) as { claimData?: { key?: string } };
    if (reference.claimData?.key) keys.add(reference.claimData.key);
  }
  return [...keys];
}
