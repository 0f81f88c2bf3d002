/**
 * Targets streamed in over real HTTP, on the dev server stack: NDJSON uploads (options on line 1, an item a line,
 * read as they arrive), `items` read from files under the API's items folder and from S3 (a SeaweedFS server of
 * this file's own), and the TS client's `invoke(readTargetItems(...))`. Refusals name the line, start nothing and
 * leave the CID free.
 */
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FanoutCid } from '../src/client';
import { InvalidRequestError, readTargetItems } from '../src/client';
import type { FanoutResult } from '../src/contracts';
import { s3ConnectionFromEnv } from '../src/store/config';
import { S3BlobStore } from '../src/store/s3-store';
import type { ApiStack } from './helpers/api-stack';
import { startApiStack } from './helpers/api-stack';
import type { Seaweedfs } from './helpers/seaweedfs';
import { startSeaweedfs } from './helpers/seaweedfs';

const KEY = 'streamed-key';
const NDJSON_LIMIT = 1024 * 1024;
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fanout-items-'));
const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'fanout-elsewhere-'));
let stack: ApiStack;

interface Reply {
  status: number;
  body: Record<string, unknown>;
}

async function post(route: string, body: string, contentType: string, on = stack): Promise<Reply> {
  const response = await fetch(on.url + route, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': contentType },
    body,
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : {} };
}

const postNdjson = (lines: unknown[], route = '/v1/fanouts', contentType = 'application/x-ndjson') =>
  post(
    route,
    lines.map((line) => (typeof line === 'string' ? line : JSON.stringify(line))).join('\n') + '\n',
    contentType,
  );
const postJson = (body: unknown, on = stack) => post('/v1/fanouts', JSON.stringify(body), 'application/json', on);

