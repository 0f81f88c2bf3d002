/**
 * A fan-out with its result store on S3, end to end: a real SeaweedFS server (scripts/seaweedfs.sh, on its own
 * loopback ports and scratch folder), the store built from the environment as the application builds it
 * (`storeFromEnv` with FANOUT_STORE=s3://…), the official dev server, and a real worker and client sharing that
 * store. Records, the large request and every claim in history live in the bucket; nothing large goes through
 * history; the records page back out of S3. If SeaweedFS cannot start, these tests fail; they are never skipped.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { FinalPayload, TargetRecord } from '../src/contracts';
import { Registry, defineCallback, defineService } from '../src/registry';
import type { BlobStore } from '../src/store/blob-store';
import { keySegment } from '../src/store/blob-store';
import { storeFromEnv } from '../src/store/config';
import { S3BlobStore } from '../src/store/s3-store';
import { planShards } from '../src/workflows/sharding';
import { fanoutTestFile, withFanoutWorker } from './helpers/fanout-env';
import { claimKeys, fanoutHistories, largestPayload } from './helpers/histories';
import type { Seaweedfs } from './helpers/seaweedfs';
import { startSeaweedfs } from './helpers/seaweedfs';
import type { FanoutTestEnv } from './helpers/temporal-env';
import { CACHE_MODES, createDevServerEnv } from './helpers/temporal-env';

let env: FanoutTestEnv;
let workflowBundle: WorkflowBundleWithSourceMap;
let store: S3BlobStore;

/** SeaweedFS, an S3 store on it (a bucket of its own), and the dev server with that store; all stopped after. */
async function createS3DevServerEnv(): Promise<FanoutTestEnv> {
  // Not blob-store.test.ts's port (18433, and the seven after it), so the two files can run side by side.
  const seaweedfs: Seaweedfs = await startSeaweedfs(process.env.SEAWEEDFS_FANOUT_TEST_S3_PORT ?? '18533');
  console.log(`SeaweedFS started in ${seaweedfs.startMs} ms`);
  let created: BlobStore | undefined;
  try {
    const run = `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
    created = storeFromEnv({ FANOUT_STORE: `s3://fanout-e2e-${run}/run/${run}`, ...seaweedfs.env }, seaweedfs.dir);
    if (!(created instanceof S3BlobStore)) throw new Error(`storeFromEnv made ${created.description}, not S3`);
    store = created;
    await store.createBucketIfMissing();
    const devEnv = await createDevServerEnv({}, store);
    const teardown = devEnv.teardown.bind(devEnv);
    return Object.assign(devEnv, {
      async teardown() {
        try {
          await teardown();
        } finally {
          store.destroy();
          await seaweedfs.stop();
        }
      },
    });
  } catch (error) {
    if (created instanceof S3BlobStore) created.destroy();
    await seaweedfs.stop();
    throw error;
  }
}

fanoutTestFile((e, b) => ((env = e), (workflowBundle = b)), createS3DevServerEnv);

/** A target's answer: `n` characters made from its tag, so that no two targets answer the same bytes. */
function answer(tag: string, n: number): string {
  return `${tag};`.repeat(Math.ceil(n / (tag.length + 1))).slice(0, n);
}

function registry() {
  const onTarget = new Map<string, TargetRecord>();
  const finals: FinalPayload[] = [];
  const reg = new Registry(
    [defineService({ name: 'bytes', handler: async ({ tag, n }: { tag: string; n: number }) => answer(tag, n) })],
    [
      defineCallback({
        name: 'each',
        handler: async (record) => void onTarget.set((record as TargetRecord).target, record as TargetRecord),
      }),
      defineCallback({ name: 'final', handler: async (payload) => void finals.push(payload as FinalPayload) }),
    ],
  );
  return { reg, onTarget, finals };
}

/** Every key under `prefix`, a page of `limit` at a time, through the store's own list API. */
async function listAll(prefix: string, limit = 1000): Promise<string[]> {
  const keys: string[] = [];
  let after: string | undefined;
  do {
    const page = await store.list(prefix, { ...(after ? { after } : {}), limit });
    keys.push(...page.keys);
    after = page.next;
  } while (after);
  return keys;
}

const recordKey = (cid: string, position: number) =>
  `fanouts/${keySegment(cid)}/records/${String(position).padStart(6, '0')}`;

