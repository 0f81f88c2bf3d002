/**
 * A seeded fuzz test of the HTTP API over loopback: a bounded number of hostile requests (mutated valid bodies,
 * odd paths, methods, media types and headers through fetch; malformed HTTP through raw sockets), then follow-ups
 * of whatever was accepted. No input may get a 5xx, every error carries problem details, and a valid request still
 * works afterwards. FUZZ_SEED and FUZZ_COUNT override the defaults to explore or to reproduce a failure.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { FanoutResult } from '../src/contracts';
import type { ApiStack } from './helpers/api-stack';
import { startApiStack } from './helpers/api-stack';
import { rawRequest } from './helpers/raw-http';
import { waitFor } from './helpers/wait';

const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed18);
const COUNT = Number(process.env.FUZZ_COUNT ?? 400);
const TIME_BUDGET_MS = 90_000;
const KEY = 'fuzz-key';

let stack: ApiStack;
let port: number;

beforeAll(async () => {
  stack = await startApiStack({
    apiKeys: [KEY],
    webhookSecret: `whsec_${randomBytes(24).toString('base64')}`,
    bodyLimit: 256 * 1024,
  });
  port = Number(new URL(stack.url).port);
}, 180_000);

afterAll(async () => {
  await stack?.close();
});

/** mulberry32: small, fast, and the same sequence for the same seed on every machine. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)];
  return { next, int, pick, chance: (p: number) => next() < p };
}
type Rng = ReturnType<typeof prng>;

const NAMES = [
  'crm.get-user',
  'erp.get-user-information',
  'scoring.get-score',
  'reports.build-credit-report',
  'log.input',
  'delivery.webhook',
  'delivery.amqp',
  'constructor',
  'toString',
  'hasOwnProperty',
  '__proto__',
  'valueOf',
  'prototype',
  '',
  'a/b',
  ' ',
  '\ud800',
  'x'.repeat(300),
  'fanout.describeCatalog',
];

const TEMPLATES: { path: string; body: () => Record<string, unknown> }[] = [
  {
    path: '/v1/fanouts',
    body: () => ({
      targets: { 'crm.get-user': { user_id: '1' }, 'scoring.get-score': { uid: '1' } },
      finalCallbacks: ['log.input'],
      onTarget: ['log.input'],
      source: 'fuzz',
    }),
  },
  { path: '/v1/parallel', body: () => ({ targets: { 'crm.get-user': { user_id: '2' } }, onTarget: ['log.input'] }) },
  {
    path: '/v1/invoke-retry',
    body: () => ({
      target: 'scoring.get-score',
      request: { uid: '3' },
      attempts: 2,
      interval: '1s',
      callbacks: ['log.input'],
    }),
  },
];

function randomString(rng: Rng): string {
  switch (rng.int(8)) {
    case 0:
      return '';
    case 1:
      return rng.pick(NAMES);
    case 2:
      return String.fromCharCode(...Array.from({ length: 1 + rng.int(6) }, () => rng.int(0x10000)));
    case 3:
      return 'y'.repeat(rng.pick([10, 256, 4096, 70_000]));
    case 4:
      return rng.pick(['1s', '0', '-5 minutes', 'forever', 'NaN', '1e309', '10 years']);
    case 5:
      return rng.pick(['http://127.0.0.1:1/hook', 'http://169.254.169.254/', 'ftp://x', 'javascript:alert(1)']);
    default:
      return randomBytes(1 + rng.int(12)).toString(rng.chance(0.5) ? 'hex' : 'latin1');
  }
}

/** Too deep for JSON.stringify here as well: stands in the value, and is spliced into the JSON text later. */
const DEEP = '@@deep@@';
const deepText = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

function nested(rng: Rng, depth: number): unknown {
  if (depth > 1000) return DEEP;
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = rng.chance(0.5) ? [value] : { a: value };
  return value;
}

function randomValue(rng: Rng, depth = 0): unknown {
  switch (rng.int(depth > 2 ? 6 : 9)) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5);
    case 2:
      return rng.pick([0, -1, 1.5, 1e308, -0, 2 ** 53 + 1, 1001, 10_001]);
    case 3:
    case 4:
    case 5:
      return randomString(rng);
    case 6:
      return Array.from({ length: rng.int(4) }, () => randomValue(rng, depth + 1));
    case 7:
      return Object.fromEntries(
        Array.from({ length: rng.int(4) }, () => [rng.pick(NAMES), randomValue(rng, depth + 1)]),
      );
    default:
      return nested(rng, rng.pick([5, 63, 65, 200, 10_000]));
  }
}

