/** Activities and the registry, unit-tested with MockActivityEnvironment: no server, no worker. */
import { describe, expect, it } from 'vitest';
import { MockActivityEnvironment } from '@temporalio/testing';
import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import { createActivities } from '../src/activities';
import { createCallbackActivities } from '../src/activities/callbacks';
import { createServiceActivities } from '../src/activities/services';
import type { CallbackContext } from '../src/contracts';
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

function activities(callbacks = [defineCallback({ name: 'cb', handler: async () => undefined })]) {
  return createActivities({ registry: new Registry([greet], callbacks) });
}

describe('service activities', () => {
  it('runs the handler with a valid request', async () => {
    const result = await new MockActivityEnvironment().run(activities().greet, { name: 'ada' } as never);
    expect(result).toEqual({ greeting: 'hello ada' });
  });

  it('fails non-retryably on an invalid request, naming the field', async () => {
    const err = await new MockActivityEnvironment()
      .run(activities().greet, { nom: 'ada' } as never)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect((err as ApplicationFailure).nonRetryable).toBe(true);
    expect((err as ApplicationFailure).type).toBe('InvalidRequest');
    expect((err as ApplicationFailure).message).toMatch(/name: /);
  });

  it('fails non-retryably on an invalid response', async () => {
    const err = await new MockActivityEnvironment()
      .run(activities().greet, { name: 'bad' } as never)
      .catch((e: unknown) => e);
    expect((err as ApplicationFailure).type).toBe('InvalidResponse');
    expect((err as ApplicationFailure).nonRetryable).toBe(true);
  });

  it('serves the example services with the seed request shapes', async () => {
    const acts = createActivities({ registry: exampleRegistry({ latencyMs: { crm: 1, erp: 1, scoring: 1 } }) });
    const env = new MockActivityEnvironment();
    expect(await env.run(acts['crm.get-user'], { user_id: 'u' } as never)).toEqual({
      user_id: 'u',
      name: 'User u',
      segment: 'retail',
    });
    expect(await env.run(acts['erp.get-user-information'], { USER_ID: 'u' } as never)).toMatchObject({ USER_ID: 'u' });
    expect(await env.run(acts['scoring.get-score'], { uid: 'u' } as never)).toMatchObject({ uid: 'u' });
  });
});

describe('callback activities', () => {
  it('pass the payload and the invocation context, and return nothing', async () => {
    const seen: [unknown, CallbackContext][] = [];
    const acts = activities([
      defineCallback({ name: 'cb', handler: async (payload, ctx) => void seen.push([payload, ctx]) }),
    ]);
    const ctx: CallbackContext = { channel: 'FANOUT_ON_FINAL', cid: 'c1', callback: 'cb', options: { url: 'x' } };
    expect(await new MockActivityEnvironment().run(acts.cb, { data: {} } as never, ctx as never)).toBeNull();
    expect(seen).toEqual([[{ data: {} }, ctx]]);
  });

  it('let a failing callback fail, so its retry policy applies', async () => {
    const acts = activities([
      defineCallback({ name: 'cb', handler: async () => Promise.reject(new Error('endpoint down')) }),
    ]);
    await expect(new MockActivityEnvironment().run(acts.cb, {} as never, {} as never)).rejects.toThrow('endpoint down');
  });

  it('the logging callback writes the channel, CID and target', async () => {
    const lines: string[] = [];
    const acts = createActivities({ registry: exampleRegistry({ write: (line) => lines.push(line) }) });
    await new MockActivityEnvironment().run(
      acts['log.input'],
      {} as never,
      { channel: 'FANOUT_ON_TARGET', cid: 'c9', callback: 'log.input', target: 't' } as never,
    );
    expect(lines).toEqual(['[FANOUT_ON_TARGET] cid=c9 target=t']);
  });
});

describe('catalog and registry', () => {
  it('describes the worker: services with kinds, callbacks', async () => {
    const catalog = await new MockActivityEnvironment().run(
      createActivities({ registry: exampleRegistry() })[DESCRIBE_CATALOG],
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
    const activities = createActivities({ registry });
    for (const name of ['constructor', 'toString', 'hasOwnProperty', '__proto__', 'valueOf'])
      expect((activities as Record<string, unknown>)[name], name).toBeUndefined();
    expect(Object.keys(createServiceActivities(registry))).toContain('crm.get-user');
    expect(typeof createCallbackActivities(registry)['log.input']).toBe('function');
  });
});
