/**
 * Listing fan-outs, records filtered by outcome and progress pushed as Server-Sent Events, over real HTTP against a
 * real worker on the dev server (visibility is the real server's), and the same through the client (list, watch).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FanoutList } from '../src/client/listing';
import { FanoutNotFoundError, InvalidRequestError } from '../src/client';
import type { FanoutEvent } from '../src/client';
import { RecordsPage } from '../src/contracts';
import type { ApiStack } from './helpers/api-stack';
import { startApiStack } from './helpers/api-stack';
import type { SseItem } from './helpers/sse';
import { openEventStream } from './helpers/sse';
import { waitFor } from './helpers/wait';

const KEY = 'events-test-key';
const SEED_TARGETS = {
  'crm.get-user': { user_id: '1' },
  'erp.get-user-information': { USER_ID: '1' },
  'scoring.get-score': { uid: '1' },
};
/** A child-workflow target that runs for two days: keeps its fan-out running until cancelled. */
const LONG_REPORT = { service: 'reports.build-credit-report' };

let stack: ApiStack;

async function call(path: string, init: { method?: string; body?: unknown } = {}) {
  const response = await fetch(stack.url + path, {
    method: init.method ?? 'GET',
    headers: {
      authorization: `Bearer ${KEY}`,
      ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : {} };
}

async function start(path: string, body: Record<string, unknown>): Promise<string> {
  const accepted = await call(path, { method: 'POST', body });
  expect(accepted.status, JSON.stringify(accepted.body)).toBe(202);
  return accepted.body.cid as string;
}

async function finished(cid: string): Promise<void> {
  await waitFor(async () => (await call(`/v1/fanouts/${cid}/result`)).status === 200, 30_000);
}

/** The listing as parsed by its schema; query values percent-encoded. */
async function listing(query: Record<string, string>) {
  const reply = await call(`/v1/fanouts?${new URLSearchParams(query)}`);
  expect(reply.status, JSON.stringify(reply.body)).toBe(200);
  return FanoutList.parse(reply.body);
}

function expectInvalidQuery(reply: { status: number; headers: Headers; body: Record<string, unknown> }, at: string) {
  expect(reply.status).toBe(400);
  expect(reply.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(reply.body.type).toBe('urn:problem:fanout:invalid-query');
  expect((reply.body.errors as { pointer: string }[]).map((e) => e.pointer)).toEqual([at]);
}

/** Two ok targets, one that fails after a second (`short`) and one that fail-fast then cancels (`long`). */
function failFastFanout(): Promise<string> {
  return start('/v1/fanouts', {
    targets: {
      a: { user_id: 'a' },
      short: { user_id: 's', hours: 48 },
      b: { user_id: 'b' },
      long: { user_id: 'l', hours: 48 },
    },
    targetOptions: {
      a: { service: 'crm.get-user' },
      b: { service: 'crm.get-user' },
      // `short` times out after a second and fails; fail-fast then cancels `long`.
      short: { ...LONG_REPORT, startToCloseTimeout: '1 second' },
      long: LONG_REPORT,
    },
    failurePolicy: 'fail-fast',
    finalCallbacks: ['log.input'],
  });
}

beforeAll(async () => {
  stack = await startApiStack({
    apiKeys: [KEY],
    webhookSecret: `whsec_${randomBytes(24).toString('base64')}`,
    eventsKeepAliveMs: 100,
  });
}, 180_000);

afterAll(async () => {
  await stack?.close();
});

describe('GET /v1/fanouts: listing by source, state and pattern', () => {
  const source = `listing-${randomUUID()}`;
  const cids: Record<'done' | 'parallel' | 'running' | 'other', string> = {} as never;

  beforeAll(async () => {
    cids.done = await start('/v1/fanouts', { targets: SEED_TARGETS, finalCallbacks: ['log.input'], source });
    cids.parallel = await start('/v1/parallel', { targets: SEED_TARGETS, onTarget: ['log.input'], source });
    cids.running = await start('/v1/fanouts', {
      targets: { report: { user_id: '2', hours: 48 } },
      targetOptions: { report: LONG_REPORT },
      finalCallbacks: ['log.input'],
      source,
    });
    cids.other = await start('/v1/fanouts', { targets: SEED_TARGETS, finalCallbacks: ['log.input'], source: 'other' });
    await Promise.all([finished(cids.done), finished(cids.parallel)]);
    // Visibility follows a moment behind: wait until it shows both finished ones as completed.
    await waitFor(async () => (await listing({ source, state: 'completed' })).fanouts.length === 2, 30_000);
  }, 60_000);

  afterAll(async () => {
    await call(`/v1/fanouts/${cids.running}`, { method: 'DELETE' });
  });

  it('pages through one source in two pages, each fan-out once, with what a list shows of it', async () => {
    const first = await listing({ source, limit: '2' });
    expect(first.fanouts).toHaveLength(2);
    expect(first.cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    const second = await listing({ source, limit: '2', cursor: first.cursor! });
    expect(second.fanouts).toHaveLength(1);
    expect(second.cursor).toBeUndefined();
    const all = [...first.fanouts, ...second.fanouts];
    expect(all.map((f) => f.cid).sort()).toEqual([cids.done, cids.parallel, cids.running].sort());

    const byCid = Object.fromEntries(all.map((f) => [f.cid, f]));
    expect(byCid[cids.done]).toMatchObject({ pattern: 'fanout', source, state: 'completed', status: 'COMPLETED' });
    expect(byCid[cids.parallel]).toMatchObject({ pattern: 'parallel', state: 'completed', status: 'COMPLETED' });
    expect(byCid[cids.running]).toMatchObject({ pattern: 'fanout', state: 'running', status: 'RUNNING' });
    expect(byCid[cids.running].closed).toBeUndefined();
    const done = byCid[cids.done];
    expect(Date.parse(done.closed!)).toBeGreaterThanOrEqual(Date.parse(done.started));
    // The running fan-out's child-workflow target is not a fan-out: it is never listed.
    expect(all.every((f) => f.cid !== `${cids.running}/report`)).toBe(true);
  });

  it('filters by state and by pattern', async () => {
    const running = await listing({ source, state: 'running' });
    expect(running.fanouts.map((f) => f.cid)).toEqual([cids.running]);
    const completed = await listing({ source, state: 'completed' });
    expect(completed.fanouts.map((f) => f.cid).sort()).toEqual([cids.done, cids.parallel].sort());
    const parallel = await listing({ source, pattern: 'parallel' });
    expect(parallel.fanouts.map((f) => f.cid)).toEqual([cids.parallel]);
    expect((await listing({ source, pattern: 'invoke-retry' })).fanouts).toEqual([]);
  });

  it('quotes the source: quotes match literally and cannot change the query', async () => {
    const odd = `o'brien & co's ${randomUUID()}`;
    const cid = await start('/v1/fanouts', { targets: SEED_TARGETS, finalCallbacks: ['log.input'], source: odd });
    await waitFor(async () => (await listing({ source: odd })).fanouts.length === 1, 30_000);
    expect((await listing({ source: odd })).fanouts.map((f) => f.cid)).toEqual([cid]);
    // An attempt to widen the query matches no source at all, rather than every fan-out.
    expect((await listing({ source: `x' OR WorkflowType = 'fanout` })).fanouts).toEqual([]);
    expect((await listing({ source: `x'' OR FanoutSource != '` })).fanouts).toEqual([]);
    await finished(cid);
  });

  it('400 naming the parameter for a bad filter, limit or cursor', async () => {
    expectInvalidQuery(await call('/v1/fanouts?state=sleeping'), '/state');
    expectInvalidQuery(await call('/v1/fanouts?pattern=map'), '/pattern');
    expectInvalidQuery(await call('/v1/fanouts?limit=0'), '/limit');
    expectInvalidQuery(await call('/v1/fanouts?limit=ten'), '/limit');
    expectInvalidQuery(await call('/v1/fanouts?source='), '/source');
    expectInvalidQuery(await call('/v1/fanouts?source=a%0Ab'), '/source');
    // Backslashes and double quotes: visibility stores escape them differently, so they are refused, not guessed.
    expectInvalidQuery(await call('/v1/fanouts?source=a%5Cb'), '/source');
    expectInvalidQuery(await call('/v1/fanouts?source=a%22b'), '/source');
    expectInvalidQuery(await call('/v1/fanouts?cursor=not%20a%20cursor'), '/cursor');
    // Well-formed, but not a cursor this listing handed out, or one of another filter.
    expectInvalidQuery(await call(`/v1/fanouts?cursor=${Buffer.from('{"x":1}').toString('base64url')}`), '/cursor');
    const { cursor } = await listing({ source, limit: '1' });
    expect((await call(`/v1/fanouts?source=${source}&limit=1&cursor=${cursor}`)).status).toBe(200);
    expectInvalidQuery(await call(`/v1/fanouts?source=other&limit=1&cursor=${cursor}`), '/cursor');
  });

  it('the client lists the same pages, and refuses a bad option naming it', async () => {
    const client = stack.fanoutClient;
    const first = await client.list({ source, limit: 2 });
    const second = await client.list({ source, limit: 2, cursor: first.cursor });
    expect([...first.fanouts, ...second.fanouts].map((f) => f.cid).sort()).toEqual(
      [cids.done, cids.parallel, cids.running].sort(),
    );
    expect((await client.list({ source, state: 'running' })).fanouts.map((f) => f.cid)).toEqual([cids.running]);
    const refused = await client.list({ state: 'sleeping' as never }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(InvalidRequestError);
    expect((refused as InvalidRequestError).issues.map((i) => i.path)).toEqual(['state']);
  });
});

describe('GET /v1/fanouts/{cid}/records?state=', () => {
  it('filters the page and the NDJSON stream by outcome; the client the same', async () => {
    const cid = await failFastFanout();
    await finished(cid);
    const targetsOf = async (state: string, extra = '') =>
      RecordsPage.parse((await call(`/v1/fanouts/${cid}/records?state=${state}${extra}`)).body).records.map(
        (r) => `${r.record.target}:${r.state}`,
      );
    expect(await targetsOf('ok')).toEqual(['a:ok', 'b:ok']);
    expect(await targetsOf('failed')).toEqual(['short:failed']);
    expect(await targetsOf('cancelled')).toEqual(['long:cancelled']);

    // Paged: one ok record per page, the cursor skipping the records of other states.
    const first = RecordsPage.parse((await call(`/v1/fanouts/${cid}/records?state=ok&limit=1`)).body);
    expect(first.records.map((r) => r.record.target)).toEqual(['a']);
    const second = RecordsPage.parse(
      (await call(`/v1/fanouts/${cid}/records?state=ok&limit=1&cursor=${first.cursor}`)).body,
    );
    expect(second.records.map((r) => r.record.target)).toEqual(['b']);

    const streamed = await fetch(`${stack.url}/v1/fanouts/${cid}/records?state=failed`, {
      headers: { authorization: `Bearer ${KEY}`, accept: 'application/x-ndjson' },
    });
    const lines = (await streamed.text()).trim().split('\n');
    expect(lines.map((line) => JSON.parse(line).record.target)).toEqual(['short']);

    const page = await stack.fanoutClient.recordsPage(cid, { state: 'cancelled' });
    expect(page.records.map((r) => r.record.target)).toEqual(['long']);
    expectInvalidQuery(await call(`/v1/fanouts/${cid}/records?state=running`), '/state');
    expectInvalidQuery(await call(`/v1/fanouts/${cid}/records?state=oops`), '/state');
  }, 60_000);
});

describe('GET /v1/fanouts/{cid}/events: Server-Sent Events', () => {
  const WIDTH = 12;
  const targets = Object.fromEntries(Array.from({ length: WIDTH }, (_, i) => [`t${i}`, { USER_ID: `u${i}` }]));
  const targetOptions = Object.fromEntries(
    Object.keys(targets).map((name) => [name, { service: 'erp.get-user-information' }]),
  );
  // One at a time (60 ms each): the records settle over most of a second, so a stream sees them arrive.
  const slowFanout = () =>
    start('/v1/fanouts', { targets, targetOptions, maxConcurrency: 1, finalCallbacks: ['log.input'] });
  const headers = { authorization: `Bearer ${KEY}` };

  async function follow(
    cid: string,
    init: { lastEventId?: string; query?: string; stopAfterRecords?: number; stopAfterEvents?: number } = {},
  ) {
    const abort = new AbortController();
    const { response, items } = await openEventStream(
      `${stack.url}/v1/fanouts/${cid}/events${init.query ?? ''}`,
      { ...headers, ...(init.lastEventId ? { 'last-event-id': init.lastEventId } : {}) },
      abort.signal,
    );
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const seen: SseItem[] = [];
    try {
      for await (const item of items) {
        seen.push(item);
        const records = seen.filter((i) => 'event' in i && i.event === 'record').length;
        if (init.stopAfterRecords !== undefined && records >= init.stopAfterRecords) break;
        if (init.stopAfterEvents !== undefined && seen.filter((i) => 'event' in i).length >= init.stopAfterEvents)
          break;
      }
    } catch (error) {
      if (!abort.signal.aborted) throw error;
    } finally {
      abort.abort(); // the connection dropped, as a client going away drops it
    }
    const events = seen.filter((i): i is Exclude<SseItem, { comment: string }> => 'event' in i);
    return { events, comments: seen.filter((i) => 'comment' in i) };
  }

  it('follows a fan-out to its end: counts as they change, every record once, keep-alives, then end', async () => {
    const cid = await slowFanout();
    const { events, comments } = await follow(cid);
    expect(events.at(-1)).toMatchObject({
      event: 'end',
      data: { state: 'completed', counts: { total: WIDTH, ok: WIDTH, failed: 0, cancelled: 0 } },
    });
    const records = events.filter((e) => e.event === 'record');
    const names = records.map((e) => (e.data as { record: { target: string } }).record.target);
    expect(names.sort()).toEqual(Object.keys(targets).sort());
    expect(records.every((e) => (e.data as { state: string }).state === 'ok')).toBe(true);
    const progress = events.filter((e) => e.event === 'progress').map((e) => e.data as { settled: number });
    expect(progress.length).toBeGreaterThan(1);
    // Each progress event says something new: the counts never repeat, and settle only upwards.
    const settled = progress.map((p) => p.settled);
    expect(settled).toEqual([...settled].sort((a, b) => a - b));
    expect(new Set(progress.map((p) => JSON.stringify(p))).size).toBe(progress.length);
    expect(events.every((e) => typeof e.id === 'string' && e.id.length > 0)).toBe(true);
    expect(comments.some((c) => 'comment' in c && c.comment === 'keep-alive')).toBe(true);
  }, 60_000);

  it('resumes after a dropped connection with Last-Event-ID: no record repeated, none lost', async () => {
    const cid = await slowFanout();
    const before = await follow(cid, { stopAfterRecords: 3 });
    const had = before.events.filter((e) => e.event === 'record');
    expect(had).toHaveLength(3);
    expect(before.events.some((e) => e.event === 'end')).toBe(false);

    const after = await follow(cid, { lastEventId: had.at(-1)!.id });
    expect(after.events.at(-1)?.event).toBe('end');
    const rest = after.events.filter((e) => e.event === 'record');
    const target = (e: { data: unknown }) => (e.data as { record: { target: string } }).record.target;
    const all = [...had, ...rest].map(target);
    expect(new Set(all).size).toBe(all.length);
    expect(all.sort()).toEqual(Object.keys(targets).sort());

    // Resumed with the end's ID: nothing more to send but the end itself.
    const again = await follow(cid, { lastEventId: after.events.at(-1)!.id });
    expect(again.events.filter((e) => e.event === 'record')).toEqual([]);
    expect(again.events.at(-1)?.event).toBe('end');
  }, 60_000);

  it('?records=false sends counts and the end only', async () => {
    const cid = await slowFanout();
    const { events } = await follow(cid, { query: '?records=false' });
    expect(events.some((e) => e.event === 'record')).toBe(false);
    expect(events.some((e) => e.event === 'progress')).toBe(true);
    expect(events.at(-1)).toMatchObject({ event: 'end', data: { state: 'completed' } });
  }, 60_000);

  it('a redrive streams the records of the targets it runs again, not those kept from before', async () => {
    const cid = await failFastFanout();
    await finished(cid);
    expect((await call(`/v1/fanouts/${cid}/redrive`, { method: 'POST' })).status).toBe(202);
    const { events } = await follow(cid);
    type Sent = { state: string; redrive?: number; record: { target: string } };
    const records = events.filter((e) => e.event === 'record').map((e) => e.data as Sent);
    // `short` fails again and fail-fast cancels `long` again; `a` and `b` stay as they were and are not sent.
    expect(records.map((r) => `${r.record.target}:${r.state}`).sort()).toEqual(['long:cancelled', 'short:failed']);
    expect(records.every((r) => r.redrive === 1)).toBe(true);
    expect(events.at(-1)).toMatchObject({ event: 'end', data: { state: 'cancelled', redrive: 1 } });
  }, 60_000);

  it('404 for an unknown CID and 400 for a bad Last-Event-ID or records value, before any stream', async () => {
    const unknown = await call('/v1/fanouts/no-such-cid/events');
    expect(unknown.status).toBe(404);
    expect(unknown.body.type).toBe('urn:problem:fanout:fanout-not-found');
    const cid = await start('/v1/fanouts', { targets: SEED_TARGETS, finalCallbacks: ['log.input'] });
    expectInvalidQuery(await call(`/v1/fanouts/${cid}/events?records=maybe`), '/records');
    const badId = await fetch(`${stack.url}/v1/fanouts/${cid}/events`, {
      headers: { ...headers, 'last-event-id': 'r5-2' },
    });
    expect(badId.status).toBe(400);
    expect(((await badId.json()) as { errors: { pointer: string }[] }).errors[0].pointer).toBe('/Last-Event-ID');
  });

  it('an invoke/retry streams to its end too (it has no counts to poll)', async () => {
    const cid = await start('/v1/invoke-retry', {
      target: 'crm.get-user',
      request: { user_id: '9' },
      attempts: 2,
      interval: '1s',
      callbacks: ['log.input'],
    });
    const { events } = await follow(cid);
    expect(events.at(-1)).toMatchObject({ event: 'end', data: { state: 'completed', ok: true } });
  }, 60_000);

  it('a client that goes away stops the stream’s watch on the server (no poller left behind)', async () => {
    const cid = await start('/v1/fanouts', {
      targets: { report: { user_id: '4', hours: 48 } },
      targetOptions: { report: LONG_REPORT },
      finalCallbacks: ['log.input'],
    });
    // Spy on the server's watches: each one tells when it has ended.
    const client = stack.fanoutClient;
    const original = client.watch;
    let serverWatches = 0;
    let serverWatchesEnded = 0;
    client.watch = async function* (...args: Parameters<typeof original>) {
      serverWatches++;
      try {
        yield* original.apply(client, args);
      } finally {
        serverWatchesEnded++;
      }
    };
    try {
      const { events } = await follow(cid, { stopAfterEvents: 1 });
      expect(events[0]).toMatchObject({ event: 'progress', data: { running: 1 } });
      expect(serverWatches).toBe(1);
      await waitFor(async () => serverWatchesEnded === 1, 5_000);
    } finally {
      client.watch = original;
      await call(`/v1/fanouts/${cid}`, { method: 'DELETE' });
    }
  }, 60_000);

  it('a watch stopped by its signal ends at once, however long the fan-out runs', async () => {
    const cid = await start('/v1/fanouts', {
      targets: { report: { user_id: '3', hours: 48 } },
      targetOptions: { report: LONG_REPORT },
      finalCallbacks: ['log.input'],
    });
    // Its child workflow started: the first progress event then says so, whenever the watch polls.
    await waitFor(async () => (await stack.fanoutClient.progress(cid)).running === 1);
    const stop = new AbortController();
    const watch = stack.fanoutClient.watch(cid, { signal: stop.signal });
    expect((await watch.next()).value).toMatchObject({ type: 'progress', progress: { running: 1 } });
    const pending = watch.next(); // waiting on the next poll and on the workflow's result
    stop.abort();
    const stoppedAt = Date.now();
    expect(await pending).toEqual({ done: true, value: undefined });
    expect(Date.now() - stoppedAt).toBeLessThan(1_000);
    expect((await call(`/v1/fanouts/${cid}`, { method: 'DELETE' })).status).toBe(202);
  }, 60_000);

  it('the client watches the same: an async iterator to the end, resumable with `after`', async () => {
    const cid = await slowFanout();
    const client = stack.fanoutClient;
    const first: FanoutEvent[] = [];
    for await (const event of client.watch(cid)) {
      first.push(event);
      if (first.filter((e) => e.type === 'record').length === 4) break; // leaving the loop stops the watch
    }
    const rest: FanoutEvent[] = [];
    for await (const event of client.watch(cid, { after: first.at(-1)!.id })) rest.push(event);
    const end = rest.at(-1);
    expect(end?.type).toBe('end');
    expect(end?.type === 'end' && end.outcome).toMatchObject({ state: 'completed', counts: { ok: WIDTH } });
    const names = [...first, ...rest].flatMap((e) => (e.type === 'record' ? [e.record.record.target] : []));
    expect(names.sort()).toEqual(Object.keys(targets).sort());

    const counts: FanoutEvent[] = [];
    for await (const event of client.watch(cid, { records: false })) counts.push(event);
    expect(counts.at(-1)?.type).toBe('end');
    expect(counts.some((e) => e.type === 'record')).toBe(false);
    await expect(client.watch('no-such-cid').next()).rejects.toBeInstanceOf(FanoutNotFoundError);
  }, 60_000);
});