/** A valid body with a few random changes: a member replaced, removed or added, anywhere in it. */
function mutate(rng: Rng, body: Record<string, unknown>): unknown {
  const mutations = 1 + rng.int(3);
  for (let m = 0; m < mutations; m++) {
    // Walk to a random object inside the body.
    let target: Record<string, unknown> = body;
    for (let d = 0; d < 3 && rng.chance(0.5); d++) {
      const objects = Object.values(target).filter(
        (v): v is Record<string, unknown> => typeof v === 'object' && v !== null,
      );
      if (!objects.length) break;
      target = rng.pick(objects);
    }
    const keys = Object.keys(target);
    const key = keys.length && rng.chance(0.6) ? rng.pick(keys) : rng.pick(NAMES.concat(['cid', 'targetOptions']));
    if (rng.chance(0.15)) delete target[key];
    else if (key === '__proto__')
      Object.defineProperty(target, key, {
        value: randomValue(rng),
        enumerable: true,
        configurable: true,
        writable: true,
      });
    else target[key] = randomValue(rng);
  }
  if (rng.chance(0.1)) body.targetOptions = { [rng.pick(NAMES)]: { service: rng.pick(NAMES) } };
  if (rng.chance(0.05)) body.delivery = { webhook: { url: randomString(rng) } };
  return body;
}

interface Outcome {
  label: string;
  status: number;
  contentType: string;
  body: string;
}

async function viaFetch(rng: Rng): Promise<Outcome & { cid?: string }> {
  const template = rng.pick(TEMPLATES);
  const methods = ['GET', 'POST', 'POST', 'POST', 'DELETE', 'PUT', 'PATCH', 'OPTIONS', 'HEAD'];
  const method = rng.pick(methods);
  let path = template.path;
  if (method !== 'POST' || rng.chance(0.1)) {
    const cid = rng.chance(0.3)
      ? encodeURIComponent(randomString(rng).replace(/[\ud800-\udfff]/g, 'z'))
      : rng.pick(['', '%', '%zz', '..', '%2e%2e', 'no-such', '%2F', '%00', '~', 'x'.repeat(999)]);
    path = rng.pick([`/v1/fanouts/${cid}`, `/v1/fanouts/${cid}/result`, `/v1/${cid}`, `/${cid}`, '/v1/fanouts']);
    if (rng.chance(0.2)) path += rng.pick(['?', '?a=1&a=2', '#frag', '?cid=%FF', '/', '//']);
  }
  const headers: Record<string, string> = {};
  if (rng.chance(0.9))
    headers.authorization = rng.chance(0.95) ? `Bearer ${KEY}` : rng.pick(['Bearer', 'Basic x', `Bearer ${KEY}x`]);
  let body: string | undefined;
  if (method !== 'GET' && method !== 'HEAD' && rng.chance(0.9)) {
    headers['content-type'] = rng.chance(0.9)
      ? rng.pick(['application/json', 'application/json; charset=utf-8', 'application/JSON'])
      : rng.pick(['text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=latin1', 'foo']);
    body = rng.chance(0.85)
      ? JSON.stringify(mutate(rng, template.body())).replaceAll(`"${DEEP}"`, deepText(10_000))
      : rng.pick(['', '{', 'null', '[]', '{"a":1,"a":2}', '{"__proto__":{}}', '{"constructor":{"prototype":{}}}']);
  }
  if (rng.chance(0.1))
    headers[rng.pick(['accept', 'x-forwarded-for', 'content-encoding', 'accept-language'])] = rng.pick([
      'gzip',
      '*/*',
      'application/xml',
      '1.2.3.4',
      '100-continue',
    ]);
  const label = `${method} ${path} ${body?.slice(0, 160) ?? ''}`;
  try {
    const response = await fetch(stack.url + path, { method, headers, body, signal: AbortSignal.timeout(15_000) });
    const text = await response.text();
    let cid: string | undefined;
    if (response.status === 202 && method === 'POST') cid = (JSON.parse(text) as { cid: string }).cid;
    return { label, status: response.status, contentType: response.headers.get('content-type') ?? '', body: text, cid };
  } catch (error) {
    return {
      label: `${label} (${(error as Error).message}: ${String((error as Error).cause)})`,
      status: -1,
      contentType: '',
      body: '',
    };
  }
}

