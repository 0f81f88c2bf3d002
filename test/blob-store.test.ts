/**
 * One contract, two stores: the local directory store, and the S3 store against a real S3-speaking server
 * (SeaweedFS, started here by test/helpers/seaweedfs.ts on its own loopback ports and scratch folder, and stopped
 * after). If SeaweedFS cannot start, the S3 tests fail; they are never skipped.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BlobStore } from '../src/store/blob-store';
import { keySegment } from '../src/store/blob-store';
import { storeFromEnv } from '../src/store/config';
import { LocalBlobStore } from '../src/store/local-store';
import { S3BlobStore } from '../src/store/s3-store';
import type { Seaweedfs } from './helpers/seaweedfs';
import { startSeaweedfs } from './helpers/seaweedfs';

/** How a store orders a listing: -1, 0, 1. */
type Order = (a: string, b: string) => number;

/** S3's order and the interface's: UTF-8 bytes. */
const byteOrder: Order = (a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b));

/**
 * SeaweedFS's order (4.48): a walk of its directory tree, so keys compare segment by segment (`p/a/x` < `p/a-b`).
 * It agrees with byte order unless, below the prefix, a segment is a prefix of a sibling's and the longer one goes
 * on with a character before `/` (`!'()*-.%`, e.g. `a` and `a-b`, or `%2E` and `%2E%2E`).
 */
const segmentOrder: Order = (a, b) => {
  const x = a.split('/');
  const y = b.split('/');
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const c = byteOrder(x[i]!, y[i]!);
    if (c !== 0) return c;
  }
  return x.length - y.length;
};

interface Harness {
  name: string;
  /** The order it lists in. */
  order: Order;
  open(): Promise<BlobStore>;
  close(): Promise<void>;
}

function localHarness(): Harness {
  let dir = '';
  return {
    name: 'local',
    order: byteOrder,
    async open() {
      dir = await mkdtemp(join(tmpdir(), 'blob-store-'));
      return new LocalBlobStore(dir);
    },
    async close() {
      if (dir) await rm(dir, { recursive: true, force: true });
    },
  };
}

function s3Harness(): Harness {
  let seaweedfs: Seaweedfs | undefined;
  let store: S3BlobStore | undefined;
  return {
    name: 's3 (SeaweedFS)',
    // Not S3's byte order: see segmentOrder. AWS S3 itself would use byteOrder.
    order: segmentOrder,
    async open() {
      seaweedfs = await startSeaweedfs(process.env.SEAWEEDFS_TEST_S3_PORT ?? '18433');
      console.log(`SeaweedFS started in ${seaweedfs.startMs} ms`);
      // Build the store the way the application would.
      const run_ = `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
      const created = storeFromEnv(
        { FANOUT_STORE: `s3://fanout-test-${run_}/run/${run_}`, ...seaweedfs.env },
        seaweedfs.dir,
      );
      expect(created).toBeInstanceOf(S3BlobStore);
      store = created as S3BlobStore;
      await store.createBucketIfMissing();
      await store.createBucketIfMissing(); // idempotent
      return store;
    },
    async close() {
      store?.destroy();
      await seaweedfs?.stop();
    },
  };
}

