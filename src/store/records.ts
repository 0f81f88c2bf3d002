/**
 * A fan-out's records in the result store: one blob per target, keyed by the target's position so that listing
 * returns them in the order the caller gave the targets:  fanouts/<cid>/records/<position, 6 digits>.
 * Written by the service activities (targets that succeeded) and by `fanout.saveRecords` (records the workflow
 * built); read by final callbacks, `FanoutClient.result` / `records`, and the HTTP API.
 */
import type { StoredRecord, TargetRecord, TargetState } from '../contracts';
import { setOwnKey } from '../own-key';
import type { BlobStore } from './blob-store';
import { keySegment } from './blob-store';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A page filtered by state reads at most this many records, so one request stays bounded whatever the width. */
const MAX_SCANNED_PER_PAGE = 5000;

export interface RecordPageOptions {
  /** The `cursor` of the page before. */
  cursor?: string;
  /** Records per page, 1..1000 (default 100). */
  limit?: number;
  /**
   * Only records of targets in this state. A filtered page may then hold fewer than `limit` records (even none)
   * and still have a cursor: it reads at most 5,000 records; go on while there is a cursor.
   */
  state?: TargetState;
}

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

  /** One page of records in target order. The cursor is the position of the last record read. */
  async page(cid: string, options: RecordPageOptions = {}): Promise<RecordPage> {
    const limit = Math.min(Math.max(options.limit ?? 100, 1), 1000);
    let after = options.cursor !== undefined ? this.key(cid, Number(options.cursor)) : undefined;
    const records: StoredRecord[] = [];
    for (let scanned = 0; ;) {
      const listed = await this.blobs.list(this.prefix(cid), { after, limit });
      const read = await mapLimit(listed.keys, 16, (key) => this.read(key));
      for (let i = 0; i < read.length; i++) {
        if (options.state === undefined || read[i].state === options.state) records.push(read[i]);
        const more = i < read.length - 1 || listed.next !== undefined;
        if (records.length === limit || (more && ++scanned >= MAX_SCANNED_PER_PAGE))
          return { records, ...(more ? { cursor: positionOf(listed.keys[i]) } : {}) };
      }
      if (!listed.next || !listed.keys.length) return { records };
      after = listed.keys[listed.keys.length - 1];
    }
  }

  /** Every record in target order (of one state, if given), a page at a time: memory stays at one page. */
  async *all(cid: string, pageSize = 500, state?: TargetState): AsyncGenerator<StoredRecord> {
    let cursor: string | undefined;
    do {
      const page = await this.page(cid, { cursor, limit: pageSize, state });
      yield* page.records;
      cursor = page.cursor;
    } while (cursor !== undefined);
  }

  /** The records at positions not in `known`, after position `after` (exclusive), in target order. */
  async *since(
    cid: string,
    after: number,
    known: (position: number) => boolean,
  ): AsyncGenerator<[number, StoredRecord]> {
    let from = after >= 0 ? this.key(cid, after) : undefined;
    for (;;) {
      const listed = await this.blobs.list(this.prefix(cid), { after: from, limit: 1000 });
      const fresh = listed.keys.filter((key) => !known(Number(positionOf(key))));
      const read = await mapLimit(fresh, 16, (key) => this.read(key));
      for (let i = 0; i < fresh.length; i++) yield [Number(positionOf(fresh[i])), read[i]];
      if (!listed.next || !listed.keys.length) return;
      from = listed.keys[listed.keys.length - 1];
    }
  }

  private async read(key: string): Promise<StoredRecord> {
    const body = await this.blobs.get(key);
    if (!body) throw new Error(`record ${key} vanished while being read`);
    return JSON.parse(decoder.decode(body)) as StoredRecord;
  }

  /** Zato's `data`: every record keyed by target. */
  async data(cid: string): Promise<Record<string, TargetRecord>> {
    const data: Record<string, TargetRecord> = {};
    for await (const { record } of this.all(cid)) setOwnKey(data, record.target, record);
    return data;
  }
}

/** A record key's position, as a cursor: the last six characters are its zero-padded position. */
function positionOf(key: string): string {
  return String(Number(key.slice(-6)));
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
