/**
 * FanoutState (the search attribute listings filter on) and the progress query tell the truth in every ending:
 * invoke/retry completing, a fan-out or invoke/retry refused by the worker's name check, a cancelled
 * invoke/retry (cancelled, not failed, and no INVOKE_RETRY_ON_FAILURE). Also: a failed fan-out's result is a typed
 * answer, names such as `constructor` are never taken for registered services, and a fan-out's memo says how far it
 * got with no worker needed to read it.
 * On the official dev server, whose visibility keeps search attributes.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { ApplicationFailure } from '@temporalio/common';
import { FanoutClient, FanoutFailedError, InvalidRequestError, UnknownServiceError } from '../src/client';
import type { CallbackContext, Catalog } from '../src/contracts';
import { FanoutStateKey } from '../src/contracts';
import { Registry, defineCallback, defineService } from '../src/registry';
import type { FanoutTestEnv } from './helpers/temporal-env';
import { createDevServerEnv } from './helpers/temporal-env';
import { fanoutTestFile, withFanoutWorker } from './helpers/fanout-env';
import { waitFor } from './helpers/wait';

let env: FanoutTestEnv;
let workflowBundle: WorkflowBundleWithSourceMap;
fanoutTestFile((e, b) => ((env = e), (workflowBundle = b)), createDevServerEnv);

let release: () => void = () => undefined;
let gate = new Promise<void>((resolve) => (release = resolve));

function registry() {
  const calls: CallbackContext[] = [];
  const attempts: number[] = [];
  const reg = new Registry(
    [
      defineService({ name: 'echo', handler: async (request: unknown) => request }),
      defineService({
        name: 'gated',
        handler: async (request: unknown) => {
          await gate;
          return request;
        },
      }),
      defineService({
        name: 'always.fails',
        handler: async () => {
          attempts.push(Date.now());
          throw ApplicationFailure.create({ message: 'backend down', type: 'BackendDown' });
        },
      }),
    ],
    [
      defineCallback({
        name: 'collect',
        handler: async (_payload, ctx) => {
          calls.push(ctx);
        },
      }),
    ],
  );
  return { reg, calls, attempts };
}

const stateOf = async (cid: string) =>
  (await env.client.workflow.getHandle(cid).describe()).typedSearchAttributes.get(FanoutStateKey);

describe('FanoutState and progress in every ending', () => {
  it('invoke/retry: completed once it completes (not running for ever)', async () => {
    const { reg } = registry();
    const taskQueue = `states-${randomUUID()}`;
    const { cid, progress } = await withFanoutWorker({ env, workflowBundle, taskQueue }, reg, async (client) => {
      const cid = await client.invokeRetry({
        target: 'echo',
        request: { hello: 1 },
        attempts: 2,
        interval: '1s',
        callbacks: ['collect'],
      });
      await client.result(cid);
      return { cid, progress: await client.progress(cid) };
    });
    expect(progress).toMatchObject({ state: 'completed', ok: 1, settled: 1 });
    expect(await stateOf(cid)).toBe('completed');
  });

  it('a fan-out and an invoke/retry refused by the worker’s name check end failed, not running', async () => {
    const { reg } = registry();
    const taskQueue = `states-${randomUUID()}`;
    // The client believes in a service the worker does not serve.
    const wider: Catalog = {
      services: { echo: { kind: 'activity' }, ghost: { kind: 'activity' } },
      callbacks: ['collect'],
    };
    const outcome = await withFanoutWorker({ env, workflowBundle, taskQueue }, reg, async () => {
      const client = new FanoutClient({ client: env.client, registry: wider, taskQueue });
      const fanoutCid = await client.invoke({ ghost: {} }, ['collect']);
      const retryCid = await client.invokeRetry({
        target: 'ghost',
        request: {},
        attempts: 1,
        interval: '1s',
        callbacks: ['collect'],
      });
      const errors = [
        await client.result(fanoutCid).catch((e: unknown) => e),
        await client.result(retryCid).catch((e: unknown) => e),
      ];
      return {
        fanoutCid,
        retryCid,
        errors,
        progress: [await client.progress(fanoutCid), await client.progress(retryCid)],
      };
    });
    for (const error of outcome.errors) {
      expect(error).toBeInstanceOf(FanoutFailedError);
      expect(error).toMatchObject({ state: 'failed', failure: { type: 'UnknownService' } });
      expect((error as FanoutFailedError).failure.message).toMatch(/unknown services: ghost/);
    }
    expect(outcome.progress.map((p) => p.state)).toEqual(['failed', 'failed']);
    expect(await stateOf(outcome.fanoutCid)).toBe('failed');
    expect(await stateOf(outcome.retryCid)).toBe('failed');
  });

  it('the memo holds the counts while the fan-out runs (every tenth of its targets) and when it ends', async () => {
    gate = new Promise<void>((resolve) => (release = resolve));
    const { reg } = registry();
    const targets = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`t${i}`, i]));
    const targetOptions = Object.fromEntries(
      Object.keys(targets).map((name, i) => [name, { service: i < 10 ? 'echo' : 'gated' }]),
    );
    const counts = async (cid: string) =>
      (await env.client.workflow.getHandle(cid).describe()).memo?.counts as Record<string, number> | undefined;
    await withFanoutWorker({ env, workflowBundle, taskQueue: 'memo-counts' }, reg, async (fanout) => {
      const cid = await fanout.invoke(targets, ['collect'], { targetOptions });
      await waitFor(async () => (await counts(cid))?.ok === 10, 30_000);
      expect(await counts(cid)).toMatchObject({ total: 20, ok: 10, failed: 0, cancelled: 0 });
      expect(await stateOf(cid)).toBe('running');
      release();
      await fanout.result(cid);
      expect(await counts(cid)).toEqual({
        total: 20,
        ok: 20,
        failed: 0,
        cancelled: 0,
        callbacks: 1,
        callbacksFailed: 0,
      });
    });
  });

  it('cancelling an invoke/retry ends it cancelled: counted as cancelled, no INVOKE_RETRY_ON_FAILURE', async () => {
    const { reg, calls, attempts } = registry();
    const taskQueue = `states-${randomUUID()}`;
    const outcome = await withFanoutWorker({ env, workflowBundle, taskQueue }, reg, async (client) => {
      const cid = await client.invokeRetry({
        target: 'always.fails',
        request: {},
        attempts: 10,
        interval: '1 minute',
        callbacks: ['collect'],
      });
      await waitFor(async () => attempts.length >= 1);
      await client.cancel(cid);
      const error = await client.result(cid).catch((e: unknown) => e);
      return { cid, error, status: await client.status(cid), progress: await client.progress(cid) };
    });
    expect(outcome.status).toBe('CANCELLED');
    expect(outcome.error).toBeInstanceOf(FanoutFailedError);
    expect(outcome.error).toMatchObject({ state: 'cancelled' });
    expect(outcome.progress).toMatchObject({ state: 'cancelled', cancelled: 1, failed: 0, running: 0, settled: 1 });
    expect(outcome.progress.targets).toEqual({ 'always.fails': 'cancelled' });
    expect(await stateOf(outcome.cid)).toBe('cancelled');
    expect(calls.map((c) => c.channel)).toEqual([]);
  });
});

describe('names are own entries of the catalog only', () => {
  const inherited = ['constructor', 'toString', 'hasOwnProperty', '__proto__', 'valueOf'];

  it('the client refuses inherited property names as unknown services, and option keys with no target', async () => {
    const { reg } = registry();
    const client = new FanoutClient({ client: env.client, registry: reg, taskQueue: 'never-polled' });
    for (const name of inherited.filter((n) => n !== '__proto__')) {
      const error = await client.invoke({ [name]: {} }, ['collect']).catch((e: unknown) => e);
      expect(error, name).toBeInstanceOf(UnknownServiceError);
      expect((error as UnknownServiceError).unknownServices).toEqual([name]);
    }
    for (const service of inherited) {
      const error = await client
        .invoke({ a: {} }, ['collect'], { targetOptions: { a: { service } } })
        .catch((e: unknown) => e);
      expect(error, service).toBeInstanceOf(UnknownServiceError);
      const retry = await client
        .invokeRetry({ target: 'a', service, request: {}, attempts: 1, interval: '1s', callbacks: ['collect'] })
        .catch((e: unknown) => e);
      expect(retry, service).toBeInstanceOf(UnknownServiceError);
    }
    const error = await client
      .invoke({ echo: {} }, ['collect'], { targetOptions: { constructor: { startToCloseTimeout: '1s' } } })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect((error as InvalidRequestError).issues).toEqual([
      expect.objectContaining({ segments: ['targetOptions', 'constructor'], message: 'no such target' }),
    ]);
  });

  it('the registry’s catalog has no inherited entries', () => {
    const { reg } = registry();
    const catalog = reg.catalog();
    for (const name of inherited) expect(catalog.services[name], name).toBeUndefined();
    expect(Object.keys(catalog.services).sort()).toEqual(['always.fails', 'echo', 'gated']);
  });

  it('the workflow’s own name check refuses inherited names the client let through', async () => {
    const { reg } = registry();
    const taskQueue = `states-${randomUUID()}`;
    // A client whose catalog (wrongly) lists `constructor`: the worker must still refuse it.
    const lying: Catalog = {
      services: { constructor: { kind: 'activity' } } as Catalog['services'],
      callbacks: ['collect'],
    };
    const error = await withFanoutWorker({ env, workflowBundle, taskQueue }, reg, async () => {
      const client = new FanoutClient({ client: env.client, registry: lying, taskQueue });
      const cid = await client.invoke({ constructor: {} }, ['collect']);
      return client.result(cid).catch((e: unknown) => e);
    });
    expect(error).toBeInstanceOf(FanoutFailedError);
    expect((error as FanoutFailedError).failure.message).toMatch(/unknown services: constructor/);
  });
});