async function viaSocket(rng: Rng): Promise<Outcome> {
  const auth = `Authorization: Bearer ${KEY}\r\n`;
  const body = '{"targets":{"crm.get-user":{"user_id":"9"}},"finalCallbacks":["log.input"]}';
  const requests = [
    () => `GET /v1/fanouts/%${randomBytes(1).toString('hex').toUpperCase()}%FF HTTP/1.1\r\nHost: a\r\n${auth}\r\n`,
    () => `GET /v1/fanouts/${'c'.repeat(1001 + rng.int(4000))} HTTP/1.1\r\nHost: a\r\n${auth}\r\n`,
    () => `GET /healthz HTTP/1.1\r\nHost: a\r\nX-A: ${'h'.repeat(17_000 + rng.int(10_000))}\r\n\r\n`,
    () => `GET /v1/fanouts/x HTTP/1.1\r\n${auth}\r\n`,
    () =>
      `POST /v1/fanouts HTTP/1.1\r\nHost: a\r\n${auth}Expect: ${randomBytes(4).toString('hex')}\r\nContent-Length: 2\r\n\r\n{}`,
    () =>
      `POST /v1/fanouts HTTP/1.1\r\nHost: a\r\n${auth}Content-Length: ${rng.pick(['-1', 'x', '1, 2', '99999999999999999999'])}\r\n\r\n`,
    () =>
      `POST /v1/fanouts HTTP/1.1\r\nHost: a\r\n${auth}Content-Type: application/json\r\nContent-Length: ${body.length}\r\nTransfer-Encoding: chunked\r\n\r\n${body}`,
    () => randomBytes(1 + rng.int(200)).toString('latin1') + '\r\n\r\n',
    () =>
      `${rng.pick(['GET', 'BREW', 'G\u0000T'])} ${rng.pick(['/', '*', 'http://x/', '/\x7f'])} HTTP/${rng.pick(['1.1', '1.0', '2.0', '9'])}\r\nHost: a\r\n\r\n`,
    () =>
      `POST /v1/invoke-retry HTTP/1.1\r\nHost: a\r\n${auth}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${rng.pick(['zz', '5\r\n{"a":', 'ffffffffff'])}\r\n\r\n`,
  ];
  const request = rng.pick(requests)();
  const reply = await rawRequest(port, request, 15_000);
  return {
    label: `raw ${JSON.stringify(request.slice(0, 160))}`,
    status: reply.status,
    contentType: reply.headers['content-type'] ?? '',
    body: reply.body,
  };
}

function check(outcome: Outcome, failures: string[]): void {
  const { status, label, contentType, body } = outcome;
  if (status >= 500 || status === -1) failures.push(`${status} for ${label}: ${body.slice(0, 300)}`);
  else if (status >= 400 && !label.startsWith('HEAD') && !/^application\/problem\+json/.test(contentType))
    failures.push(`${status} without problem details for ${label}: ${contentType} ${body.slice(0, 200)}`);
}

it(`${COUNT} seeded hostile requests (seed ${SEED}): no 5xx, problem details on every error`, async () => {
  const rng = prng(SEED);
  const failures: string[] = [];
  const accepted: string[] = [];
  const statuses = new Map<number, number>();
  const deadline = Date.now() + TIME_BUDGET_MS;
  let sent = 0;
  for (; sent < COUNT && Date.now() < deadline; sent++) {
    // A socket that the raw path leaves half-open must not matter: each request is independent.
    const outcome = rng.chance(0.15) ? await viaSocket(rng) : await viaFetch(rng);
    statuses.set(outcome.status, (statuses.get(outcome.status) ?? 0) + 1);
    check(outcome, failures);
    if ('cid' in outcome && typeof outcome.cid === 'string') accepted.push(outcome.cid);
  }
  // Follow-ups of whatever was accepted: progress, result and cancel must answer cleanly too.
  for (const cid of accepted.slice(0, 40)) {
    for (const [method, path] of [
      ['GET', `/v1/fanouts/${encodeURIComponent(cid)}`],
      ['GET', `/v1/fanouts/${encodeURIComponent(cid)}/result`],
      ['DELETE', `/v1/fanouts/${encodeURIComponent(cid)}`],
    ]) {
      const response = await fetch(stack.url + path, { method, headers: { authorization: `Bearer ${KEY}` } });
      const body = await response.text();
      check(
        {
          label: `${method} ${path}`,
          status: response.status,
          contentType: response.headers.get('content-type') ?? '',
          body,
        },
        failures,
      );
    }
  }
  console.log(
    `fuzz seed ${SEED}: ${sent} requests, ${accepted.length} accepted; statuses`,
    Object.fromEntries(statuses),
  );
  expect(sent).toBeGreaterThanOrEqual(Math.min(COUNT, 100));
  expect(failures).toEqual([]);
}, 240_000);

it('still serves a valid request afterwards', async () => {
  const response = await fetch(`${stack.url}/v1/fanouts`, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ targets: { 'crm.get-user': { user_id: 'after' } }, finalCallbacks: ['log.input'] }),
  });
  expect(response.status).toBe(202);
  const { cid } = (await response.json()) as { cid: string };
  let result: ReturnType<typeof FanoutResult.parse> | undefined;
  await waitFor(async () => {
    const reply = await fetch(`${stack.url}/v1/fanouts/${cid}/result`, { headers: { authorization: `Bearer ${KEY}` } });
    if (reply.status !== 200) return false;
    result = FanoutResult.parse(await reply.json());
    return true;
  }, 30_000);
  expect(result).toMatchObject({ cid, state: 'completed' });
  expect(result!.payload.data['crm.get-user']).toMatchObject({ ok: true, response: { user_id: 'after' } });
});