describe.each(CACHE_MODES)(
  'a fan-out with its result store on S3 (SeaweedFS), with $label',
  ({ maxCachedWorkflows }) => {
    const harness = (name: string) => ({
      env,
      workflowBundle,
      maxCachedWorkflows,
      taskQueue: `s3-${name}-${maxCachedWorkflows ?? 'd'}`,
    });

    it('300 targets × 4 KB and one of 1.5 MiB, with callbacks: every byte in the records, in the bucket, none through history', async () => {
      expect(store.description).toMatch(/^s3:\/\/fanout-e2e-[^/]+\/run\//);
      const { reg, onTarget, finals } = registry();
      const targets: Record<string, { tag: string; n: number }> = Object.fromEntries(
        Array.from({ length: 300 }, (_, i) => [`k${i}`, { tag: `k${i}`, n: 4096 }]),
      );
      targets.huge = { tag: 'huge', n: 1.5 * 1024 * 1024 };
      const names = Object.keys(targets);
      const targetOptions = Object.fromEntries(names.map((name) => [name, { service: 'bytes' }]));
      const maxConcurrency = 100;
      const { shardCount } = planShards(names.length, 1, maxConcurrency);
      const { cid, result, all } = await withFanoutWorker(harness('bytes'), reg, async (fanout) => {
        const cid = await fanout.invoke(targets, ['final'], { targetOptions, onTarget: ['each'], maxConcurrency });
        const result = await fanout.result(cid);
        return { cid, result, all: await fanoutHistories(env.client, cid, shardCount > 1 ? shardCount : 0) };
      });

      expect(result.state).toBe('completed');
      expect(result.counts).toEqual({
        total: 301,
        ok: 301,
        failed: 0,
        cancelled: 0,
        callbacks: 302,
        callbacksFailed: 0,
      });
      // Every record, with the right bytes: in the result, in the final callback's payload, in the on-target callback.
      expect(finals).toHaveLength(1);
      expect(Object.keys(result.payload.data)).toEqual(names);
      expect(Object.keys(finals[0]!.data)).toEqual(names);
      expect(new Set(onTarget.keys())).toEqual(new Set(names));
      for (const [name, { tag, n }] of Object.entries(targets)) {
        const expected = answer(tag, n);
        for (const [where, record] of [
          ['result', result.payload.data[name]],
          ['final callback', finals[0]!.data[name]],
          ['on-target callback', onTarget.get(name)],
        ] as const) {
          expect(record, `${where}: ${name}`).toMatchObject({ target: name, ok: true, exception: null, cid });
          // Not toBe on the strings: a mismatch would print 1.5 MiB.
          expect((record!.response as string).length, `${where}: ${name}`).toBe(n);
          expect(record!.response === expected, `${where}: ${name}'s bytes`).toBe(true);
        }
      }

      // The bucket holds them: a record per target, at its position, the 1.5 MiB one among them ...
      const recordKeys = await listAll(`fanouts/${keySegment(cid)}/records/`, 120);
      expect(recordKeys).toEqual(names.map((_, i) => recordKey(cid, i)));
      const hugeStored = await store.get(recordKey(cid, names.indexOf('huge')));
      expect(hugeStored!.byteLength).toBeGreaterThan(1.5 * 1024 * 1024);
      const hugeRecord = (JSON.parse(new TextDecoder().decode(hugeStored)) as { record: TargetRecord }).record;
      expect(hugeRecord.response === answer('huge', 1.5 * 1024 * 1024)).toBe(true);
      // ... and the large payloads, as claims: history names keys under payloads/, and each one is in the bucket.
      const payloadKeys = new Set(await listAll('payloads/'));
      expect(payloadKeys.size).toBeGreaterThan(0);
      const claimed = claimKeys(all);
      expect(claimed.length).toBeGreaterThan(0); // at least the request of 301 targets (over 2 KiB)
      for (const key of claimed) {
        expect(key).toMatch(/^payloads\/[0-9a-f]{64}$/);
        expect(payloadKeys.has(key), key).toBe(true);
      }
      expect(largestPayload(all)).toBeLessThan(64 * 1024);
    }, 300_000);

    it('pages the records back out of S3: every record across pages, in target order', async () => {
      const { reg } = registry();
      const targets = Object.fromEntries(
        Array.from({ length: 250 }, (_, i) => [`p${i}`, { tag: `p${i}`, n: 100 + i }]),
      );
      const names = Object.keys(targets);
      const targetOptions = Object.fromEntries(names.map((name) => [name, { service: 'bytes' }]));
      const { pages, result } = await withFanoutWorker(harness('pages'), reg, async (fanout) => {
        const cid = await fanout.invoke(targets, ['final'], { targetOptions, maxConcurrency: 100 });
        const result = await fanout.result(cid);
        const pages: Awaited<ReturnType<typeof fanout.recordsPage>>[] = [];
        let cursor: string | undefined;
        do {
          const page = await fanout.recordsPage(cid, { limit: 40, ...(cursor !== undefined ? { cursor } : {}) });
          pages.push(page);
          cursor = page.cursor;
        } while (cursor !== undefined && pages.length < 20);
        return { pages, result };
      });
      expect(result.counts).toMatchObject({ total: 250, ok: 250, failed: 0, cancelled: 0 });
      expect(pages.map((page) => page.records.length)).toEqual([40, 40, 40, 40, 40, 40, 10]);
      expect(pages.at(-1)!.cursor).toBeUndefined();
      const records = pages.flatMap((page) => page.records);
      expect(records.map(({ record }) => record.target)).toEqual(names);
      for (const [i, { state, record }] of records.entries()) {
        expect(state).toBe('ok');
        expect(record.response).toBe(answer(`p${i}`, 100 + i));
        expect(record).toEqual(result.payload.data[record.target]);
      }
    }, 120_000);
  },
);
