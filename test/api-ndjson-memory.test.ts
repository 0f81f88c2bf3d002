/**
 * What an NDJSON upload of 100,000 targets costs the API: the production entries (dist/src/cli/main.js, built by
 * `npm test`) run as processes of their own against the official dev server, the API (`api --registry`) apart from
 * the worker (`worker --registry`, serving test/fixtures/echo-registry.cjs), so that the API's resident memory,
 * sampled from /proc while the body streams in, is the API's alone. Batches of 1,000 and an echo service keep the
 * fan-out itself quick. Prints the figures; the upload, and streaming the 100,000 records back out, must each stay
 * under 256 MiB of RSS. A 100,000-line JSONL file of items (under API_ITEMS_FILE_ROOT) starts a fan-out as well.
 * The store is the local one (LocalBlobStore); test/api-s3-wide.test.ts does the same with the S3 store.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freePort } from '../src/local/local-temporal';
import { LocalBlobStore } from '../src/store/local-store';
import type { FanoutTestEnv } from './helpers/temporal-env';
import { createDevServerEnv } from './helpers/temporal-env';
import { ENTRY, stopEntries } from './helpers/entry-process';
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

const TARGETS = 100_000;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fanout-ndjson-memory-'));
const itemsRoot = path.join(dir, 'items');
let env: FanoutTestEnv | undefined;
let api: ChildProcess;
let apiUrl: string;

beforeAll(async () => {
  expect(fs.existsSync(ENTRY)).toBe(true); // npm test builds first
  fs.mkdirSync(itemsRoot);
  env = await createDevServerEnv({ port: await freePort() }, new LocalBlobStore(path.join(dir, 'store')));
  const workerEnv = { FANOUT_EXPECTED_RECORDS: String(TARGETS) };
  ({ api, url: apiUrl } = await startWideApi(env.address, dir, workerEnv, { API_ITEMS_FILE_ROOT: itemsRoot }));
}, 120_000);

afterAll(async () => {
  stopEntries();
  await env?.teardown();
  fs.rmSync(dir, { recursive: true, force: true });
});

it('an NDJSON upload of 100,000 targets streams in under 256 MiB of API RSS, and the fan-out completes', async () => {
  const started = Date.now();
  const body = ndjsonBody({ finalCallbacks: ['done'], batching: { maxTargets: 1000 } }, TARGETS);
  const { value: answer, idle, peak } = await sampleRss(api.pid!, () => uploadNdjson(apiUrl, body));
  const uploadMs = Date.now() - started;
  expect(answer.status, answer.body).toBe(202);
  const { cid } = JSON.parse(answer.body) as { cid: string };

  await completes(apiUrl, env!.client, cid, TARGETS);
  const totalMs = Date.now() - started;
  console.log(
    `NDJSON upload of ${TARGETS} targets: streamed in and started in ${(uploadMs / 1000).toFixed(1)} s, ` +
      `completed in ${(totalMs / 1000).toFixed(1)} s; API RSS ${(idle / MIB).toFixed(0)} MiB before, ` +
      `${(peak / MIB).toFixed(0)} MiB at most while streaming in`,
  );
  expect(peak).toBeLessThan(256 * MIB);
}, 150_000);

it('100,000 records stream back out as NDJSON under 256 MiB of API RSS; a 100,000-line JSONL file starts a fan-out', async () => {
  // The items: one JSONL file of 100,000 lines, read by the API as it streams.
  const file = path.join(itemsRoot, 'targets.jsonl');
  const out = fs.createWriteStream(file);
  for (let i = 0; i < TARGETS; i++) out.write(targetLine(i));
  await new Promise((resolve) => out.end(resolve));
  const started = await startJson(apiUrl, {
    finalCallbacks: ['done'],
    batching: { maxTargets: 1000 },
    items: { url: `file://${file}`, format: 'jsonl' },
  });
  expect(started.status, started.body).toBe(202);
  const { cid } = JSON.parse(started.body) as { cid: string };
  await completes(apiUrl, env!.client, cid, TARGETS);

  // Its records, streamed out as NDJSON, counted line by line while the API's RSS is sampled.
  const { value: lines, peak } = await sampleRss(api.pid!, () =>
    streamRecords(apiUrl, cid, ({ record }, index) => expect(record.target).toBe(`t${index}`)),
  );
  console.log(`streamed ${lines} records out; API RSS at most ${(peak / MIB).toFixed(0)} MiB meanwhile`);
  expect(lines).toBe(TARGETS);
  expect(peak).toBeLessThan(256 * MIB);
}, 240_000);
