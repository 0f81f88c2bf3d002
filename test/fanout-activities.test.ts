/**
 * Activities and the registry, unit-tested with MockActivityEnvironment and a result store in a temp folder: no
 * server, no worker. Service activities store their record; callback activities resolve inline, stored and final
 * payloads, the final one assembled from the store.
 */
import { describe, expect, it } from 'vitest';
import { MockActivityEnvironment } from '@temporalio/testing';
import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import { createActivities } from '../src/activities';
import { createCallbackActivities } from '../src/activities/callbacks';
import { createServiceActivities } from '../src/activities/services';
import type { CallbackContext, TargetCall, TargetRecord } from '../src/contracts';
import { RecordStore } from '../src/store/records';
import { tempStore } from './helpers/temporal-env';
import { DESCRIBE_CATALOG } from '../src/contracts';
import { Registry, RegistryError, defineCallback, defineService } from '../src/registry';
import { creditScoringServices, exampleRegistry, logCallback } from '../src/services';

const greet = defineService({
  name: 'greet',
  request: z.object({ name: z.string() }),
  response: z.object({ greeting: z.string() }),
  handler: async ({ name }: { name: string }) => ({
    greeting: name === 'bad' ? (42 as unknown as string) : `hello ${name}`,
  }),
});

const records = new RecordStore(tempStore());

function activities(callbacks = [defineCallback({ name: 'cb', handler: async () => undefined })]) {
  return createActivities({ registry: new Registry([greet], callbacks), records });
}

let calls = 0;
function call(request: unknown, cid = `c${++calls}`): TargetCall {
  return { request, cid, source: 'src', target: 'greet', index: 0, reqTsUtc: '2026-01-01T00:00:00.000Z' };
}

function record(target: string, response: unknown): TargetRecord {
  const ts = '2026-01-01T00:00:00.000Z';
  return { source: 's', target, response, req_ts_utc: ts, resp_ts_utc: ts, ok: true, exception: null, cid: 'x' };
}

describe('service activities', () => {
  it("runs the handler with a valid request, stores Zato's record and returns it inline when small", async () => {
    const c = call({ name: 'ada' });
    const result = await new MockActivityEnvironment().run(activities().greet, c as never);
    expect(result).toEqual({
      record: expect.objectContaining({ target: 'greet', response: { greeting: 'hello ada' }, ok: true, cid: c.cid }),
    });
    expect(await records.get(c.cid, 0)).toEqual({ state: 'ok', record: (result as { record: TargetRecord }).record });
  });

  it('keeps a large record out of its return value: it is in the store only', async () => {
    const big = defineService({ name: 'big', handler: async () => 'x'.repeat(5000) });
    const acts = createActivities({ registry: new Registry([big], []), records });
    const c = call(null);
    expect(await new MockActivityEnvironment().run(acts.big, c as never)).toEqual({});
    expect((await records.get(c.cid, 0))?.record.response).toHaveLength(5000);
  });

  it('fails non-retryably on an invalid request, naming the field', async () => {
    const err = await new MockActivityEnvironment()
      .run(activities().greet, call({ nom: 'ada' }) as never)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect((err as ApplicationFailure).nonRetryable).toBe(true);
    expect((err as ApplicationFailure).type).toBe('InvalidRequest');
    expect((err as ApplicationFailure).message).toMatch(/name: /);
  });

  it('fails non-retryably on an invalid response', async () => {
    const err = await new MockActivityEnvironment()
      .run(activities().greet, call({ name: 'bad' }) as never)
      .catch((e: unknown) => e);
    expect((err as ApplicationFailure).type).toBe('InvalidResponse');
    expect((err as ApplicationFailure).nonRetryable).toBe(true);
  });

  it('serves the example services with the seed request shapes', async () => {
    const acts = createActivities({
      registry: exampleRegistry({ latencyMs: { crm: 1, erp: 1, scoring: 1 } }),
      records,
    });
    const env = new MockActivityEnvironment();
    const responseOf = async (name: string, request: unknown) =>
      ((await env.run(acts[name], call(request) as never)) as unknown as { record: TargetRecord }).record.response;
    expect(await responseOf('crm.get-user', { user_id: 'u' })).toEqual({
      user_id: 'u',
      name: 'User u',
      segment: 'retail',
    });
    expect(await responseOf('erp.get-user-information', { USER_ID: 'u' })).toMatchObject({ USER_ID: 'u' });
    expect(await responseOf('scoring.get-score', { uid: 'u' })).toMatchObject({ uid: 'u' });
  });
});

