/**
 * The three patterns through the real SDK Worker and Client on the production topology (Temporal server v1.30.4 as
 * four processes on PostgreSQL, see global-setup.ts): the seed's credit-scoring fan-out, a 2,500-target fan-out that
 * runs as five shards (child workflows), parallel execution, invoke/retry, and listing fan-outs by FanoutSource /
 * FanoutState through the server's PostgreSQL visibility store.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client, Connection } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { FanoutWorker } from '../../src/worker/fanout-worker';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';
import { z } from 'zod';
import { FanoutClient } from '../../src/client';
import type { CallbackContext, FinalPayload, TargetRecord } from '../../src/contracts';
import { FanoutSourceKey, FanoutStateKey } from '../../src/contracts';
import { Registry, defineCallback, defineService } from '../../src/registry';
import { creditScoringServices } from '../../src/services';
import { createFanoutWorker } from '../../src/worker/create-worker';
import { bundle, tempStore } from '../helpers/temporal-env';
import { waitFor } from '../helpers/wait';
import { cluster, clusterClient } from './cluster';

const { EventType } = temporal.api.enums.v1;
const TASK_QUEUE = 'cluster-patterns';

const calls: { payload: unknown; ctx: CallbackContext }[] = [];
const counters = new Map<string, number>();
const registry = new Registry(
  [
    ...creditScoringServices({ latencyMs: { crm: 30, erp: 80, scoring: 50 } }),
    defineService({ name: 'echo', handler: async (request: unknown) => request }),
    defineService({
      name: 'slow',
      request: z.object({ ms: z.number() }),
      handler: async ({ ms }: { ms: number }) => {
        await new Promise((r) => setTimeout(r, ms));
        return 'done';
      },
    }),
    defineService({
      name: 'fails.until',
      request: z.object({ key: z.string(), succeedOn: z.number() }),
      handler: async ({ key, succeedOn }: { key: string; succeedOn: number }) => {
        const n = (counters.get(key) ?? 0) + 1;
        counters.set(key, n);
        if (n < succeedOn) throw ApplicationFailure.create({ message: `try ${n} fails`, type: 'NotYet' });
        return { tries: n };
      },
    }),
  ],
  [
    defineCallback({
      name: 'collect',
      handler: async (payload, ctx) => {
        calls.push({ payload, ctx });
      },
    }),
  ],
);
const callsFor = (cid: string) => calls.filter((c) => c.ctx.cid === cid);

let native: NativeConnection;
let connection: Connection;
let client: Client;
let worker: FanoutWorker;
let running: Promise<void>;
let fanout: FanoutClient;

beforeAll(async () => {
  // Failed attempts of `fails.until` are expected here: only errors are worth printing.
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const store = tempStore(); // one result store for the worker and the client
  native = await NativeConnection.connect({ address: cluster().address });
  ({ client, connection } = await clusterClient(store));
  worker = await createFanoutWorker({
    store,
    connection: native,
    registry,
    taskQueue: TASK_QUEUE,
    workflowBundle: await bundle(),
  });
  running = worker.run();
  fanout = new FanoutClient({ client, registry, taskQueue: TASK_QUEUE, store });
}, 120_000);

afterAll(async () => {
  worker?.shutdown();
  await running;
  await connection?.close();
  await native?.close();
});

describe('on a Temporal cluster (4 services, PostgreSQL)', () => {
  it('runs the seed credit-scoring fan-out: three backends, on-target and final callbacks', async () => {
    const userId = 'user-1234';
    const cid = await fanout.invoke(
      {
        'crm.get-user': { user_id: userId },
        'erp.get-user-information': { USER_ID: userId },
        'scoring.get-score': { uid: userId },
      },
      ['collect'],
      { onTarget: ['collect'], source: 'demo.get-user-credit-scoring' },
    );
    const result = await fanout.result(cid);
    expect(result.state).toBe('completed');
    expect(Object.keys(result.payload.data)).toEqual(['crm.get-user', 'erp.get-user-information', 'scoring.get-score']);
    expect(Object.values(result.payload.data).every((r) => r.ok && r.cid === cid)).toBe(true);
    expect(result.payload.data['crm.get-user'].response).toMatchObject({ user_id: userId, segment: 'retail' });
    expect(result.payload.data['erp.get-user-information'].response).toMatchObject({ USER_ID: userId });
    expect(result.payload.data['scoring.get-score'].response).toMatchObject({ uid: userId });
    const seen = callsFor(cid);
    expect(seen.filter((c) => c.ctx.channel === 'FANOUT_ON_TARGET')).toHaveLength(3);
    const final = seen.filter((c) => c.ctx.channel === 'FANOUT_ON_FINAL');
    expect(final).toHaveLength(1);
    expect((final[0].payload as FinalPayload).source).toBe('demo.get-user-credit-scoring');
    expect(Object.keys((final[0].payload as FinalPayload).data)).toHaveLength(3);
  });

  it('runs 2,500 targets at maxConcurrency 500 as 5 shards (child workflows <cid>//shard-N), every record kept', async () => {
    const targets = Object.fromEntries(Array.from({ length: 2500 }, (_, i) => [`t${i}`, i]));
    const targetOptions = Object.fromEntries(Object.keys(targets).map((name) => [name, { service: 'echo' }]));
    const started = Date.now();
    const cid = await fanout.invoke(targets, ['collect'], {
      targetOptions,
      maxConcurrency: 500,
      source: 'cluster-wide',
    });
    const result = await fanout.result(cid);
    const seconds = (Date.now() - started) / 1000;
    console.log(`2,500-target fan-out on the cluster: ${seconds.toFixed(1)} s`);

    expect(result.counts).toMatchObject({ total: 2500, ok: 2500, failed: 0, callbacks: 1, callbacksFailed: 0 });
    expect(Object.keys(result.payload.data)).toEqual(Object.keys(targets)); // in the caller's order
    expect(result.payload.data.t2499.response).toBe(2499);
    const final = callsFor(cid).filter((c) => c.ctx.channel === 'FANOUT_ON_FINAL');
    expect(final).toHaveLength(1);
    expect(Object.keys((final[0].payload as FinalPayload).data)).toHaveLength(2500);

    const shardIds = [1, 2, 3, 4, 5].map((n) => `${cid}//shard-${n}`);
    const top = await client.workflow.getHandle(cid).fetchHistory();
    const children = top
      .events!.filter((e) => e.eventType === EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED)
      .map((e) => e.startChildWorkflowExecutionInitiatedEventAttributes!.workflowId);
    expect(children).toEqual(shardIds);
    await expect(client.workflow.getHandle(`${cid}//shard-6`).describe()).rejects.toThrow();
    const perShard = [];
    for (const id of shardIds) {
      expect((await client.workflow.getHandle(id).describe()).status.name).toBe('COMPLETED');
      // The shard's own history is the judge: how many targets it ran, and at most how many at once.
      let open = 0;
      let max = 0;
      let count = 0;
      for (const event of (await client.workflow.getHandle(id).fetchHistory()).events!) {
        if (event.activityTaskScheduledEventAttributes?.activityId?.startsWith('target/')) {
          count++;
          max = Math.max(max, ++open);
        }
        if (event.activityTaskCompletedEventAttributes) open--;
      }
      perShard.push({ count, max });
    }
    // 500 spread over the five shards at once, SHARD_LAYOUT.inFlight (100) each.
    expect(perShard).toEqual(Array(5).fill({ count: 500, max: 100 }));
  }, 180_000);

  it('runs parallel execution: on-target callbacks only, channel PARALLEL_EXEC_ON_TARGET', async () => {
    const targets = Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`p${i}`, i]));
    const targetOptions = Object.fromEntries(Object.keys(targets).map((name) => [name, { service: 'echo' }]));
    const cid = await fanout.parallel(targets, ['collect'], { targetOptions });
    const result = await fanout.result(cid);
    expect(result.payload.on_final).toEqual([]);
    const seen = callsFor(cid);
    expect(seen.map((c) => c.ctx.channel)).toEqual(Array(5).fill('PARALLEL_EXEC_ON_TARGET'));
    expect(seen.map((c) => (c.payload as TargetRecord).response).sort()).toEqual([0, 1, 2, 3, 4]);
  });

  it('runs invoke/retry in real time: tried `interval` apart, callback on success', async () => {
    const cid = await fanout.invokeRetry({
      target: 'fails.until',
      request: { key: randomUUID(), succeedOn: 3 },
      attempts: 5,
      interval: '1 second',
      callbacks: ['collect'],
    });
    const result = await fanout.result(cid);
    expect(result.record).toMatchObject({ ok: true, response: { tries: 3 }, target: 'fails.until', cid });
    // Two one-second intervals between the three tries.
    expect(Date.parse(result.record.resp_ts_utc) - Date.parse(result.record.req_ts_utc)).toBeGreaterThanOrEqual(1_900);
    expect(await fanout.progress(cid)).toMatchObject({ pattern: 'invoke-retry', state: 'completed', ok: 1 });
    expect(callsFor(cid).map((c) => c.ctx.channel)).toEqual(['INVOKE_RETRY_ON_SUCCESS']);
  });

  it('runs invoke/retry: callback on final failure after the last attempt', async () => {
    const cid = await fanout.invokeRetry({
      target: 'fails.until',
      request: { key: randomUUID(), succeedOn: 99 },
      attempts: 2,
      interval: '500 ms',
      callbacks: ['collect'],
    });
    const result = await fanout.result(cid);
    expect(result.record.ok).toBe(false);
    expect(result.record.exception).toMatch(/try 2 fails/);
    expect(callsFor(cid).map((c) => c.ctx.channel)).toEqual(['INVOKE_RETRY_ON_FAILURE']);
  });

  it('lists fan-outs by FanoutSource and FanoutState through PostgreSQL visibility', async () => {
    const source = `cluster-visibility-${randomUUID().slice(0, 8)}`;
    const other = `${source}-other`;
    const quick = await Promise.all([0, 1].map((i) => fanout.invoke({ echo: i }, ['collect'], { source })));
    const slow = await fanout.invoke({ slow: { ms: 8_000 } }, ['collect'], { source });
    const elsewhere = await fanout.invoke({ echo: 'x' }, ['collect'], { source: other });
    await Promise.all([...quick, elsewhere].map((cid) => fanout.result(cid)));

    const list = async (query: string) => {
      const ids: string[] = [];
      for await (const info of client.workflow.list({ query })) ids.push(info.workflowId);
      return ids.sort();
    };
    // Visibility is eventually consistent: wait for the listing to catch up with the workflows' upserts.
    const until = async (query: string, expected: string[]) => {
      let last: string[] = [];
      await waitFor(async () => {
        last = await list(query);
        return JSON.stringify(last) === JSON.stringify([...expected].sort());
      }, 20_000).catch(() => {
        throw new Error(`${query}: listed ${JSON.stringify(last)}, expected ${JSON.stringify(expected.sort())}`);
      });
    };
    await until(`FanoutSource = '${source}' AND FanoutState = 'completed'`, quick);
    await until(`FanoutSource = '${source}' AND FanoutState = 'running'`, [slow]);
    await until(`FanoutSource = '${source}'`, [...quick, slow]);
    await until(`FanoutSource IN ('${source}', '${other}') AND FanoutState = 'completed'`, [...quick, elsewhere]);
    expect((await client.workflow.count(`FanoutSource = '${source}'`)).count).toBe(3);

    await fanout.result(slow);
    await until(`FanoutSource = '${source}' AND FanoutState = 'completed'`, [...quick, slow]);
    await until(`FanoutSource = '${source}' AND FanoutState = 'running'`, []);
    const description = await client.workflow.getHandle(slow).describe();
    expect(description.typedSearchAttributes.get(FanoutSourceKey)).toBe(source);
    expect(description.typedSearchAttributes.get(FanoutStateKey)).toBe('completed');
  }, 60_000);
});