function bytes(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

function text(data: Uint8Array | undefined): string | undefined {
  return data === undefined ? undefined : new TextDecoder().decode(data);
}

/** Byte order, independent of how JS compares strings. */
function byteSorted(keys: string[]): string[] {
  return [...keys].sort(byteOrder);
}

/** Runs `task` over `items`, at most `width` at a time. */
async function pool<T>(items: T[], width: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await task(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
}

async function listAll(store: BlobStore, prefix: string, limit?: number): Promise<string[][]> {
  const pages: string[][] = [];
  let after: string | undefined;
  for (;;) {
    const page = await store.list(prefix, { ...(after ? { after } : {}), ...(limit ? { limit } : {}) });
    pages.push(page.keys);
    if (!page.next) return pages;
    expect(page.next).toBe(page.keys[page.keys.length - 1]);
    after = page.next;
  }
}

describe.each([localHarness(), s3Harness()])('BlobStore contract: $name', (harness) => {
  let store: BlobStore;

  beforeAll(async () => {
    store = await harness.open();
  }, 180_000);

  afterAll(async () => {
    await harness.close();
  }, 60_000);

  it('describes itself', () => {
    expect(store.description).toMatch(/^(file:\/\/\/|s3:\/\/fanout-test-[^/]+\/run\/)/);
  });

  it('round-trips binary bytes, including an empty blob', async () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    const big = new Uint8Array(randomBytes(300_000));
    await store.put('bin/all-bytes', all);
    await store.put('bin/big', big);
    await store.put('bin/empty', new Uint8Array(0));
    expect(await store.get('bin/all-bytes')).toEqual(all);
    expect(await store.get('bin/big')).toEqual(big);
    expect(await store.get('bin/empty')).toEqual(new Uint8Array(0));
  });

  it('gets undefined for a missing key', async () => {
    expect(await store.get('missing/nothing')).toBeUndefined();
    expect(await store.get('missing-folder/deep/nothing')).toBeUndefined();
    await store.put('half/there/blob', bytes('x'));
    expect(await store.get('half/there')).toBeUndefined(); // only a prefix of a key
    expect(await store.get('half/there/blob/below')).toBeUndefined(); // below a blob
  });

  it('overwrites', async () => {
    await store.put('over/key', bytes('first, and longer'));
    await store.put('over/key', bytes('second'));
    expect(text(await store.get('over/key'))).toBe('second');
    expect((await store.list('over/')).keys).toEqual(['over/key']);
  });

  it('putIfAbsent writes once: of concurrent writers exactly one wins, later ones change nothing', async () => {
    expect(await store.putIfAbsent('once/key', bytes('first'))).toBe(true);
    expect(await store.putIfAbsent('once/key', bytes('second'))).toBe(false);
    expect(text(await store.get('once/key'))).toBe('first');
    const racers = await Promise.all(
      Array.from({ length: 8 }, (_, i) => store.putIfAbsent('once/raced', bytes(`writer ${i}`))),
    );
    expect(racers.filter(Boolean)).toHaveLength(1);
    expect(text(await store.get('once/raced'))).toBe(`writer ${racers.indexOf(true)}`);
    await store.put('once/key', bytes('overwritten')); // put still overwrites
    expect(text(await store.get('once/key'))).toBe('overwritten');
    expect((await store.list('once/')).keys).toEqual(['once/key', 'once/raced']); // no temporary files left
  });

  it('lists the keys of one folder in ascending byte order', async () => {
    const keys = ['flat/b', 'flat/a-b', 'flat/a', 'flat/a0', 'flat/B', 'flat/%2E', 'flat/%2E%2E', 'flat/~', 'flat/_'];
    for (const key of [...keys].reverse()) await store.put(key, bytes(key));
    const expected = byteSorted(keys);
    expect(expected).toEqual([
      'flat/%2E',
      'flat/%2E%2E',
      'flat/B',
      'flat/_',
      'flat/a',
      'flat/a-b',
      'flat/a0',
      'flat/b',
      'flat/~',
    ]);
    expect((await store.list('flat/')).keys).toEqual(expected);
    expect((await store.list('flat/', { after: 'flat/a' })).keys).toEqual(expected.slice(5));
    expect((await store.list('flat/', { after: 'flat/a.', limit: 2 })).keys).toEqual(['flat/a0', 'flat/b']);
    expect(await store.list('nothing-here/')).toEqual({ keys: [] });
  });

  it('lists full keys recursively, in its order (byte order but for SeaweedFS), after any `after`', async () => {
    const keys = [
      'ord/b',
      'ord/a-b',
      'ord/a/x',
      'ord/a/y/z',
      'ord/a0',
      'ord/B',
      'ord/%2E',
      'ord/~',
      'ord/_',
      'ord/a.b',
    ];
    for (const key of [...keys].reverse()) await store.put(key, bytes(key));
    const expected = [...keys].sort(harness.order);
    const after = (cut: string): string[] => expected.filter((key) => harness.order(key, cut) > 0);
    expect((await store.list('ord/')).keys).toEqual(expected);
    expect((await store.list('ord/a/')).keys).toEqual(['ord/a/x', 'ord/a/y/z']);
    for (const cut of ['ord/a-b', 'ord/a/', 'ord/a/x', 'ord/a.b', 'ord/a/y/z', 'ord/_']) {
      expect((await store.list('ord/', { after: cut })).keys, cut).toEqual(after(cut));
      expect((await store.list('ord/', { after: cut, limit: 2 })).keys, cut).toEqual(after(cut).slice(0, 2));
    }
    // `after` outside the prefix: before it lists from the start, after it lists nothing.
    expect((await store.list('ord/', { after: 'a' })).keys).toEqual(expected);
    expect((await store.list('ord/', { after: 'ord' })).keys).toEqual(expected);
    expect((await store.list('ord/', { after: 'ord/~' })).keys).toEqual([]);
    expect((await store.list('ord/', { after: 'zzz' })).keys).toEqual([]);
  });

  it('keeps prefixes apart (a/ vs ab/)', async () => {
    await store.put('iso/a/1', bytes('a1'));
    await store.put('iso/a/2', bytes('a2'));
    await store.put('iso/ab/1', bytes('ab1'));
    await store.put('iso/a-/1', bytes('a-1'));
    await store.put('iso/abc', bytes('abc'));
    expect((await store.list('iso/a/')).keys).toEqual(['iso/a/1', 'iso/a/2']);
    expect((await store.list('iso/ab/')).keys).toEqual(['iso/ab/1']);
    expect((await store.list('iso/a-/')).keys).toEqual(['iso/a-/1']);
    const all = ['iso/a-/1', 'iso/a/1', 'iso/a/2', 'iso/ab/1', 'iso/abc'];
    expect((await store.list('iso/')).keys).toEqual(all.sort(harness.order));
  });

  it('paginates 2,500 keys with after, limit and next', async () => {
    const keys = Array.from({ length: 2500 }, (_, i) => `page/k${String((i * 7919) % 2500).padStart(5, '0')}`);
    keys.push('page/zz/nested'); // and one in a sub-folder, listed last
    let started = Date.now();
    await pool(keys, 32, (key) => store.put(key, bytes(key)));
    const putMs = Date.now() - started;

    started = Date.now();
    const pages = await listAll(store, 'page/', 1000);
    const listMs = Date.now() - started;
    console.log(
      `${harness.name}: ${keys.length} puts in ${putMs} ms (32 at a time), listed in ${listMs} ms (${pages.length} pages)`,
    );
    expect(pages.map((p) => p.length)).toEqual([1000, 1000, 501]);
    expect(pages.flat()).toEqual(byteSorted(keys));

    // Default limit is 1,000, and more than 1,000 is capped.
    const first = await store.list('page/');
    expect(first.keys).toEqual(pages[0]);
    expect(first.next).toBe(pages[0]![999]);
    expect((await store.list('page/', { limit: 5000 })).keys).toHaveLength(1000);

    // A page that ends exactly at the last key has no next.
    const tail = await store.list('page/', { after: pages[1]![999], limit: 501 });
    expect(tail).toEqual({ keys: pages[2] });

    // `after` need not be a key.
    const fromMiddle = await store.list('page/', { after: 'page/k01234x', limit: 3 });
    expect(fromMiddle.keys).toEqual(['page/k01235', 'page/k01236', 'page/k01237']);
    expect(fromMiddle.next).toBe('page/k01237');
  }, 120_000);

  it('round-trips keys made with keySegment from awkward strings', async () => {
    const awkward = ['..', '.', 'a/b', 'ü', '%', '*', ' ', 'a b', '~', "'", '#', '?x=1&y', '\\', '日本', ''];
    for (const value of awkward) {
      const segment = keySegment(value);
      expect(segment).not.toContain('/');
      expect(['.', '..']).not.toContain(segment);
      if (segment !== '') await store.put(`awk/${segment}/v`, bytes(value));
    }
    const values = awkward.filter((value) => value !== '');
    const listed = (await store.list('awk/')).keys;
    expect(listed).toEqual(values.map((value) => `awk/${keySegment(value)}/v`).sort(harness.order));
    for (const key of listed) {
      const value = decodeURIComponent(key.split('/')[1]!);
      expect(text(await store.get(key))).toBe(value);
    }
    expect(listed.map((key) => decodeURIComponent(key.split('/')[1]!)).sort()).toEqual([...values].sort());
    // As the last segment, in one folder: byte order on every store.
    await Promise.all(values.map((value) => store.put(`awkflat/${keySegment(value)}`, bytes(value))));
    const flat = (await store.list('awkflat/')).keys;
    expect(flat).toEqual(byteSorted(values.map((value) => `awkflat/${keySegment(value)}`)));
    for (const key of flat) expect(text(await store.get(key))).toBe(decodeURIComponent(key.split('/')[1]!));
  });

  it('rejects malformed keys and prefixes', async () => {
    for (const key of ['', '/a', 'a/', 'a//b', 'a/../b', 'a/./b', '..', 'a b', 'ü', 'a#b']) {
      await expect(store.put(key, bytes('x')), key).rejects.toThrow(/invalid blob key/);
      await expect(store.get(key), key).rejects.toThrow(/invalid blob key/);
    }
    for (const prefix of ['a', '/a/', 'a//', '../']) {
      await expect(store.list(prefix), prefix).rejects.toThrow(/invalid blob key prefix/);
    }
    await expect(store.list('a/', { limit: 0 })).rejects.toThrow(/invalid list limit/);
  });

  it('takes concurrent puts: same key (one whole winner), many keys (all there), readers never see a partial blob', async () => {
    const bodies = Array.from({ length: 40 }, (_, i) => bytes(`writer ${i} `.repeat(5000 + i)));
    await Promise.all(bodies.map((body) => store.put('conc/same', body)));
    const winner = text(await store.get('conc/same'));
    expect(bodies.map((body) => text(body))).toContain(winner);
    expect((await store.list('conc/')).keys).toEqual(['conc/same']);

    const keys = Array.from({ length: 200 }, (_, i) => `conc/many/${String(i).padStart(3, '0')}`);
    const body = (key: string): Uint8Array => bytes(`${key} `.repeat(2000));
    const writing = Promise.all(keys.map((key) => store.put(key, body(key))));
    // List and read while the puts are in flight: whatever is listed is a whole blob.
    let done = false;
    void writing.finally(() => (done = true));
    const check = async (): Promise<void> => {
      for (const key of (await store.list('conc/many/')).keys) {
        expect(keys).toContain(key);
        expect(text(await store.get(key))).toBe(text(body(key)));
      }
    };
    while (!done) await check();
    await writing;
    await check();
    expect((await store.list('conc/many/')).keys).toEqual(keys);
  }, 60_000);
});

describe('LocalBlobStore specifics', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'blob-local-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('stores key a/b/c as file dir/a/b/c, leaves no temp files and lists none', async () => {
    const store = new LocalBlobStore(dir);
    expect(store.description).toBe(`file://${dir}`);
    await Promise.all(Array.from({ length: 20 }, (_, i) => store.put('a/b/c', bytes(`v${i}`))));
    expect(await readdir(join(dir, 'a', 'b'))).toEqual(['c']);
    // A temp file left by a crashed writer is no key.
    await writeFile(join(dir, 'a', 'b', 'd#0123456789ab'), 'partial');
    await writeFile(join(dir, 'a', 'b', '..x'), 'x'); // dots are fine in a key segment, just not '.' or '..'
    expect((await store.list('a/')).keys).toEqual(['a/b/..x', 'a/b/c']);
  });

  it('writes again into a folder removed since it made it (it remembers folders it made)', async () => {
    const store = new LocalBlobStore(dir);
    expect(await store.putIfAbsent('gone/r/1', bytes('one'))).toBe(true);
    await rm(join(dir, 'gone'), { recursive: true });
    expect(await store.putIfAbsent('gone/r/2', bytes('two'))).toBe(true);
    await store.put('gone/r/3', bytes('three'));
    expect((await store.list('gone/')).keys).toEqual(['gone/r/2', 'gone/r/3']);
    expect(text(await store.get('gone/r/2'))).toBe('two');
  });
});