describe('callback activities', () => {
  it('pass an inline record and the invocation context, and return nothing', async () => {
    const seen: [unknown, CallbackContext][] = [];
    const acts = activities([
      defineCallback({ name: 'cb', handler: async (payload, ctx) => void seen.push([payload, ctx]) }),
    ]);
    const ctx: CallbackContext = { channel: 'FANOUT_ON_TARGET', cid: 'c1', callback: 'cb', options: { url: 'x' } };
    const inline = record('t', 1);
    expect(await new MockActivityEnvironment().run(acts.cb, { record: inline } as never, ctx as never)).toBeNull();
    expect(seen).toEqual([[inline, ctx]]);
  });

  it('read a stored record, and fail (retryably) while it is not there yet', async () => {
    const seen: unknown[] = [];
    const acts = activities([defineCallback({ name: 'cb', handler: async (payload) => void seen.push(payload) })]);
    const env = new MockActivityEnvironment();
    const ctx = { channel: 'FANOUT_ON_TARGET', cid: 'stored-1', callback: 'cb' };
    await expect(env.run(acts.cb, { stored: { cid: 'stored-1', index: 4 } } as never, ctx as never)).rejects.toThrow(
      /not in the store/,
    );
    await records.put('stored-1', 4, { state: 'failed', record: record('t4', null) });
    await env.run(acts.cb, { stored: { cid: 'stored-1', index: 4 } } as never, ctx as never);
    expect(seen).toEqual([record('t4', null)]);
  });

  it('assemble the final payload from the store in target order, or give it as a stream', async () => {
    const cid = 'final-1';
    for (const [i, name] of ['b', 'a', '__proto__'].entries())
      await records.put(cid, i, { state: 'ok', record: record(name, i) });
    const assembled: unknown[] = [];
    const streamed: unknown[] = [];
    const acts = activities([
      defineCallback({ name: 'cb', handler: async (payload) => void assembled.push(payload) }),
      defineCallback({
        name: 'stream',
        records: 'stream',
        handler: async (payload, ctx) => {
          const targets: string[] = [];
          for await (const r of ctx.records!()) targets.push(r.target);
          streamed.push(payload, targets);
        },
      }),
    ]);
    const summary = { source: 's', req_ts_utc: 'r', on_target: '', on_final: ['cb', 'stream'] } as const;
    const ctx = { channel: 'FANOUT_ON_FINAL', cid, callback: 'cb' };
    const env = new MockActivityEnvironment();
    await env.run(acts.cb, { final: { ...summary, cid } } as never, ctx as never);
    await env.run(acts.stream, { final: { ...summary, cid } } as never, ctx as never);
    const payload = assembled[0] as { data: Record<string, TargetRecord> };
    expect(Object.keys(payload.data)).toEqual(['b', 'a', '__proto__']);
    expect(payload).toMatchObject({ ...summary, data: { b: record('b', 0), a: record('a', 1) } });
    expect(streamed).toEqual([{ ...summary, data: {} }, ['b', 'a', '__proto__']]);
  });

  it('let a failing callback fail, so its retry policy applies', async () => {
    const acts = activities([
      defineCallback({ name: 'cb', handler: async () => Promise.reject(new Error('endpoint down')) }),
    ]);
    await expect(
      new MockActivityEnvironment().run(acts.cb, { record: record('t', 1) } as never, {} as never),
    ).rejects.toThrow('endpoint down');
  });

  it('the logging callback writes the channel, CID and target', async () => {
    const lines: string[] = [];
    const acts = createActivities({ registry: exampleRegistry({ write: (line) => lines.push(line) }), records });
    await new MockActivityEnvironment().run(
      acts['log.input'],
      { record: record('t', 1) } as never,
      { channel: 'FANOUT_ON_TARGET', cid: 'c9', callback: 'log.input', target: 't' } as never,
    );
    expect(lines).toEqual(['[FANOUT_ON_TARGET] cid=c9 target=t']);
  });
});

describe('catalog and registry', () => {
  it('describes the worker: services with kinds, callbacks', async () => {
    const catalog = await new MockActivityEnvironment().run(
      createActivities({ registry: exampleRegistry(), records })[DESCRIBE_CATALOG],
    );
    expect(catalog).toMatchObject({
      services: {
        'crm.get-user': { kind: 'activity' },
        'reports.build-credit-report': { kind: 'workflow', workflowType: 'buildCreditReport' },
      },
      callbacks: ['log.input'],
    });
  });

  it('refuses duplicate, reserved and malformed names', () => {
    const cb = defineCallback({ name: 'greet', handler: async () => undefined });
    expect(() => new Registry([greet], [cb])).toThrow(RegistryError);
    expect(() => new Registry([defineService({ name: 'fanout.x', handler: async () => 1 })], [])).toThrow(/reserved/);
    expect(() => new Registry([defineService({ name: 'has space', handler: async () => 1 })], [])).toThrow(/invalid/);
  });
});

describe('activities by name are own entries only', () => {
  it('names such as constructor or toString find no activity', () => {
    const registry = new Registry(creditScoringServices(), [logCallback({ write: () => undefined })]);
    const activities = createActivities({ registry, records });
    for (const name of ['constructor', 'toString', 'hasOwnProperty', '__proto__', 'valueOf'])
      expect((activities as Record<string, unknown>)[name], name).toBeUndefined();
    expect(Object.keys(createServiceActivities(registry, records, 'fanout'))).toContain('crm.get-user');
    expect(typeof createCallbackActivities(registry, records)['log.input']).toBe('function');
  });
});