async function get(route: string): Promise<Reply> {
  const response = await fetch(stack.url + route, { headers: { authorization: `Bearer ${KEY}` } });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function resultOf(cid: string, timeoutMs = 60_000): Promise<FanoutResult> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const reply = await get(`/v1/fanouts/${cid}/result`);
    if (reply.status === 200) return reply.body as FanoutResult;
    if (Date.now() > deadline) throw new Error(`no result for ${cid}: ${JSON.stringify(reply.body)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Refused: the problem's pointers, with nothing started under the CID and nothing of it left in the store. */
async function expectNothingStarted(cid: string): Promise<void> {
  expect((await get(`/v1/fanouts/${cid}`)).status).toBe(404);
  expect((await stack.env.store.list(`fanouts/${cid}/`)).keys).toEqual([]);
}

const pointers = (reply: Reply) => (reply.body.errors as { pointer: string }[]).map((e) => e.pointer);
const user = (i: number) => ({ name: `u${i}`, service: 'crm.get-user', request: { user_id: String(i) } });
const options = (extra: Record<string, unknown> = {}) => ({
  finalCallbacks: ['log.input'],
  batching: { maxTargets: 1000 },
  ...extra,
});

function writeItems(name: string, text: string): string {
  const file = path.join(root, name);
  fs.writeFileSync(file, text);
  return pathToFileURL(file).href;
}

beforeAll(async () => {
  stack = await startApiStack({
    apiKeys: [KEY],
    webhookSecret: `whsec_${randomBytes(24).toString('base64')}`,
    ndjsonLimit: NDJSON_LIMIT,
    itemsFileRoot: root,
  });
}, 180_000);

afterAll(async () => {
  await stack?.close();
  fs.rmSync(root, { recursive: true, force: true });
  fs.rmSync(outside, { recursive: true, force: true });
});

describe('NDJSON uploads', () => {
  it('a few thousand targets, an item a line, run to completion', async () => {
    const width = 3000;
    const cid = `ndjson-${Date.now()}`;
    const reply = await postNdjson([
      options({ cid, source: 'upload' }),
      ...Array.from({ length: width }, (_, i) => user(i)),
    ]);
    expect(reply).toMatchObject({ status: 202, body: { cid } });
    const result = await resultOf(cid);
    expect(result.counts).toMatchObject({ total: width, ok: width, failed: 0 });
    expect(result.payload.data.u0).toMatchObject({ ok: true, source: 'upload', response: { user_id: '0' } });
    expect(result.payload.data[`u${width - 1}`]).toMatchObject({ ok: true, response: { user_id: String(width - 1) } });
  });

  it('parallel execution takes NDJSON too (a charset parameter is fine)', async () => {
    const lines = [{ onTarget: ['log.input'] }, user(1), user(2)];
    const reply = await postNdjson(lines, '/v1/parallel', 'application/x-ndjson; charset=utf-8');
    expect(reply.status).toBe(202);
    expect((await resultOf(reply.body.cid as string)).targets).toEqual({ u1: 'ok', u2: 'ok' });
  });

  it('the options line takes the delivery shorthand, checked as in a JSON body', async () => {
    const internal = await postNdjson([{ delivery: { webhook: { url: 'http://10.0.0.1/hook' } } }, user(1)]);
    expect(internal).toMatchObject({ status: 422, body: { type: 'urn:problem:fanout:webhook-url-refused' } });
    const bad = await postNdjson([{ delivery: { webhook: {} } }, user(1)]);
    expect(pointers(bad)).toEqual(['/line/1/delivery/webhook/url']);
  });

  it('a bad line is refused by its line number; nothing starts and the CID stays free', async () => {
    const cid = `ndjson-bad-${Date.now()}`;
    const lines: unknown[] = [options({ cid }), ...Array.from({ length: 6000 }, (_, i) => user(i))];
    lines[4] = '{"name": "u3", oops';
    lines[5000] = '';
    lines[5001] = { name: 'u5000', service: 'crm.get-user', request: { user_id: '' } };
    const reply = await postNdjson(lines);
    expect(reply.status).toBe(400);
    expect(pointers(reply)).toEqual(['/line/5', '/line/5001', '/line/5002/request/user_id']);
    await expectNothingStarted(cid);
  });

  it('problems of the options line are named on line 1', async () => {
    const cid = `ndjson-options-${Date.now()}`;
    const notJson = await postNdjson(['{options', user(1)]);
    expect(pointers(notJson)).toEqual(['/line/1']);
    const invalid = await postNdjson([{ cid, finalCallbacks: ['log.input'], maxConcurrency: 0, targets: {} }, user(1)]);
    expect(invalid.status).toBe(400);
    expect(pointers(invalid).sort()).toEqual(['/line/1/maxConcurrency', '/line/1/targets']);
    expect((await postNdjson([{ cid }, user(1)])).status).toBe(400); // no final callback
    expect(pointers(await postNdjson([options()]))).toEqual(['/line']); // no target
    await expectNothingStarted(cid);
  });

  it('413 past the NDJSON limit, whether Content-Length says so or the bytes do', async () => {
    const cid = `ndjson-large-${Date.now()}`;
    const lines = [options({ cid }), ...Array.from({ length: 20_000 }, (_, i) => user(i))];
    const declared = await postNdjson(lines);
    expect(declared).toMatchObject({ status: 413, body: { type: 'urn:problem:fanout:body-too-large' } });
    const chunked = await new Promise<number>((resolve, reject) => {
      const { port } = new URL(stack.url);
      const req = http.request({
        host: '127.0.0.1',
        port,
        path: '/v1/fanouts',
        method: 'POST',
        headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/x-ndjson' },
      });
      req.on('response', (res) => resolve(res.statusCode ?? 0));
      req.on('error', reject);
      for (const line of lines) req.write(`${JSON.stringify(line)}\n`);
      req.end();
    });
    expect(chunked).toBe(413);
    await expectNothingStarted(cid);
  });

  it('no dry run of NDJSON (400), and 415 where NDJSON is not taken', async () => {
    const dryRun = await post('/v1/fanouts?dryRun=true', `${JSON.stringify(options())}\n`, 'application/x-ndjson');
    expect(dryRun.status).toBe(400);
    expect(dryRun.body.detail).toMatch(/dry run takes application\/json/);
    const invokeRetry = await post('/v1/invoke-retry', '{}\n', 'application/x-ndjson');
    expect(invokeRetry.status).toBe(415);
    expect((await post('/v1/fanouts', 'x', 'text/csv')).status).toBe(415);
  });
});

describe('items read from files under the items folder', () => {
  const users = [1, 2, 3].map(user);

  it.each([
    ['jsonl', users.map((u) => JSON.stringify(u)).join('\n') + '\n'],
    ['json', JSON.stringify(users)],
    ['csv', 'name,service,user_id\n' + users.map((u) => `${u.name},crm.get-user,${u.request.user_id}`).join('\n')],
  ])('%s', async (format, text) => {
    const url = writeItems(`users.${format}`, text);
    const reply = await postJson({ ...options(), items: { url, format } });
    expect(reply.status).toBe(202);
    const result = await resultOf(reply.body.cid as string);
    expect(result.targets).toEqual({ u1: 'ok', u2: 'ok', u3: 'ok' });
    expect(result.payload.data.u2.response).toMatchObject({ user_id: '2' });
  });

  it('a bad row is named by its place in the file', async () => {
    const csv = writeItems('bad.csv', 'name,service,user_id\nu1,crm.get-user,1\nu2,crm.get-user,\n');
    const reply = await postJson({ ...options(), items: { url: csv, format: 'csv' } });
    expect(pointers(reply)).toEqual(['/items/line/3/request/user_id']);
    const jsonl = writeItems('bad.jsonl', `${JSON.stringify(user(1))}\nnope\n`);
    expect(pointers(await postJson({ ...options(), items: { url: jsonl, format: 'jsonl' } }))).toEqual([
      '/items/line/2',
    ]);
  });

  it('refused: a file outside the folder, a missing file, both targets and items; nothing starts', async () => {
    const cid = `items-refused-${Date.now()}`;
    const elsewhere = path.join(outside, 'users.jsonl');
    fs.writeFileSync(elsewhere, JSON.stringify(user(1)));
    const escaping = await postJson({
      ...options({ cid }),
      items: { url: pathToFileURL(elsewhere).href, format: 'jsonl' },
    });
    expect(escaping).toMatchObject({ status: 422, body: { type: 'urn:problem:fanout:items-refused' } });
    fs.symlinkSync(elsewhere, path.join(root, 'link.jsonl'));
    const linked = await postJson({
      ...options({ cid }),
      items: { url: writeItemsUrl('link.jsonl'), format: 'jsonl' },
    });
    expect(linked.status).toBe(422);
    const missing = writeItemsUrl('missing.jsonl');
    const notFound = await postJson({ ...options({ cid }), items: { url: missing, format: 'jsonl' } });
    expect(notFound).toMatchObject({ status: 422, body: { type: 'urn:problem:fanout:items-not-found', url: missing } });
    const both = await postJson({ ...options({ cid }), targets: { u1: {} }, items: { url: missing, format: 'jsonl' } });
    expect(pointers(both)).toEqual(['/items']);
    await expectNothingStarted(cid);
  });

  it('the TS client: invoke(readTargetItems(...)) of a CSV file, its problems naming the row', async () => {
    const url = writeItems('client.csv', 'name,user_id,service\nc1,7,crm.get-user\nc2,8,crm.get-user\n');
    const cid = await stack.fanoutClient.invoke(readTargetItems({ url, format: 'csv' }), ['log.input']);
    const result = await stack.fanoutClient.result(cid);
    expect(result.payload.data.c2).toMatchObject({ ok: true, response: { user_id: '8' } });
    const bad = writeItems('client-bad.csv', 'user_id\n7\n');
    const error = await stack.fanoutClient
      .invoke(readTargetItems({ url: bad, format: 'csv' }), ['log.input'])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect((error as InvalidRequestError).issues[0].segments).toEqual(['items', 'line', 1]);
  });
});

function writeItemsUrl(name: string): string {
  return pathToFileURL(path.join(root, name)).href;
}

describe('items in S3 (SeaweedFS)', () => {
  let seaweedfs: Seaweedfs | undefined;
  let s3Stack: ApiStack | undefined;
  let bucketStore: S3BlobStore;

  beforeAll(async () => {
    // Not the other S3 test files' ports (18433, 18533 and the seven after each).
    seaweedfs = await startSeaweedfs(process.env.SEAWEEDFS_ITEMS_TEST_S3_PORT ?? '18633');
    bucketStore = new S3BlobStore({ bucket: 'fanout-items', ...s3ConnectionFromEnv({ ...seaweedfs.env }) });
    await bucketStore.createBucketIfMissing();
    // File items are not enabled on this API: only S3.
    s3Stack = await startApiStack({
      apiKeys: [KEY],
      webhookSecret: `whsec_${randomBytes(24).toString('base64')}`,
      itemsEnv: { ...seaweedfs.env },
    });
  }, 240_000);

  afterAll(async () => {
    bucketStore?.destroy();
    await s3Stack?.close();
    await seaweedfs?.stop();
  });

  it('a JSONL object is read as it arrives; a missing one is refused; file items are not enabled here', async () => {
    const width = 1500;
    const text = Array.from({ length: width }, (_, i) => JSON.stringify(user(i))).join('\n');
    await bucketStore.put('lists/users.jsonl', Buffer.from(text));
    const viaS3 = (body: unknown) => postJson(body, s3Stack);
    const reply = await viaS3({ ...options(), items: { url: 's3://fanout-items/lists/users.jsonl', format: 'jsonl' } });
    expect(reply.status).toBe(202);
    const result = await s3Stack!.fanoutClient.result(reply.body.cid as FanoutCid);
    expect(result.counts).toMatchObject({ total: width, ok: width });
    const missing = await viaS3({
      ...options(),
      items: { url: 's3://fanout-items/lists/none.jsonl', format: 'jsonl' },
    });
    expect(missing).toMatchObject({ status: 422, body: { type: 'urn:problem:fanout:items-not-found' } });
    const file = await viaS3({ ...options(), items: { url: writeItemsUrl('users.jsonl'), format: 'jsonl' } });
    expect(file).toMatchObject({ status: 422, body: { type: 'urn:problem:fanout:items-refused' } });
  });
});
