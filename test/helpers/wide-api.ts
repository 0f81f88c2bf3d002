/**
 * What the 100,000-target HTTP tests (api-ndjson-memory, api-s3-wide) share: the API and the worker started as
 * processes of their own (the built CLI, serving test/fixtures/echo-registry.cjs), an NDJSON upload written as the
 * socket takes it, the API's RSS sampled from /proc while something runs, a wait for a fan-out to complete, and
 * its records streamed back out as NDJSON. Targets are `t<i>` on the `echo` service with request `{ n: i }`.
 */
import type { ChildProcess } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { expect } from 'vitest';
import { rssBytes } from '../../bench/proc';
import type { FanoutOutcome } from '../../src/contracts';
import { freePort } from '../../src/local/local-temporal';
import { startEntry } from './entry-process';
import { waitFor } from './wait';

export const MIB = 2 ** 20;
export const WIDE_API_KEY = 'memory-test-key';
const REGISTRY_MODULE = path.resolve(__dirname, '../fixtures/echo-registry.cjs');
const auth = { authorization: `Bearer ${WIDE_API_KEY}` };

export interface WideApi {
  api: ChildProcess;
  url: string;
}

/**
 * Starts the worker and the API against `temporalAddress`, each with `env` added (the store's settings), and
 * waits until the API answers. Killed by the file's `stopEntries`.
 */
export async function startWideApi(
  temporalAddress: string,
  dir: string,
  env: NodeJS.ProcessEnv = {},
  apiEnv: NodeJS.ProcessEnv = {},
): Promise<WideApi> {
  const start = (command: 'api' | 'worker', extra: NodeJS.ProcessEnv) =>
    startEntry(command, { temporalAddress, registryModule: REGISTRY_MODULE, dir, env: { ...env, ...extra } });
  start('worker', {});
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  // As docs/production.md advises for a small machine: a capped V8 heap (an uncapped one collects lazily, and its
  // garbage counts in the RSS as much as what it holds).
  const api = start('api', {
    API_KEYS: WIDE_API_KEY,
    API_PORT: String(port),
    NODE_OPTIONS: '--max-old-space-size=160',
    ...apiEnv,
  });
  await waitFor(async () => (await fetch(`${url}/healthz`).catch(() => undefined))?.ok === true, 30_000);
  return { api, url };
}

/** The API's RSS before `run` and at most while it ran (sampled every 20 ms), with what `run` returned. */
export async function sampleRss<T>(
  pid: number,
  run: () => Promise<T>,
): Promise<{ value: T; idle: number; peak: number }> {
  const idle = rssBytes(pid);
  let peak = idle;
  const sampler = setInterval(() => (peak = Math.max(peak, rssBytes(pid))), 20);
  try {
    const value = await run();
    return { value, idle, peak: Math.max(peak, rssBytes(pid)) };
  } finally {
    clearInterval(sampler);
  }
}

/** Target `i`'s JSON line. */
export const targetLine = (i: number): string =>
  `${JSON.stringify({ name: `t${i}`, service: 'echo', request: { n: i } })}\n`;

/** An NDJSON start's body: the options line, then `count` targets, a chunk of 1,000 lines at a time. */
export function* ndjsonBody(options: object, count: number): Generator<string> {
  yield `${JSON.stringify(options)}\n`;
  for (let from = 0; from < count; from += 1000) {
    let chunk = '';
    for (let i = from; i < Math.min(from + 1000, count); i++) chunk += targetLine(i);
    yield chunk;
  }
}

/** POSTs the lines as a chunked NDJSON body, writing as the socket takes them; resolves with the answer. */
export function uploadNdjson(apiUrl: string, lines: Iterator<string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request(`${apiUrl}/v1/fanouts`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/x-ndjson' },
    });
    request.on('error', reject);
    request.on('response', (response) => {
      let body = '';
      response.on('data', (chunk) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    const write = () => {
      for (let next = lines.next(); !next.done; next = lines.next())
        if (!request.write(next.value)) return void request.once('drain', write);
      request.end();
    };
    write();
  });
}

/** POSTs a JSON start; resolves with its status and body text. */
export async function startJson(apiUrl: string, body: object): Promise<{ status: number; body: string }> {
  const response = await fetch(`${apiUrl}/v1/fanouts`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.text() };
}

/**
 * Polls the fan-out's progress until it has completed with all `total` targets ok, then checks with Temporal that its
 * final callback (`done`, which takes the assembled payload and fails unless it holds every record) succeeded.
 */
export async function completes(
  apiUrl: string,
  client: Client,
  cid: string,
  total: number,
  timeoutMs = 100_000,
): Promise<void> {
  await waitFor(async () => {
    const response = await fetch(`${apiUrl}/v1/fanouts/${cid}`, { headers: auth });
    const progress = (await response.json()) as { state: string; ok: number; total: number };
    return progress.state === 'completed' && progress.ok === total && progress.total === total;
  }, timeoutMs);
  const outcome = (await client.workflow.getHandle(cid).result()) as FanoutOutcome;
  expect(outcome.callbacks).toEqual([{ callback: 'done', channel: 'FANOUT_ON_FINAL', ok: true }]);
}

export interface StreamedRecord {
  state: string;
  record: { target: string; cid: string; ok: boolean; response: unknown };
}

/** GETs the fan-out's records as NDJSON, handing each line to `check` as it arrives; resolves with the count. */
export async function streamRecords(
  apiUrl: string,
  cid: string,
  check: (line: StreamedRecord, index: number) => void,
): Promise<number> {
  const response = await fetch(`${apiUrl}/v1/fanouts/${cid}/records`, {
    headers: { ...auth, accept: 'application/x-ndjson' },
  });
  if (response.status !== 200) throw new Error(`records: ${response.status} ${await response.text()}`);
  let lines = 0;
  let rest = '';
  const decoder = new TextDecoder();
  for await (const chunk of response.body!) {
    const parts = (rest + decoder.decode(chunk, { stream: true })).split('\n');
    rest = parts.pop()!;
    for (const line of parts) if (line) check(JSON.parse(line) as StreamedRecord, lines++);
  }
  if (rest) check(JSON.parse(rest) as StreamedRecord, lines++);
  return lines;
}
