/**
 * What an NDJSON upload of 100,000 targets costs the API: the production entries (dist/src/cli/main.js, built by
 * `npm test`) run as processes of their own against the official dev server, the API (`api --registry`) apart from
 * the worker (`worker --registry`, serving test/fixtures/echo-registry.cjs), so that the API's resident memory,
 * sampled from /proc while the body streams in, is the API's alone. Batches of 1,000 and an echo service keep the
 * fan-out itself quick. Prints the figures; the upload, and streaming the 100,000 records back out, must each stay
 * under 256 MiB of RSS. A 100,000-line JSONL file of items (under API_ITEMS_FILE_ROOT) starts a fan-out as well.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { rssBytes } from '../bench/proc';
import { freePort } from '../src/local/local-temporal';
import { LocalBlobStore } from '../src/store/local-store';
import type { FanoutTestEnv } from './helpers/temporal-env';
import { createDevServerEnv } from './helpers/temporal-env';
import { ENTRY, startEntry, stopEntries } from './helpers/entry-process';
import { waitFor } from './helpers/wait';

const REGISTRY_MODULE = path.resolve(__dirname, 'fixtures/echo-registry.cjs');
const KEY = 'memory-test-key';
const TARGETS = 100_000;
const MIB = 2 ** 20;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fanout-ndjson-memory-'));
const itemsRoot = path.join(dir, 'items');
let env: FanoutTestEnv | undefined;
let api: ChildProcess;
let apiUrl: string;

function start(command: 'api' | 'worker', extra: NodeJS.ProcessEnv): ChildProcess {
  const options = { temporalAddress: env!.address, registryModule: REGISTRY_MODULE, dir, env: extra };
  return startEntry(command, options);
}

beforeAll(async () => {
  expect(fs.existsSync(ENTRY)).toBe(true); // npm test builds first
  fs.mkdirSync(itemsRoot);
  env = await createDevServerEnv({ port: await freePort() }, new LocalBlobStore(path.join(dir, 'store')));
  start('worker', {});
  const port = await freePort();
  apiUrl = `http://127.0.0.1:${port}`;
  // As docs/production.md advises for a small machine: a capped V8 heap (an uncapped one collects lazily, and its
  // garbage counts in the RSS as much as what it holds).
  api = start('api', {
    API_KEYS: KEY,
    API_PORT: String(port),
    API_ITEMS_FILE_ROOT: itemsRoot,
    NODE_OPTIONS: '--max-old-space-size=160',
  });
  await waitFor(async () => (await fetch(`${apiUrl}/healthz`).catch(() => undefined))?.ok === true, 30_000);
}, 120_000);

afterAll(async () => {
  stopEntries();
  await env?.teardown();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** POSTs the lines as a chunked NDJSON body, writing as the socket takes them; resolves with the answer. */
