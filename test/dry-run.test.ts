/**
 * The dry-run plan through the real client, with no server (a `new Client()` connects lazily and nothing here gets
 * as far as connecting): its shape checked against the workflows' own sharding functions for 3, 5,000 and 100,000
 * targets; every refusal the same as a real start's; and the planning functions importable without the workflow
 * SDK's runtime.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { Client } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { MAX_TARGETS } from '../src/contracts';
import {
  FanoutClient,
  InvalidRequestError,
  PayloadTooLargeError,
  UndeliverableCallbackError,
  UnknownServiceError,
} from '../src/client';
import { Registry, defineCallback, defineService } from '../src/registry';
import { SHARD_LAYOUT, planShards } from '../src/workflows/sharding';
import { tempStore } from './helpers/temporal-env';
import { clientDeliveryCallbacks } from './helpers/activity-env';
import { refusal } from './helpers/refusal';

const SECRET = `whsec_${Buffer.from('dry-run-test-secret-0123456789ab').toString('base64')}`;

function registry(): Registry {
  return new Registry(
    [
      defineService({ name: 'echo', handler: async (request: unknown) => request }),
      defineService({ name: 'quick', local: true, handler: async (request: unknown) => request }),
      defineService({ name: 'report', kind: 'workflow', workflowType: 'buildReport' }),
    ],
    [
      defineCallback({ name: 'each', kind: 'on-target', handler: async () => undefined }),
      defineCallback({ name: 'final', kind: 'final', handler: async () => undefined }),
      ...clientDeliveryCallbacks(SECRET),
    ],
  );
}

/** A client whose connection is lazy: a plan without a CID of its own never asks the server. */
const fanoutClient = () => new FanoutClient({ client: new Client(), registry: registry(), store: tempStore() });

function targets(width: number): Record<string, number> {
  return Object.fromEntries(Array.from({ length: width }, (_, i) => [`t${i}`, i]));
}

const echoes = (width: number) => Object.fromEntries(Object.keys(targets(width)).map((n) => [n, { service: 'echo' }]));

