/**
 * What a fan-out left in Temporal's history, as the server keeps it (payloads not decoded): the histories of a
 * fan-out and its shards, the largest payload in them, and the External Storage claims they hold.
 */
import type { Client } from '@temporalio/client';
import type { History } from '../../bench/history-payloads';
import { historyPayloads } from '../../bench/history-payloads';

// The benchmark reports the largest payload too; the tests bound it.
export { largestPayload } from '../../bench/history-payloads';

/** The fan-out's history and each of its `shards` shards'. */
export async function fanoutHistories(client: Client, cid: string, shards: number): Promise<History[]> {
  const ids = [cid, ...Array.from({ length: shards }, (_, i) => `${cid}//shard-${i + 1}`)];
  return Promise.all(ids.map((id) => client.workflow.getHandle(id).fetchHistory()));
}

const decoder = new TextDecoder();

/** The store keys named by the External Storage claims (`ExternalStorageReference` payloads) in these histories. */
export function claimKeys(all: History[]): string[] {
  const keys = new Set<string>();
  for (const payload of historyPayloads(all)) {
    const messageType = payload.metadata.messageType;
    if (!messageType || decoder.decode(messageType) !== 'temporal.api.sdk.v1.ExternalStorageReference') continue;
    const reference = JSON.parse(decoder.decode(payload.data)) as { claimData?: { key?: string } };
    if (reference.claimData?.key) keys.add(reference.claimData.key);
  }
  return [...keys];
}
