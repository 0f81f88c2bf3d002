/**
 * Every hostile request of issue 18 gets a 4xx with an RFC 9457 problem-details body, never a 5xx: errors fastify
 * and Node raise before any route runs (over raw sockets), bodies nested too deep, lone surrogates, empty CIDs,
 * inherited property names taken for services, and the result of a fan-out whose workflow failed.
 * Over real HTTP on loopback, against a real worker on the official dev server.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FanoutClient } from '../src/client';
import type { Catalog } from '../src/contracts';
import { MAX_CALLBACKS } from '../src/contracts';
import type { ApiStack } from './helpers/api-stack';
import { startApiStack } from './helpers/api-stack';
import type { RawReply } from './helpers/raw-http';
import { rawRequest } from './helpers/raw-http';
import { waitFor } from './helpers/wait';

const KEY = 'hostile-test-key';
const AUTH = `Authorization: Bearer ${KEY}\r\n`;
let stack: ApiStack;
let port: number;

interface Reply {
  status: number;
  contentType: string | null;
  body: Record<string, unknown>;
}

async function call(method: string, path: string, body?: string): Promise<Reply> {
  const response = await fetch(stack.url + path, {
    method,
    headers: { authorization: `Bearer ${KEY}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body,
  });
  const text = await response.text();
  return { status: response.status, contentType: response.headers.get('content-type'), body: JSON.parse(text) };
}

function expectProblem(reply: Reply | RawReply, status: number, type?: string): Record<string, unknown> {
  const isRaw = 'raw' in reply;
  const body = isRaw ? (reply as RawReply).json : (reply as Reply).body;
  const contentType = isRaw ? (reply as RawReply).headers['content-type'] : (reply as Reply).contentType;
  expect(reply.status, JSON.stringify(body)).toBe(status);
  expect(contentType).toMatch(/^application\/problem\+json/);
  expect(body).toMatchObject({ status, title: expect.any(String) });
  expect(String(body?.type)).toMatch(/^urn:problem:fanout:/);
  if (type) expect(body?.type).toBe(`urn:problem:fanout:${type}`);
  return body!;
}

const pointers = (body: Record<string, unknown>) => (body.errors as { pointer: string }[]).map((e) => e.pointer);

const SEED = { 'crm.get-user': { user_id: '1' } };

beforeAll(async () => {
  // The default 1 MiB body limit: a 10,000-deep body fits in it.
  stack = await startApiStack({ apiKeys: [KEY], webhookSecret: `whsec_${randomBytes(24).toString('base64')}` });
  port = Number(new URL(stack.url).port);
}, 180_000);

afterAll(async () => {
  await stack?.close();
});

describe('errors raised before routing get problem details', () => {
  const get = (path: string, extra = '') =>
    `GET ${path} HTTP/1.1\r\nHost: api\r\n${AUTH}${extra}Connection: close\r\n\r\n`;

  it('bad percent-encoding in the path → 400', async () => {
    expectProblem(await rawRequest(port, get('/v1/fanouts/%FF')), 400, 'bad-url');
    expectProblem(await rawRequest(port, get('/v1/fanouts/%ED%A0%80/result')), 400, 'bad-url'); // an encoded surrogate
  });

  it('a CID over the path-parameter limit → 414', async () => {
    expectProblem(await rawRequest(port, get(`/v1/fanouts/${'c'.repeat(1500)}`)), 414, 'path-parameter-too-long');
  });

  it('oversized headers or URL → 431', async () => {
    expectProblem(
      await rawRequest(port, get('/healthz', `X-Big: ${'a'.repeat(20_000)}\r\n`)),
      431,
      'headers-too-large',
    );
    expectProblem(await rawRequest(port, get(`/v1/fanouts/${'u'.repeat(20_000)}`)), 431, 'headers-too-large');
  });

  it('requests Node cannot parse → 400', async () => {
    for (const request of [
      'HELLO WORLD\r\n\r\n',
      `POST /v1/fanouts HTTP/1.1\r\nHost: api\r\n${AUTH}Content-Length: abc\r\n\r\n`,
      `POST /v1/fanouts HTTP/1.1\r\nHost: api\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n{}`,
      'GET /\x01 HTTP/1.1\r\nHost: api\r\n\r\n',
      Buffer.from([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03]), // a TLS ClientHello
    ]) {
      expectProblem(await rawRequest(port, request), 400);
    }
  });

  it('no Host header → 400', async () => {
    const reply = await rawRequest(port, `GET /v1/fanouts/x HTTP/1.1\r\n${AUTH}Connection: close\r\n\r\n`);
    expectProblem(reply, 400, 'missing-host');
  });

  it('an Expect other than 100-continue → 417; 100-continue still works', async () => {
    const post = (expectation: string) =>
      `POST /v1/fanouts HTTP/1.1\r\nHost: api\r\n${AUTH}Expect: ${expectation}\r\nContent-Type: application/json\r\n` +
      `Content-Length: 2\r\nConnection: close\r\n\r\n{}`;
    expectProblem(await rawRequest(port, post('100-banana')), 417, 'expectation-failed');
    expectProblem(await rawRequest(port, post('100-continue')), 400, 'invalid-request');
  });
});

describe('bodies', () => {
  const deepArray = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
  const deepObject = (depth: number) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);

  it('a body nested 10,000 deep → 400 before anything serialises it, on every route', async () => {
    const bodies: [string, string][] = [
      ['/v1/fanouts', `{"targets":{"crm.get-user":${deepArray(10_000)}},"finalCallbacks":["log.input"]}`],
      ['/v1/parallel', `{"targets":{"crm.get-user":${deepObject(10_000)}},"onTarget":["log.input"]}`],
      [
        '/v1/invoke-retry',
        `{"target":"crm.get-user","request":${deepArray(10_000)},"attempts":1,"interval":"1s","callbacks":["log.input"]}`,
      ],
      ['/v1/fanouts', deepArray(10_000)],
    ];
    for (const [path, body] of bodies) {
      const problem = expectProblem(await call('POST', path, body), 400, 'invalid-request');
      expect((problem.errors as { reason: string }[])[0].reason).toMatch(/nested deeper than/);
    }
  });

  it('lone surrogates in a CID, a target name or a source → 400 naming the field', async () => {
    const cases: [string, string, string][] = [
      [
        '/v1/fanouts',
        `{"targets":{"crm.get-user":{"user_id":"1"}},"finalCallbacks":["log.input"],"cid":"\\ud800"}`,
        '/cid',
      ],
      [
        '/v1/parallel',
        `{"targets":{"crm.get-user":{"user_id":"1"}},"onTarget":["log.input"],"cid":"a\\udc00b"}`,
        '/cid',
      ],
      [
        '/v1/invoke-retry',
        `{"target":"crm.get-user","request":{"user_id":"1"},"attempts":1,"interval":"1s","callbacks":["log.input"],"cid":"\\ud800"}`,
        '/cid',
      ],
      ['/v1/fanouts', `{"targets":{"\\ud800":{}},"finalCallbacks":["log.input"]}`, '/targets/\ud800'],
      [
        '/v1/fanouts',
        `{"targets":{"crm.get-user":{"user_id":"1"}},"finalCallbacks":["log.input"],"source":"\\udfff"}`,
        '/source',
      ],
    ];
    for (const [path, body, pointer] of cases) {
      const problem = expectProblem(await call('POST', path, body), 400, 'invalid-request');
      expect(pointers(problem)).toContain(pointer);
    }
  });
});

describe('CIDs in the path', () => {
  it('an empty CID → 404, on every route', async () => {
    for (const [method, path] of [
      ['GET', '/v1/fanouts/'],
      ['GET', '/v1/fanouts//result'],
      ['DELETE', '/v1/fanouts/'],
    ]) {
      expectProblem(await call(method, path), 404);
    }
  });

  it('a CID no fan-out can have (slashes, white space, too long) → 404 without asking Temporal', async () => {
    for (const cid of ['a%2Fb', '%20', 'x'.repeat(300), 'a%09b']) {
      expectProblem(await call('GET', `/v1/fanouts/${cid}`), 404, 'fanout-not-found');
      expectProblem(await call('DELETE', `/v1/fanouts/${cid}/`), 404);
    }
  });
});

describe('names are own entries of the catalog only', () => {
  it('targets named like Object.prototype members → 422 unknown services', async () => {
    for (const name of ['constructor', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf']) {
      const problem = expectProblem(
        await call('POST', '/v1/fanouts', JSON.stringify({ targets: { [name]: {} }, finalCallbacks: ['log.input'] })),
        422,
        'unknown-service',
      );
      expect(problem.unknownServices).toEqual([name]);
      expectProblem(
        await call(
          'POST',
          '/v1/invoke-retry',
          JSON.stringify({ target: name, request: {}, attempts: 1, interval: '1s', callbacks: ['log.input'] }),
        ),
        422,
        'unknown-service',
      );
    }
  });

  it('targetOptions.service "__proto__" (or "constructor") → 422', async () => {
    for (const service of ['__proto__', 'constructor']) {
      const body = { targets: SEED, finalCallbacks: ['log.input'], targetOptions: { 'crm.get-user': { service } } };
      const problem = expectProblem(await call('POST', '/v1/fanouts', JSON.stringify(body)), 422, 'unknown-service');
      expect(problem.unknownServices).toEqual([service]);
    }
  });

  it('a targetOptions key with no target → 400 naming it', async () => {
    for (const key of ['nope', 'constructor', 'toString']) {
      const body = {
        targets: SEED,
        finalCallbacks: ['log.input'],
        targetOptions: { [key]: { startToCloseTimeout: '1s' } },
      };
      const problem = expectProblem(await call('POST', '/v1/fanouts', JSON.stringify(body)), 400, 'invalid-request');
      expect(pointers(problem)).toEqual([`/targetOptions/${key}`]);
    }
  });

  it(`more than ${MAX_CALLBACKS} callbacks in a list → 400 naming the list, on every pattern`, async () => {
    const many = Array.from({ length: MAX_CALLBACKS + 1 }, () => 'log.input');
    const requests: [string, Record<string, unknown>, string][] = [
      ['/v1/fanouts', { targets: SEED, finalCallbacks: many }, '/finalCallbacks'],
      ['/v1/fanouts', { targets: SEED, finalCallbacks: ['log.input'], onTarget: many }, '/onTarget'],
      ['/v1/parallel', { targets: SEED, onTarget: many }, '/onTarget'],
      [
        '/v1/invoke-retry',
        { target: 'crm.get-user', request: {}, attempts: 1, interval: '1s', callbacks: many },
        '/callbacks',
      ],
    ];
    for (const [path, body, pointer] of requests) {
      const problem = expectProblem(await call('POST', path, JSON.stringify(body)), 400, 'invalid-request');
      expect(pointers(problem)).toEqual([pointer]);
    }
  });

  it('callbacks named like Object.prototype members → 422 unknown callbacks', async () => {
    for (const callbacks of [['constructor'], [{ name: 'constructor', options: {} }], [{ name: 'toString' }]]) {
      const body = { targets: SEED, finalCallbacks: callbacks };
      expectProblem(await call('POST', '/v1/fanouts', JSON.stringify(body)), 422, 'unknown-service');
    }
  });
});

describe('a fan-out whose workflow failed', () => {
  it('its result is a clear 409 with its state and failure; its progress says failed', async () => {
    // A client that believes in a service the worker does not serve: the workflow's own check fails it.
    const wider: Catalog = {
      services: { 'crm.get-user': { kind: 'activity' }, ghost: { kind: 'activity' } },
      callbacks: ['log.input'],
    };
    const cid = await new FanoutClient({ client: stack.env.client, registry: wider }).invoke({ ghost: {} }, [
      'log.input',
    ]);
    let reply: Reply | undefined;
    await waitFor(async () => {
      reply = await call('GET', `/v1/fanouts/${cid}/result`);
      return reply.status !== 409 || reply.body.type !== 'urn:problem:fanout:still-running';
    });
    const problem = expectProblem(reply!, 409, 'fanout-failed');
    expect(problem).toMatchObject({ cid, state: 'failed', failure: { type: 'UnknownService' } });
    expect((problem.failure as { message: string }).message).toMatch(/unknown services: ghost/);
    const progress = await call('GET', `/v1/fanouts/${cid}`);
    expect(progress.status).toBe(200);
    expect(progress.body).toMatchObject({ cid, state: 'failed' });
    expectProblem(await call('DELETE', `/v1/fanouts/${cid}`), 409, 'not-running');
  });
});
