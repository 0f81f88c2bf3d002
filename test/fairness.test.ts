/**
 * Many fan-outs on one task queue, on the official dev server as the project starts it (priority and fairness
 * enabled), with two real workers of few activity slots, so that targets queue: a small fan-out of another source
 * is served while a large one's backlog waits, and a fan-out of higher priority overtakes one started before it.
 * Ordering, not timing, is asserted: the small fan-out finishes while the large one has most of its targets left.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FanoutClient } from '../src/client';
import type { FanoutCid } from '../src/client';
import { Registry, defineCallback, defineService } from '../src/registry';
import { SHARD_LAYOUT } from '../src/workflows/sharding';
import { fanoutBundle } from './helpers/fanout-env';
import type { FanoutTestEnv } from './helpers/temporal-env';
import { createDevServerEnv } from './helpers/temporal-env';
import type { WorkersApart } from '../src/testing';
import { startWorkersApart } from '../src/testing';
import { waitFor } from './helpers/wait';

const TASK_QUEUE = 'fairness';
// One execution, its targets all queued at once: the order the task queue serves is what is measured, not how the
// workflow tasks of a sharded fan-out's executions (which no task queue orders by priority or fairness) crowd the
// small fan-out's own.
const WIDE = SHARD_LAYOUT.sizeLimit;
const SMALL = 10;

const registry = new Registry(
  [
    defineService({
      name: 'work',
      handler: async () => new Promise((resolve) => setTimeout(() => resolve('done'), 20)),
    }),
  ],
  [defineCallback({ name: 'done', handler: async () => undefined })],
);

let env: FanoutTestEnv;
let fanout: FanoutClient;
let workers: WorkersApart;

beforeAll(async () => {
  env = await createDevServerEnv();
  // Two workers of 5 activity slots each: a wide fan-out's targets wait in the task queue.
  workers = await startWorkersApart(2, env.address, {
    registry,
    store: env.store,
    taskQueue: TASK_QUEUE,
    workflowBundle: await fanoutBundle(),
    maxConcurrentActivityTaskExecutions: 5,
  });
  fanout = new FanoutClient({ client: env.client, registry, store: env.store, taskQueue: TASK_QUEUE });
}, 120_000);

afterAll(async () => {
  await workers?.stop();
  await env?.teardown();
});

const targets = (prefix: string, width: number) =>
  Object.fromEntries(Array.from({ length: width }, (_, i) => [`${prefix}${i}`, null]));
const options = (prefix: string, width: number) =>
  Object.fromEntries(Array.from({ length: width }, (_, i) => [`${prefix}${i}`, { service: 'work' }]));

/** Starts a wide fan-out and waits until its targets are queued: the most it lets in flight are scheduled. */
async function startWide(prefix: string, extra: object): Promise<FanoutCid> {
  const cid = await fanout.invoke(targets(prefix, WIDE), ['done'], {
    targetOptions: options(prefix, WIDE),
    maxConcurrency: WIDE,
    ...extra,
  });
  await waitFor(async () => (await fanout.progress(cid)).pending === 0, 30_000);
  return cid;
}

/** Runs a small fan-out to its end while the wide one runs; how far the wide one got by then. */
async function settledMeanwhile(wide: FanoutCid, prefix: string, extra: object): Promise<number> {
  const small = await fanout.invoke(targets(prefix, SMALL), ['done'], {
    targetOptions: options(prefix, SMALL),
    ...extra,
  });
  const result = await fanout.result(small);
  expect(result.counts).toMatchObject({ total: SMALL, ok: SMALL });
  const { settled, state } = await fanout.progress(wide);
  expect(state).toBe('running');
  await fanout.result(wide);
  return settled;
}

describe('fan-outs sharing workers', () => {
  it('a small fan-out of another source is served beside a wide one, not after its backlog', async () => {
    const wide = await startWide('a', { source: 'source-a' });
    const settled = await settledMeanwhile(wide, 'b', { source: 'source-b' });
    // First come first served, the small one would wait for most of the wide one's 900 queued targets.
    expect(settled).toBeLessThan(WIDE / 3);
  });

  it('a fan-out of priority 1 overtakes a wide one of priority 5 started before it, of the same source', async () => {
    const wide = await startWide('c', { source: 'same', priority: 5 });
    const settled = await settledMeanwhile(wide, 'd', { source: 'same', priority: 1 });
    expect(settled).toBeLessThan(WIDE / 3);
  });
});