describe('the plan is what the workflows will do', () => {
  it('3 targets: one execution, all three in flight, history and actions counted', async () => {
    const plan = await fanoutClient().plan({
      targets: { echo: 1, quick: 2, report: 3 },
      finalCallbacks: ['final'],
      onTarget: ['each'],
    });
    const shape = planShards(3, 1, 500);
    expect(plan).toMatchObject({
      valid: true,
      pattern: 'fanout',
      targets: { total: 3, activities: 1, local: 1, childWorkflows: 1, batched: 0, batches: 0 },
      run: { mode: 'single', executions: 1, shards: 0, targetsPerShard: 3, maxConcurrency: 500 },
    });
    // The workflow's window is maxConcurrency (500); three targets fill three of it.
    expect(shape).toMatchObject({ shardCount: 1, shardsAtOnce: 1, targetsAtOnce: 500 });
    expect(plan.run).toMatchObject({ shardsAtOnce: 1, targetsAtOnce: 3 });
    expect(plan.cid).toBeUndefined();
    expect(plan.history.largestShard).toBeUndefined();
    // Started + completed, catalog marker, 2 patch markers, 2 state upserts, memo at the end and at 1 and 2 of 3
    // settled; the activity and the child workflow 3 each, the local target's marker, 3 callbacks of 3, one records
    // save of the child's record, the final callback; the three workflow tasks every run has.
    const recorded = 2 + 1 + 2 + 2 + 1 + 2 + 3 + 3 + 1 + 3 * 3 + 3 + 3;
    expect(plan.history.fanout.expected).toBe(recorded + 3 * 3);
    expect(plan.history.fanout.atMost).toBeGreaterThan(plan.history.fanout.expected);
    // The fan-out, the child workflow (2); 1 target activity, 3 callbacks, 1 final, 1 records save; the catalog
    // check's and the local target's markers; 2 upserts.
    expect(plan.actions).toEqual({
      total: 3 + 6 + 2 + 2,
      workflowStarts: 3,
      activities: 6,
      localActivities: 2,
      signals: 0,
      searchAttributeUpserts: 2,
      timers: 0,
    });
  });

  it('writeResults: one more activity, and the workflow task its completion wakes before the final callbacks', async () => {
    const request = { targets: { echo: 1, quick: 2, report: 3 }, finalCallbacks: ['final'], onTarget: ['each'] };
    const without = await fanoutClient().plan(request);
    const written = await fanoutClient().plan({ ...request, writeResults: true });
    expect(written.history.fanout).toEqual({
      expected: without.history.fanout.expected + 3 + 3,
      atMost: without.history.fanout.atMost + 3 + 3,
    });
    expect(written.actions).toMatchObject({
      total: without.actions.total + 1,
      activities: without.actions.activities + 1,
    });
  });

  it('batched: 5,000 targets in batches of 100 run in one execution, one activity a batch, callbacks within', async () => {
    const plan = await fanoutClient().plan({
      targets: targets(5_000),
      targetOptions: echoes(5_000),
      finalCallbacks: ['final'],
      onTarget: ['each'],
      maxConcurrency: 1_000,
      batching: { maxTargets: 100 },
    });
    expect(planShards(5_000, 1, 1_000, 100)).toMatchObject({ shardCount: 1, targetsAtOnce: 1_000, batchWidth: 100 });
    expect(plan.targets).toEqual({
      total: 5_000,
      activities: 0,
      local: 0,
      childWorkflows: 0,
      batched: 5_000,
      batches: 50,
    });
    expect(plan.run).toMatchObject({ mode: 'single', executions: 1, shards: 0, targetsAtOnce: 1_000 });
    // 50 batches and the final callback: the on-target callbacks run inside the batches.
    expect(plan.actions.activities).toBe(51);
    // Started + completed, catalog marker, 2 patch markers, 2 state upserts, the memo at the end and at every tenth;
    // 50 batches and the final callback, 3 events each; the three workflow tasks every run has.
    expect(plan.history.fanout.expected).toBe(2 + 1 + 2 + 2 + 1 + 9 + 3 * 51 + 3 * 3);
  });

  it('5,000 targets: ten shards of 500, run side by side at SHARD_LAYOUT.inFlight each', async () => {
    const plan = await fanoutClient().plan({
      targets: targets(5_000),
      targetOptions: echoes(5_000),
      finalCallbacks: ['final'],
      maxConcurrency: 1_000,
      deadline: '1 hour',
    });
    const shape = planShards(5_000, 0, 1_000);
    expect(shape).toMatchObject({
      shardSize: SHARD_LAYOUT.sizeLimit,
      shardCount: 10,
      targetsAtOnce: SHARD_LAYOUT.inFlight,
    });
    expect(plan.run).toEqual({
      mode: 'sharded',
      executions: 1 + shape.shardCount,
      shards: shape.shardCount,
      targetsPerShard: shape.shardSize,
      shardsAtOnce: shape.shardsAtOnce,
      targetsAtOnce: shape.targetsAtOnce,
      maxConcurrency: 1_000,
    });
    // A shard: 500 activities of 3 events, started and completed, its signal to the fan-out, 3 workflow tasks.
    expect(plan.history.largestShard?.expected).toBe(1_500 + 2 + 2 + 9);
    expect(plan.history.largestShard!.atMost).toBeLessThan(plan.history.limit);
    // The fan-out and 10 shards (2 each), 5,000 targets and the final callback, the catalog marker, 10 signals, 2
    // upserts, the deadline's timer.
    expect(plan.actions).toMatchObject({ workflowStarts: 21, activities: 5_001, signals: 10, timers: 1 });
    expect(plan.actions.total).toBe(21 + 5_001 + 1 + 10 + 2 + 1);
    // About 3 events a target over all executions, as measured (docs/benchmarks.md: 3.2–3.6 with workflow tasks).
    const events = plan.history.fanout.expected + 10 * plan.history.largestShard!.expected;
    expect(events / 5_000).toBeGreaterThan(3);
    expect(events / 5_000).toBeLessThan(3.6);
  });

  it(`${MAX_TARGETS.toLocaleString('en')} targets with an on-target callback: two hundred shards, as many as the concurrency needs side by side`, async () => {
    const plan = await fanoutClient().plan({
      targets: targets(MAX_TARGETS),
      targetOptions: echoes(MAX_TARGETS),
      onTarget: ['each'],
      finalCallbacks: ['final'],
      maxConcurrency: 10_000,
    });
    const shape = planShards(MAX_TARGETS, 1, 10_000);
    expect(shape.shardCount).toBe(200);
    expect(plan.run).toMatchObject({
      mode: 'sharded',
      executions: 201,
      shards: 200,
      targetsPerShard: shape.shardSize,
      shardsAtOnce: shape.shardsAtOnce,
      targetsAtOnce: shape.targetsAtOnce,
    });
    expect(plan.run.shardsAtOnce * plan.run.targetsAtOnce).toBeLessThanOrEqual(10_000);
    // A shard: 500 targets and 500 callbacks of 3 events, its start, end and signal, 3 workflow tasks. The largest
    // history of docs/benchmarks.md's 100,000-target run (the same shape in shards of 1,000) had 7,413 events, 7.4
    // a target: within 25% of this per target.
    expect(plan.history.largestShard!.expected).toBe(3_000 + 4 + 9);
    expect(7_413 / 1_000 / (plan.history.largestShard!.expected / 500)).toBeLessThan(1.25);
    expect(plan.history.largestShard!.expected).toBeLessThan(plan.history.limit);
    // 100,000 targets and as many callbacks, the final one: 200,001 activities; 401 workflow starts.
    expect(plan.actions).toMatchObject({ workflowStarts: 401, activities: 200_001, signals: 200 });
  });

  it('plans a parallel execution: on-target callbacks, no final ones', async () => {
    const plan = await fanoutClient().plan({ targets: { echo: 1 }, onTarget: ['each'] }, { pattern: 'parallel' });
    expect(plan).toMatchObject({ pattern: 'parallel', run: { mode: 'single' }, actions: { activities: 2 } });
  });
});