function upload(lines: () => Generator<string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request(`${apiUrl}/v1/fanouts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/x-ndjson' },
    });
    request.on('error', reject);
    request.on('response', (response) => {
      let body = '';
      response.on('data', (chunk) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    const source = lines();
    const write = () => {
      for (let next = source.next(); !next.done; next = source.next())
        if (!request.write(next.value)) return void request.once('drain', write);
      request.end();
    };
    write();
  });
}

function* ndjson(): Generator<string> {
  yield `${JSON.stringify({ finalCallbacks: ['done'], batching: { maxTargets: 1000 } })}\n`;
  for (let from = 0; from < TARGETS; from += 1000) {
    let chunk = '';
    for (let i = from; i < from + 1000; i++)
      chunk += `${JSON.stringify({ name: `t${i}`, service: 'echo', request: { n: i } })}\n`;
    yield chunk;
  }
}

it('an NDJSON upload of 100,000 targets streams in under 256 MiB of API RSS, and the fan-out completes', async () => {
  const idle = rssBytes(api.pid!);
  let peak = idle;
  const sampler = setInterval(() => (peak = Math.max(peak, rssBytes(api.pid!))), 20);
  const started = Date.now();
  const answer = await upload(ndjson);
  const uploadMs = Date.now() - started;
  clearInterval(sampler);
  const uploadPeak = Math.max(peak, rssBytes(api.pid!));
  expect(answer.status, answer.body).toBe(202);
  const { cid } = JSON.parse(answer.body) as { cid: string };

  let state = '';
  await waitFor(async () => {
    const response = await fetch(`${apiUrl}/v1/fanouts/${cid}`, { headers: { authorization: `Bearer ${KEY}` } });
    const progress = (await response.json()) as { state: string; ok: number; total: number };
    state = progress.state;
    return progress.state === 'completed' && progress.ok === TARGETS && progress.total === TARGETS;
  }, 100_000);
  const totalMs = Date.now() - started;
  console.log(
    `NDJSON upload of ${TARGETS} targets: streamed in and started in ${(uploadMs / 1000).toFixed(1)} s, ` +
      `completed in ${(totalMs / 1000).toFixed(1)} s; API RSS ${(idle / MIB).toFixed(0)} MiB before, ` +
      `${(uploadPeak / MIB).toFixed(0)} MiB at most while streaming in`,
  );
  expect(state).toBe('completed');
  expect(uploadPeak).toBeLessThan(256 * MIB);
}, 150_000);

/** Polls the fan-out's progress until it has completed with every target ok. */
async function completes(cid: string): Promise<void> {
  await waitFor(async () => {
    const response = await fetch(`${apiUrl}/v1/fanouts/${cid}`, { headers: { authorization: `Bearer ${KEY}` } });
    const progress = (await response.json()) as { state: string; ok: number; total: number };
    return progress.state === 'completed' && progress.ok === TARGETS && progress.total === TARGETS;
  }, 100_000);
}

it('100,000 records stream back out as NDJSON under 256 MiB of API RSS; a 100,000-line JSONL file starts a fan-out', async () => {
  // The items: one JSONL file of 100,000 lines, read by the API as it streams.
  const file = path.join(itemsRoot, 'targets.jsonl');
  const out = fs.createWriteStream(file);
  for (let i = 0; i < TARGETS; i++)
    out.write(`${JSON.stringify({ name: `t${i}`, service: 'echo', request: { n: i } })}\n`);
  await new Promise((resolve) => out.end(resolve));
  const started = await fetch(`${apiUrl}/v1/fanouts`, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      finalCallbacks: ['done'],
      batching: { maxTargets: 1000 },
      items: { url: `file://${file}`, format: 'jsonl' },
    }),
  });
  expect(started.status, await started.clone().text()).toBe(202);
  const { cid } = (await started.json()) as { cid: string };
  await completes(cid);

  // Its records, streamed out as NDJSON, counted line by line while the API's RSS is sampled.
  let peak = rssBytes(api.pid!);
  const sampler = setInterval(() => (peak = Math.max(peak, rssBytes(api.pid!))), 20);
  const response = await fetch(`${apiUrl}/v1/fanouts/${cid}/records`, {
    headers: { authorization: `Bearer ${KEY}`, accept: 'application/x-ndjson' },
  });
  expect(response.status).toBe(200);
  let lines = 0;
  let rest = '';
  const decoder = new TextDecoder();
  for await (const chunk of response.body!) {
    const text = rest + decoder.decode(chunk, { stream: true });
    const parts = text.split('\n');
    rest = parts.pop()!;
    for (const line of parts) {
      if (!line) continue;
      const { record } = JSON.parse(line) as { record: { target: string; ok: boolean } };
      expect(record.target).toBe(`t${lines}`);
      lines++;
    }
  }
  clearInterval(sampler);
  console.log(`streamed ${lines} records out; API RSS at most ${(peak / MIB).toFixed(0)} MiB meanwhile`);
  expect(lines).toBe(TARGETS);
  expect(peak).toBeLessThan(256 * MIB);
}, 240_000);