describe('storeFromEnv', () => {
  it('defaults to a local directory', () => {
    const store = storeFromEnv({}, '/tmp/some-default');
    expect(store).toBeInstanceOf(LocalBlobStore);
    expect(store.description).toBe('file:///tmp/some-default');
    expect(storeFromEnv({ FANOUT_STORE: '' }, '/tmp/d2').description).toBe('file:///tmp/d2');
  });

  it('takes file URLs and plain paths', () => {
    expect(storeFromEnv({ FANOUT_STORE: 'file:///var/blobs' }, '/x').description).toBe('file:///var/blobs');
    expect(storeFromEnv({ FANOUT_STORE: '/var/blobs2' }, '/x').description).toBe('file:///var/blobs2');
    expect(storeFromEnv({ FANOUT_STORE: 'rel/blobs' }, '/x').description).toBe(`file://${resolve('rel/blobs')}`);
    expect(() => storeFromEnv({ FANOUT_STORE: 'file://host/x' }, '/x')).toThrow(/file URL/);
    expect(() => storeFromEnv({ FANOUT_STORE: 'gs://bucket' }, '/x')).toThrow(/unsupported scheme/);
  });

  it('takes s3 URLs with an optional prefix', () => {
    const plain = storeFromEnv({ FANOUT_STORE: 's3://bucket' }, '/x') as S3BlobStore;
    expect(plain).toBeInstanceOf(S3BlobStore);
    expect(plain.description).toBe('s3://bucket/');
    const prefixed = storeFromEnv(
      { FANOUT_STORE: 's3://bucket/some/prefix', S3_ENDPOINT: 'http://127.0.0.1:1', AWS_REGION: 'eu-west-1' },
      '/x',
    ) as S3BlobStore;
    expect(prefixed.description).toBe('s3://bucket/some/prefix/');
    expect(prefixed.prefix).toBe('some/prefix/');
    expect(prefixed.client.config.forcePathStyle).toBe(true);
    expect(() => storeFromEnv({ FANOUT_STORE: 's3:///prefix' }, '/x')).toThrow(/no bucket/);
    plain.destroy();
    prefixed.destroy();
  });
});
