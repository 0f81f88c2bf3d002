/**
 * The HTTP API over real HTTP, against a real worker on the embedded server: every status code it promises,
 * problem details on every error, and never a 500 for anything a client sent.
 */
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FanoutProgress,
  FanoutResult,
  FinalPayload,
  InvokeRetryResult,
  RecordsPage,
  ResultsManifest,
} from '../src/contracts';
import type { ApiStack } from './helpers/api-stack';
import { startApiStack } from './helpers/api-stack';

const KEY = 'test-key-current';
const OLD_KEY = 'test-key-previous';
const BODY_LIMIT = 16 * 1024;
const SEED_TARGETS = {
  'crm.get-user': { user_id: '123' },
  'erp.get-user-information': { USER_ID: '123' },
  'scoring.get-score': { uid: '123' },
};

let stack: ApiStack;

interface Reply {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

async function call(
  method: string,
  path: string,
  body?: unknown,
  init: { key?: string | null; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const headers: Record<string, string> = { ...init.headers };
  if (init.key !== null) headers.authorization = `Bearer ${init.key ?? KEY}`;
  if (body !== undefined && !headers['content-type']) headers['content-type'] = 'application/json';
  const response = await fetch(stack.url + path, {
    method,
    headers,
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : {} };
}

function expectProblem(reply: Reply, status: number, type: string): void {
  expect(reply.status).toBe(status);
  expect(reply.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(reply.body).toMatchObject({ type: `urn:problem:fanout:${type}`, status });
  expect(typeof reply.body.title).toBe('string');
}

async function until<T>(fn: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const resultOf = (cid: string) =>
  until(async () => {
    const reply = await call('GET', `/v1/fanouts/${cid}/result`);
    return reply.status === 200 ? reply : undefined;
  });

beforeAll(async () => {
  stack = await startApiStack({
    apiKeys: [KEY, OLD_KEY],
    webhookSecret: `whsec_${randomBytes(24).toString('base64')}`,
    bodyLimit: BODY_LIMIT,
  });
}, 180_000);

afterAll(async () => {
  await stack?.close();
});

describe('202 Accepted', () => {
  it('POST /v1/fanouts: the seed credit-scoring request → 202, CID and Location; progress and result follow', async () => {
    const accepted = await call('POST', '/v1/fanouts', {
      targets: SEED_TARGETS,
      finalCallbacks: ['log.input'],
      onTarget: ['log.input'],
      source: 'credit-scoring',
    });
    expect(accepted.status).toBe(202);
    const cid = accepted.body.cid as string;
    expect(cid).toMatch(/^[0-9a-f-]{36}$/);
    expect(accepted.headers.get('location')).toBe(`/v1/fanouts/${cid}`);

    const progress = await call('GET', `/v1/fanouts/${cid}`);
    expect(progress.status).toBe(200);
    const parsed = FanoutProgress.parse(progress.body);
    expect(parsed).toMatchObject({ cid, source: 'credit-scoring', pattern: 'fanout', total: 3 });

    const result = FanoutResult.parse((await resultOf(cid)).body);
    expect(result.state).toBe('completed');
    expect(FinalPayload.parse(result.payload).on_final).toEqual(['log.input']);
    expect(result.payload.data['crm.get-user']).toMatchObject({ ok: true, cid, response: { user_id: '123' } });
    expect(Object.keys(result.payload.data).sort()).toEqual(Object.keys(SEED_TARGETS).sort());
    expect((await call('GET', `/v1/fanouts/${cid}`)).body).toMatchObject({ state: 'completed', ok: 3, settled: 3 });
  });

  it('POST /v1/fanouts with batching runs its targets in batches, each with its record and callback', async () => {
    const accepted = await call('POST', '/v1/fanouts', {
      targets: SEED_TARGETS,
      finalCallbacks: ['log.input'],
      onTarget: ['log.input'],
      source: 'batched-over-http',
      batching: { maxTargets: 2 },
    });
    expect(accepted.status).toBe(202);
    const cid = accepted.body.cid as string;
    const body = (await resultOf(cid)).body;
    expect(body.counts).toMatchObject({ total: 3, ok: 3, callbacks: 4 });
    const result = FanoutResult.parse(body);
    expect(result.state).toBe('completed');
    expect(result.callbacks.filter((c) => c.ok && c.channel === 'FANOUT_ON_TARGET')).toHaveLength(3);
    expect(result.payload.data['scoring.get-score']).toMatchObject({ ok: true, cid, source: 'batched-over-http' });
    const history = await stack.env.client.workflow.getHandle(cid).fetchHistory();
    const scheduled = (history.events ?? []).map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name);
    expect(scheduled.filter((name) => name === 'fanout.runBatch')).toHaveLength(2);
  });

  it('GET /v1/fanouts/{cid}/records pages through the records in target order, or streams them as NDJSON', async () => {
    const targets = Object.fromEntries(Array.from({ length: 7 }, (_, i) => [`user-${i}`, { user_id: `u${i}` }]));
    const targetOptions = Object.fromEntries(Object.keys(targets).map((name) => [name, { service: 'crm.get-user' }]));
    const accepted = await call('POST', '/v1/fanouts', { targets, targetOptions, finalCallbacks: ['log.input'] });
    const cid = accepted.body.cid as string;
    await resultOf(cid);
    const first = RecordsPage.parse((await call('GET', `/v1/fanouts/${cid}/records?limit=5`)).body);
    expect(first.records.map((r) => r.record.target)).toEqual(Object.keys(targets).slice(0, 5));
    const second = RecordsPage.parse(
      (await call('GET', `/v1/fanouts/${cid}/records?limit=5&cursor=${first.cursor}`)).body,
    );
    expect(second.records.map((r) => r.record.target)).toEqual(['user-5', 'user-6']);
    expect(second.cursor).toBeUndefined();
    const streamed = await fetch(`${stack.url}/v1/fanouts/${cid}/records`, {
      headers: { authorization: `Bearer ${KEY}`, accept: 'application/x-ndjson' },
    });
    expect(streamed.headers.get('content-type')).toMatch(/application\/x-ndjson/);
    const lines = (await streamed.text())
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(lines.map((l) => l.record.target)).toEqual(Object.keys(targets));
    expect(lines.every((l) => l.state === 'ok' && l.record.ok)).toBe(true);
    expect((await call('GET', `/v1/fanouts/${cid}/records?cursor=abc`)).status).toBe(400);
    expect((await call('GET', '/v1/fanouts/no-such-cid/records')).status).toBe(404);
  });

  it('GET /v1/fanouts/{cid}/results/manifest: the files written with writeResults; 404 without them', async () => {
    const accepted = await call('POST', '/v1/fanouts', {
      targets: SEED_TARGETS,
      finalCallbacks: ['log.input'],
      writeResults: true,
    });
    const cid = accepted.body.cid as string;
    await resultOf(cid);
    const reply = await call('GET', `/v1/fanouts/${cid}/results/manifest`);
    expect(reply.status).toBe(200);
    const manifest = ResultsManifest.parse(reply.body);
    expect(manifest).toMatchObject({ cid, state: 'completed', run: 0, counts: { total: 3, ok: 3, failed: 0 } });
    expect(manifest.files.succeeded).toMatchObject({ key: `fanouts/${cid}/results/succeeded.jsonl`, records: 3 });

    const without = await call('POST', '/v1/fanouts', { targets: SEED_TARGETS, finalCallbacks: ['log.input'] });
    await resultOf(without.body.cid as string);
    const missing = await call('GET', `/v1/fanouts/${without.body.cid as string}/results/manifest`);
    expectProblem(missing, 404, 'results-not-found');
    expect(missing.body.cid).toBe(without.body.cid);
  });

  it('POST /v1/fanouts with the caller’s own CID returns that CID', async () => {
    const cid = `own-${Date.now()}`;
    const accepted = await call('POST', '/v1/fanouts', { targets: SEED_TARGETS, finalCallbacks: ['log.input'], cid });
    expect(accepted.status).toBe(202);
    expect(accepted.body).toEqual({ cid });
    expect(accepted.headers.get('location')).toBe(`/v1/fanouts/${cid}`);
  });

  it('POST /v1/parallel → 202; the execution completes with every target', async () => {
    const accepted = await call('POST', '/v1/parallel', { targets: SEED_TARGETS, onTarget: ['log.input'] });
    expect(accepted.status).toBe(202);
    const cid = accepted.body.cid as string;
    expect(accepted.headers.get('location')).toBe(`/v1/fanouts/${cid}`);
    const result = FanoutResult.parse((await resultOf(cid)).body);
    expect(result.targets).toEqual({
      'crm.get-user': 'ok',
      'erp.get-user-information': 'ok',
      'scoring.get-score': 'ok',
    });
    expect((await call('GET', `/v1/fanouts/${cid}`)).body).toMatchObject({ pattern: 'parallel', state: 'completed' });
  });

  it('POST /v1/invoke-retry → 202; state, then the result', async () => {
    const accepted = await call('POST', '/v1/invoke-retry', {
      target: 'crm.get-user',
      request: { user_id: '7' },
      attempts: 3,
      interval: '1s',
      callbacks: ['log.input'],
    });
    expect(accepted.status).toBe(202);
    const cid = accepted.body.cid as string;
    expect(accepted.headers.get('location')).toBe(`/v1/fanouts/${cid}`);
    const result = InvokeRetryResult.parse((await resultOf(cid)).body);
    expect(result.record).toMatchObject({ ok: true, target: 'crm.get-user', response: { user_id: '7' } });
    expect((await call('GET', `/v1/fanouts/${cid}`)).body).toMatchObject({
      cid,
      pattern: 'invoke-retry',
      state: 'completed',
      total: 1,
      ok: 1,
      targets: { 'crm.get-user': 'ok' },
    });
  });
});

describe('running fan-outs: 409 on result, PATCH changes them, DELETE cancels', () => {
  it('409 while running, 200 on PATCH, 202 on DELETE, then the cancelled result; DELETE or PATCH again → 409', async () => {
    const accepted = await call('POST', '/v1/fanouts', {
      targets: { 'crm.get-user': { user_id: '5' }, report: { user_id: '5', hours: 48 } },
      targetOptions: { report: { service: 'reports.build-credit-report' } },
      finalCallbacks: ['log.input'],
    });
    const cid = accepted.body.cid as string;
    await until(async () => ((await call('GET', `/v1/fanouts/${cid}`)).body.running === 1 ? true : undefined));

    expectProblem(await call('GET', `/v1/fanouts/${cid}/result`), 409, 'still-running');

    const patched = await call('PATCH', `/v1/fanouts/${cid}`, { maxConcurrency: 3, paused: true });
    expect(patched.status).toBe(200);
    expect(patched.body).toEqual({ maxConcurrency: 3, paused: true });
    expect((await call('GET', `/v1/fanouts/${cid}`)).body).toMatchObject({ maxConcurrency: 3, paused: true });
    const invalid = await call('PATCH', `/v1/fanouts/${cid}`, { maxConcurrency: 0, extra: 1 });
    expectProblem(invalid, 400, 'invalid-request');
    expect((invalid.body.errors as { pointer: string }[]).map((e) => e.pointer).sort()).toEqual([
      '/extra',
      '/maxConcurrency',
    ]);
    expectProblem(await call('PATCH', `/v1/fanouts/${cid}`, {}), 400, 'invalid-request');

    const cancelled = await call('DELETE', `/v1/fanouts/${cid}`);
    expect(cancelled.status).toBe(202);
    expect(cancelled.body).toEqual({ cid });
    const result = FanoutResult.parse((await resultOf(cid)).body);
    expect(result.state).toBe('cancelled');
    expect(result.targets.report).toBe('cancelled');

    expectProblem(await call('DELETE', `/v1/fanouts/${cid}`), 409, 'not-running');
    expectProblem(await call('PATCH', `/v1/fanouts/${cid}`, { paused: false }), 409, 'control-refused');

    // The cancelled report runs again under the same CID; the target that succeeded is kept.
    const redriven = await call('POST', `/v1/fanouts/${cid}/redrive`);
    expect(redriven.status).toBe(202);
    expect(redriven.body).toEqual({ cid, redrive: 1, targets: 1 });
    await until(async () => ((await call('GET', `/v1/fanouts/${cid}`)).body.running === 1 ? true : undefined));
    expect((await call('GET', `/v1/fanouts/${cid}`)).body).toMatchObject({ redrive: 1, total: 1 });
    expectProblem(await call('POST', `/v1/fanouts/${cid}/redrive`), 409, 'still-running');
    expect((await call('DELETE', `/v1/fanouts/${cid}`)).status).toBe(202);
    const again = FanoutResult.parse((await resultOf(cid)).body);
    expect(again).toMatchObject({
      state: 'cancelled',
      redrive: 1,
      targets: { 'crm.get-user': 'ok', report: 'cancelled' },
    });
  });

  it('a failure policy and a deadline in the body stop the fan-out, and the result says why', async () => {
    const report = (extra: object = {}) => ({ service: 'reports.build-credit-report', ...extra });
    const [failFast, deadline] = await Promise.all([
      call('POST', '/v1/fanouts', {
        targets: { short: { user_id: '7', hours: 48 }, long: { user_id: '7', hours: 48 } },
        // `short` times out after a second and fails; fail-fast then cancels `long`.
        targetOptions: { short: report({ startToCloseTimeout: '1 second' }), long: report() },
        failurePolicy: 'fail-fast',
        finalCallbacks: ['log.input'],
      }),
      call('POST', '/v1/fanouts', {
        targets: { 'crm.get-user': { user_id: '8' }, report: { user_id: '8', hours: 48 } },
        targetOptions: { report: report() },
        deadline: '2 seconds',
        finalCallbacks: ['log.input'],
      }),
    ]);
    const stoppedByPolicy = FanoutResult.parse((await resultOf(failFast.body.cid as string)).body);
    expect(stoppedByPolicy).toMatchObject({
      state: 'cancelled',
      stopped: { reason: 'failure-policy', message: '1 of 2 targets failed; fail-fast' },
      targets: { short: 'failed', long: 'cancelled' },
    });
    const stoppedByDeadline = FanoutResult.parse((await resultOf(deadline.body.cid as string)).body);
    expect(stoppedByDeadline).toMatchObject({
      state: 'cancelled',
      stopped: { reason: 'deadline', message: 'the deadline of 2 seconds passed' },
      targets: { 'crm.get-user': 'ok', report: 'cancelled' },
    });
  });

  it('a quorum, hedging, adaptive concurrency and a circuit breaker in the body: the result and history show them', async () => {
    const quorum = await call('POST', '/v1/fanouts', {
      targets: {
        'crm.get-user': { user_id: '9' },
        'scoring.get-score': { uid: '9' },
        report: { user_id: '9', hours: 48 },
      },
      targetOptions: { report: { service: 'reports.build-credit-report' } },
      completion: { successes: 2 },
      finalCallbacks: ['log.input'],
    });
    expect(FanoutResult.parse((await resultOf(quorum.body.cid as string)).body)).toMatchObject({
      state: 'completed',
      stopped: { reason: 'quorum' },
      targets: { 'crm.get-user': 'ok', 'scoring.get-score': 'ok', report: 'cancelled' },
    });

    const users = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`u${i}`, { USER_ID: `u${i}` }]));
    const policies = await call('POST', '/v1/fanouts', {
      targets: users,
      targetOptions: Object.fromEntries(
        Object.keys(users).map((name) => [name, { service: 'erp.get-user-information' }]),
      ),
      hedging: { after: 1, max: 2 },
      adaptiveConcurrency: { min: 2, max: 4 },
      circuitBreaker: { failures: 3 },
      finalCallbacks: ['log.input'],
    });
    const cid = policies.body.cid as string;
    const result = FanoutResult.parse((await resultOf(cid)).body);
    expect(Object.values(result.targets)).toEqual(Array(10).fill('ok'));
    const erp = result.latency?.['erp.get-user-information'];
    expect(erp?.count).toBe(10);
    // As many second attempts in the history as the result counts, within `max`.
    const history = await stack.env.client.workflow.getHandle(cid).fetchHistory();
    const hedges = (history.events ?? []).filter((e) =>
      e.activityTaskScheduledEventAttributes?.activityId?.startsWith('hedge/'),
    ).length;
    expect(hedges).toBe(erp?.hedged ?? 0);
    expect(hedges).toBeLessThanOrEqual(2);
    expect(erp?.hedgesWon ?? 0).toBeLessThanOrEqual(hedges);
  });

  it('409 when a finished fan-out has nothing to redrive', async () => {
    const accepted = await call('POST', '/v1/fanouts', { targets: SEED_TARGETS, finalCallbacks: ['log.input'] });
    const cid = accepted.body.cid as string;
    await resultOf(cid);
    expectProblem(await call('POST', `/v1/fanouts/${cid}/redrive`), 409, 'control-refused');
  });
});

describe('client errors', () => {
  it('400 names each invalid field by JSON Pointer', async () => {
    const reply = await call('POST', '/v1/fanouts', {
      targets: { 'crm.get-user': { user_id: '1' } },
      finalCallbacks: [{ name: 'delivery.webhook', options: { url: 'ftp://example.com' } }, 42],
      maxConcurrency: 0,
      cid: 'has a space',
      failurePolicy: { toleratedFailurePercent: 120 },
      deadline: 'soon',
      batching: { maxTargets: 5_000, maxBytes: 0 },
      unexpected: true,
    });
    expectProblem(reply, 400, 'invalid-request');
    const pointers = (reply.body.errors as { pointer: string; reason: string }[]).map((e) => e.pointer).sort();
    expect(pointers).toEqual([
      '/batching/maxBytes',
      '/batching/maxTargets',
      '/cid',
      '/deadline',
      '/failurePolicy/toleratedFailurePercent',
      '/finalCallbacks/0/options/url',
      '/finalCallbacks/1',
      '/maxConcurrency',
      '/unexpected',
    ]);
  });

  it('400 for a target request that does not match the service’s schema, pointing into it', async () => {
    const reply = await call('POST', '/v1/fanouts', {
      targets: { 'crm.get-user': { userid: '1' } },
      finalCallbacks: ['log.input'],
    });
    expectProblem(reply, 400, 'invalid-request');
    expect(reply.body.errors).toEqual([{ pointer: '/targets/crm.get-user/user_id', reason: expect.any(String) }]);
  });

  it('400 for missing callbacks, per pattern', async () => {
    for (const [path, body, pointer] of [
      ['/v1/fanouts', { targets: SEED_TARGETS }, '/finalCallbacks'],
      ['/v1/parallel', { targets: SEED_TARGETS }, '/onTarget'],
      ['/v1/invoke-retry', { target: 'crm.get-user', request: {}, attempts: 1, interval: '1s' }, '/callbacks'],
    ] as const) {
      const reply = await call('POST', path, body);
      expectProblem(reply, 400, 'invalid-request');
      expect((reply.body.errors as { pointer: string }[]).map((e) => e.pointer)).toContain(pointer);
    }
  });

  it('400 for bodies that are not JSON objects, never a 500', async () => {
    for (const body of [
      '{"targets":',
      '[]',
      'null',
      '"text"',
      '42',
      '{"__proto__":{"x":1}}',
      '{"targets":{"a":1},"finalCallbacks":"x"}',
    ]) {
      const reply = await call('POST', '/v1/fanouts', body);
      expect(reply.status, body).toBe(400);
      expect(reply.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(reply.body.type).toMatch(/^urn:problem:fanout:(invalid-request|bad-request)$/);
    }
  });

  it('415 for a body that is not application/json', async () => {
    const reply = await call('POST', '/v1/fanouts', 'targets=1', { headers: { 'content-type': 'text/plain' } });
    expectProblem(reply, 415, 'unsupported-media-type');
  });

  it('422 for unknown services and callbacks, listing them', async () => {
    const reply = await call('POST', '/v1/fanouts', {
      targets: { 'crm.get-user': { user_id: '1' }, 'nope.service': {} },
      finalCallbacks: ['nope.callback'],
    });
    expectProblem(reply, 422, 'unknown-service');
    expect(reply.body).toMatchObject({ unknownServices: ['nope.service'], unknownCallbacks: ['nope.callback'] });
  });

  it('422 for webhook URLs pointing at internal addresses that are not allow-listed', async () => {
    for (const url of ['http://169.254.169.254/latest/meta-data/', 'http://10.0.0.1/hook', 'http://[::1]:8080/hook']) {
      const reply = await call('POST', '/v1/fanouts', { targets: SEED_TARGETS, delivery: { webhook: { url } } });
      expectProblem(reply, 422, 'webhook-url-refused');
    }
  });

  it('422 for callbacks that could not be delivered as configured, naming what is missing; nothing starts', async () => {
    const cid = `undeliverable-${Date.now()}`;
    const reply = await call('POST', '/v1/fanouts', {
      cid,
      targets: SEED_TARGETS,
      delivery: { webhook: { url: 'https://receiver.example/hook', secret: 'partner' } },
      onTarget: [{ name: 'delivery.amqp', options: { exchange: '', routingKey: 'replies' } }],
    });
    expectProblem(reply, 422, 'callback-not-deliverable');
    expect((reply.body as { errors: unknown[] }).errors).toEqual([
      { pointer: '/onTarget/0/options', reason: 'no AMQP connection named "default" is configured (AMQP_URL)' },
      {
        pointer: '/finalCallbacks/0/options',
        reason: 'no webhook secret named "partner" is configured (WEBHOOK_SECRET_PARTNER)',
      },
    ]);
    expectProblem(await call('GET', `/v1/fanouts/${cid}`), 404, 'fanout-not-found');
  });

  it('409 for a CID already in use, even after that fan-out finished', async () => {
    const cid = `dup-${Date.now()}`;
    const body = { targets: SEED_TARGETS, finalCallbacks: ['log.input'], cid };
    expect((await call('POST', '/v1/fanouts', body)).status).toBe(202);
    expectProblem(await call('POST', '/v1/fanouts', body), 409, 'duplicate-cid');
    await resultOf(cid);
    expectProblem(
      await call('POST', '/v1/parallel', { ...body, onTarget: ['log.input'], finalCallbacks: undefined }),
      409,
      'duplicate-cid',
    );
  });

  it('404 for an unknown CID on every route, and for unknown routes', async () => {
    for (const [method, path, body] of [
      ['GET', '/v1/fanouts/no-such-cid', undefined],
      ['GET', '/v1/fanouts/no-such-cid/result', undefined],
      ['DELETE', '/v1/fanouts/no-such-cid', undefined],
      ['PATCH', '/v1/fanouts/no-such-cid', { paused: true }],
      ['POST', '/v1/fanouts/no-such-cid/redrive', undefined],
    ] as const) {
      const reply = await call(method, path, body);
      expectProblem(reply, 404, 'fanout-not-found');
      expect(reply.body.cid).toBe('no-such-cid');
    }
    expectProblem(await call('GET', '/v1/nothing-here'), 404, 'not-found');
  });

  it('413 for a body over the configured limit', async () => {
    const reply = await call('POST', '/v1/fanouts', {
      targets: { 'crm.get-user': { user_id: 'x'.repeat(BODY_LIMIT) } },
      finalCallbacks: ['log.input'],
    });
    expectProblem(reply, 413, 'body-too-large');
  });

  it('413 for a chunked body that grows over the limit (no Content-Length to check up front)', async () => {
    const { port } = new URL(stack.url);
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request({
        host: '127.0.0.1',
        port,
        path: '/v1/fanouts',
        method: 'POST',
        headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
      });
      req.on('response', (res) => resolve(res.statusCode ?? 0));
      req.on('error', reject);
      req.write('{"targets":{"a":"');
      for (let i = 0; i < 8; i++) req.write('y'.repeat(4096));
      req.end('"}}');
    });
    expect(status).toBe(413);
  });
});

describe('authentication', () => {
  it('401 without a key, with an unknown key, or with another scheme; both configured keys work', async () => {
    expectProblem(await call('GET', '/v1/fanouts/x', undefined, { key: null }), 401, 'unauthorized');
    expectProblem(await call('GET', '/v1/fanouts/x', undefined, { key: 'wrong' }), 401, 'unauthorized');
    const basic = await call('GET', '/v1/fanouts/x', undefined, {
      key: null,
      headers: { authorization: `Basic ${KEY}` },
    });
    expectProblem(basic, 401, 'unauthorized');
    expect(basic.headers.get('www-authenticate')).toBe('Bearer realm="fanout"');
    expect((await call('POST', '/v1/fanouts', { targets: SEED_TARGETS }, { key: null })).status).toBe(401);
    expect((await call('GET', '/v1/fanouts/x', undefined, { key: OLD_KEY })).status).toBe(404);
    expect((await call('GET', '/v1/fanouts/x', undefined, { key: KEY })).status).toBe(404);
  });
});