describe('a dry run refuses what a start refuses, with the same error', () => {
  const cases: [string, Record<string, unknown>, new (...args: never[]) => Error][] = [
    ['an invalid request', { targets: {}, finalCallbacks: ['final'], maxConcurrency: 0 }, InvalidRequestError],
    [
      'unknown services and callbacks',
      { targets: { echo: 1, extra: 1 }, finalCallbacks: ['nope'] },
      UnknownServiceError,
    ],
    ['a callback in the wrong role', { targets: { echo: 1 }, finalCallbacks: ['each'] }, InvalidRequestError],
    [
      'a webhook secret not configured',
      {
        targets: { echo: 1 },
        finalCallbacks: [{ name: 'delivery.webhook', options: { url: 'https://example.test/h', secret: 'other' } }],
      },
      UndeliverableCallbackError,
    ],
    [
      'a request over the payload limit',
      { targets: { echo: 'x'.repeat(3 * 1024 * 1024) }, finalCallbacks: ['final'] },
      PayloadTooLargeError,
    ],
  ];
  it.each(cases)('%s', async (_label, request, type) => {
    const client = fanoutClient();
    const planned = await refusal(client.plan(request));
    const started = await refusal(client.startFanout(request));
    expect(planned).toBeInstanceOf(type);
    expect(planned).toEqual(started);
    expect((planned as Error).message).toBe((started as Error).message);
  });
});

describe('the client takes the planning functions without the workflow runtime', () => {
  it('loading the dry run (and workflows/sharding) loads no @temporalio/workflow', () => {
    // The built module, in a process of its own: what it pulls in is all that is in its module cache.
    const module = path.join(__dirname, '..', 'dist', 'src', 'client', 'dry-run.js');
    const loaded = execFileSync(process.execPath, [
      '-e',
      `require(${JSON.stringify(module)}); console.log(JSON.stringify(Object.keys(require.cache)))`,
    ]).toString();
    const files = JSON.parse(loaded) as string[];
    expect(files.some((file) => file.endsWith(path.join('workflows', 'sharding.js')))).toBe(true);
    expect(files.filter((file) => file.includes(`${path.sep}@temporalio${path.sep}workflow${path.sep}`))).toEqual([]);
  });
});
