/**
 * A fan-out's records in the result store: one blob per target, keyed by the target's position so that listing
 * returns them in the order the caller gave the targets:  fanouts/<cid>/records/<position, 6 digits>.
 * Written by the service activities (targets that succeeded) and by `fanout.saveRecords` (records the workflow
 * built); read by final callbacks, `FanoutClient.result` / `records`, and the HTTP API.
 */
import type { StoredRecord, TargetRecord } from '../contracts';
import type { BlobStore } from './blob-store';
import { keySegment } from './blob-store';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export interface RecordPage {
  records: StoredRecord[];
  /** Pass back as `cursor` for the next page; absent on the last page. */
  cursor?: string;
}

export class RecordStore {
  constructor(readonly blobs: BlobStore) {}

  private prefix(cid: string): string {
    return `fanouts/${keySegment(cid)}/records/`;
  }

  private key(cid: string, index: number): string {
    return `${this.prefix(cid)}${String(index).padStart(6, '0')}`;
  }

  async put(cid: string, index: number, stored: StoredRecord): Promise<void> {
    await this.blobs.put(this.key(cid, index), encoder.encode(JSON.stringify(stored)));
  }

  /**
   * Stores the record unless the position already holds one, and returns the one kept. A target's attempts write
   * this way: an attempt repeated after its completion was lost, or one ending after the fan-out gave up on it
   * (cancelled, timed out), finds the record already decided and leaves it. A redrive's record replaces one from an
   * earlier run (a lower `redrive`), never the other way round.
   */
  async putFirst(cid: string, index: number, stored: StoredRecord): Promise<StoredRecord> {
    if (await this.blobs.putIfAbsent(this.key(cid, index), encoder.encode(JSON.stringify(stored)))) return stored;
    const kept = await this.get(cid, index);
    if (kept && (kept.redrive ?? 0) < (stored.redrive ?? 0)) {
      await this.put(cid, index, stored);
      return stored;
    }
    return kept ?? stored;
  }

  async get(cid: string, index: number): Promise<StoredRecord | undefined> {
    const body = await this.blobs.get(this.key(cid, index));
    return body && (JSON.parse(decoder.decode(body)) as StoredRecord);
  }

  /** One page of records in target order. The cursor is the position of the last record returned. */
  async page(cid: string, options: { cursor?: string; limit?: number } = {}): Promise<RecordPage> {
    const limit = Math.min(Math.max(options.limit ?? 100, 1), 1000);
    const after = options.cursor !== undefined ? this.key(cid, Number(options.cursor)) : undefined;
    const listed = await this.blobs.list(this.prefix(cid), { after, limit });
    const records = await mapLimit(listed.keys, 16, async (key) => {
      const body = await this.blobs.get(key);
      if (!body) throw new Error(`record ${key} vanished while being read`);
      return JSON.parse(decoder.decode(body)) as StoredRecord;
    });
    const last = listed.keys[listed.keys.length - 1];
    return { records, ...(listed.next && last ? { cursor: String(Number(last.slice(-6))) } : {}) };
  }

  /** Every record in target order, a page at a time: memory stays at one page whatever the width. */
  async *all(cid: string, pageSize = 500): AsyncGenerator<StoredRecord> {
    let cursor: string | undefined;
    do {
      const page = await this.page(cid, { cursor, limit: pageSize });
      yield* page.records;
      cursor = page.cursor;
    } while (cursor !== undefined);
  }

  /** Zato's `data`: every record keyed by target. */
  async data(cid: string): Promise<Record<string, TargetRecord>> {
    const data: Record<string, TargetRecord> = {};
    // defineProperty: a target may be named "__proto__", which plain assignment would not keep as a key.
    for await (const { record } of this.all(cid))
      Object.defineProperty(data, record.target, {
        value: record,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    return data;
  }
}

/** Runs `fn` over `items` with at most `limit` in flight, keeping the order. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
