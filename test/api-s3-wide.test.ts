/**
 * Issue 31's wide HTTP fan-outs with the S3 store: as test/api-ndjson-memory.test.ts, but the API and the worker
 * (processes of their own, the built CLI) keep every record, staged target and results file in a bucket on a real
 * SeaweedFS server (scripts/seaweedfs.sh, its own loopback ports and scratch folder), reached through FANOUT_STORE,
 * S3_ENDPOINT and the AWS_* credentials as a deployment sets them. An NDJSON upload with `writeResults`, its results
 * files read back from the bucket line by line; a JSONL object in the bucket started as `items`; its records streamed
 * back out. The suite runs these 5,000 wide, the issue's 100,000 with FANOUT_S3_WIDE_TARGETS (see TARGETS). The
 * API's RSS, sampled from /proc while it streams in and out, must stay under 256 MiB each time; the figures are
 * printed. If SeaweedFS cannot start, these tests fail.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ResultsManifest } from '../src/contracts';
import { freePort } from '../src/local/local-temporal';
import { s3ConnectionFromEnv, storeFromEnv } from '../src/store/config';
import { resultsFileKey, resultsManifestKey } from '../src/store/results';
import { S3BlobStore } from '../src/store/s3-store';
import { ENTRY, stopEntries } from './helpers/entry-process';
import type { Seaweedfs } from './helpers/seaweedfs';
import { startSeaweedfs } from './helpers/seaweedfs';
import type { FanoutTestEnv } from './helpers/temporal-env';
import { createDevServerEnv } from './helpers/temporal-env';
import type { StreamedRecord } from './helpers/wide-api';
import {
  MIB,
  completes,
  ndjsonBody,
  sampleRss,
  startJson,
  startWideApi,
  streamRecords,
  targetLine,
  uploadNdjson,
} from './helpers/wide-api';

/**
 * The width of each fan-out. On S3 every record is an object of its own, a PutObject each when the worker stores it
 * and a GetObject each when it is read back (results files, records streamed out): on a 2-core machine with SeaweedFS
 * that is about 150–250 requests a second, so 100,000 (the width) takes tens of minutes. The suite runs
 * 5,000; FANOUT_S3_WIDE_TARGETS=100000 runs the width (docs/benchmarks.md has its figures).
 */
const TARGETS = Number(process.env.FANOUT_S3_WIDE_TARGETS ?? 5_000);
/** How long a fan-out, or reading its records, may take: generous for the machine above. */
const WAIT_MS = 60_000 + TARGETS * 15;
const run = `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
const BUCKET = `fanout-wide-${run}`;
/** Where the processes' store lives: the bucket, under a prefix of its own (the items object is outside it). */
const STORE_URL = `s3://${BUCKET}/store`;
const ITEMS_KEY = 'items/targets.jsonl';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fanout-s3-wide-'));
let seaweedfs: Seaweedfs | undefined;
let store: S3BlobStore | undefined;
let bucket: S3BlobStore | undefined;
let env: FanoutTestEnv | undefined;
let api: ChildProcess;
let apiUrl: string;

beforeAll(async () => {
  expect(fs.existsSync(ENTRY)).toBe(true); // npm test builds first
  // Not the other S3 test files' ports (18433, 18533, 18633 and the seven after each).
  seaweedfs = await startSeaweedfs(process.env.SEAWEEDFS_WIDE_TEST_S3_PORT ?? '18733');
  console.log(`SeaweedFS started in ${seaweedfs.startMs} ms`);
  const s3Env = { FANOUT_STORE: STORE_URL, FANOUT_EXPECTED_RECORDS: String(TARGETS), ...seaweedfs.env };
  // The store as the processes build it from the same variables: the test reads the results files through it.
  const built = storeFromEnv(s3Env, dir);
  if (!(built instanceof S3BlobStore)) throw new Error(`storeFromEnv made ${built.description}, not S3`);
  store = built;
  bucket = new S3BlobStore({ bucket: BUCKET, ...s3ConnectionFromEnv({ ...seaweedfs.env }) });
  await bucket.createBucketIfMissing();
  env = await createDevServerEnv({ port: await freePort() }, store);
  ({ api, url: apiUrl } = await startWideApi(env.address, dir, s3Env));
}, 240_000);

afterAll(async () => {
  stopEntries();
  await env?.teardown();
  store?.destroy();
  bucket?.destroy();
  await seaweedfs?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
}, 60_000);

/** A record of target `i` of fan-out `cid`, as the echo service answers it. */
function expectRecord(record: StreamedRecord['record'], cid: string, i: number): void {
  // One comparison per record rather than toMatchObject: 100,000 of those would take longer than the fan-out.
  if (
    record.target !== `t${i}` ||
    record.cid !== cid ||
    record.ok !== true ||
    (record.response as { n?: number })?.n !== i
  )
    expect(record, `record ${i}`).toMatchObject({ target: `t${i}`, cid, ok: true, response: { n: i } });
}

const WIDTH = TARGETS.toLocaleString('en');

it(
  `an NDJSON upload of ${WIDTH} targets streams in under 256 MiB of API RSS; its results files in S3 hold every record`,
  async () => {
    const started = Date.now();
    const options = { finalCallbacks: ['done'], batching: { maxTargets: 1000 }, writeResults: true };
    const {
      value: answer,
      idle,
      peak,
    } = await sampleRss(api.pid!, () => uploadNdjson(apiUrl, ndjsonBody(options, TARGETS)));
    const uploadMs = Date.now() - started;
    // Printed before the wait: the API's figure stands whether or not the fan-out then completes in time.
    console.log(
      `S3 store: NDJSON upload of ${TARGETS} targets streamed in and started in ${(uploadMs / 1000).toFixed(1)} s; ` +
        `API RSS ${(idle / MIB).toFixed(0)} MiB before, ${(peak / MIB).toFixed(0)} MiB at most while streaming in`,
    );
    expect(answer.status, answer.body).toBe(202);
    const { cid } = JSON.parse(answer.body) as { cid: string };
    await completes(apiUrl, env!.client, cid, TARGETS, WAIT_MS);
    console.log(`S3 store: completed with its results files in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    expect(peak).toBeLessThan(256 * MIB);

    // The results files, read back from the bucket: the manifest, then every line of each file.
    const manifestBody = await store!.get(resultsManifestKey(cid));
    expect(manifestBody, 'manifest.json in the bucket').toBeDefined();
    const manifest = ResultsManifest.parse(JSON.parse(Buffer.from(manifestBody!).toString('utf8')));
    expect(manifest).toMatchObject({
      cid,
      state: 'completed',
      run: 0,
      counts: { total: TARGETS, ok: TARGETS, failed: 0, cancelled: 0 },
    });
    const succeeded = await store!.get(resultsFileKey(cid, 'succeeded'));
    expect(manifest.files.succeeded).toEqual({
      key: resultsFileKey(cid, 'succeeded'),
      records: TARGETS,
      bytes: succeeded!.byteLength,
    });
    const lines = Buffer.from(succeeded!).toString('utf8').split('\n');
    expect(lines.pop(), 'the file ends with a newline').toBe('');
    expect(lines).toHaveLength(TARGETS);
    lines.forEach((line, i) => expectRecord(JSON.parse(line) as StreamedRecord['record'], cid, i));
    for (const name of ['failed', 'cancelled'] as const) {
      expect((await store!.get(resultsFileKey(cid, name)))?.byteLength, `${name}.jsonl`).toBe(0);
      expect(manifest.files[name]).toEqual({ key: resultsFileKey(cid, name), records: 0, bytes: 0 });
    }
  },
  2 * WAIT_MS,
);

it(
  `a ${WIDTH}-line JSONL object in S3 starts a fan-out; its ${WIDTH} records stream back out under 256 MiB of API RSS`,
  async () => {
    let text = '';
    for (let i = 0; i < TARGETS; i++) text += targetLine(i);
    await bucket!.put(ITEMS_KEY, Buffer.from(text));
    const startedAt = Date.now();
    // The API reads the object from S3 as it arrives and stages its targets before it answers.
    const { value: started, peak: startPeak } = await sampleRss(api.pid!, () =>
      startJson(apiUrl, {
        finalCallbacks: ['done'],
        batching: { maxTargets: 1000 },
        items: { url: `s3://${BUCKET}/${ITEMS_KEY}`, format: 'jsonl' },
      }),
    );
    console.log(
      `S3 store: a ${TARGETS}-line JSONL object read and started in ${((Date.now() - startedAt) / 1000).toFixed(1)} s; ` +
        `API RSS at most ${(startPeak / MIB).toFixed(0)} MiB meanwhile`,
    );
    expect(started.status, started.body).toBe(202);
    const { cid } = JSON.parse(started.body) as { cid: string };
    await completes(apiUrl, env!.client, cid, TARGETS, WAIT_MS);
    console.log(`S3 store: completed in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);

    // Its records, streamed out as NDJSON, checked line by line while the API's RSS is sampled.
    const streamStarted = Date.now();
    const { value: lines, peak } = await sampleRss(api.pid!, () =>
      streamRecords(apiUrl, cid, ({ state, record }, index) => {
        if (state !== 'ok') expect(state, `record ${index}`).toBe('ok');
        expectRecord(record, cid, index);
      }),
    );
    console.log(
      `S3 store: streamed ${lines} records out in ${((Date.now() - streamStarted) / 1000).toFixed(1)} s; ` +
        `API RSS at most ${(peak / MIB).toFixed(0)} MiB meanwhile`,
    );
    expect(lines).toBe(TARGETS);
    expect(startPeak).toBeLessThan(256 * MIB);
    expect(peak).toBeLessThan(256 * MIB);
  },
  3 * WAIT_MS,
);
