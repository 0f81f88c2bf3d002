/**
 * The fan-out client's contract, through the real SDK on the official test server (time-skipping) and, for what
 * needs visibility, the official dev server: bad input refused with typed errors
 * before anything starts, duplicate CIDs, progress, parallel execution, invoke/retry, what the Web UI shows, and a
 * 3,000-target fan-out under the concurrency cap.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { ApplicationFailure, defaultPayloadConverter } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { z } from 'zod';
import {
  DuplicateCidError,
  FanoutClient,
  FanoutFailedError,
  FanoutNotFoundError,
  InvalidRequestError,
  PayloadTooLargeError,
  UnknownServiceError,
} from '../src/client';
import type { CallbackContext, FinalPayload, TargetRecord } from '../src/contracts';
import { FanoutSourceKey, FanoutStateKey } from '../src/contracts';
import { Registry, defineCallback, defineService } from '../src/registry';
import { creditScoringServices } from '../src/services';
import type { FanoutTestEnv } from './helpers/temporal-env';
import { CACHE_MODES, createDevServerEnv } from './helpers/temporal-env';
import { waitFor } from './helpers/wait';
import { progressQuery } from '../src/workflows/definitions';
import { fanoutTestFile, withFanoutWorker } from './helpers/fanout-env';

const { EventType } = temporal.api.enums.v1;

let env: FanoutTestEnv;
let workflowBundle: WorkflowBundleWithSourceMap;
fanoutTestFile((e, b) => ((env = e), (workflowBundle = b)));

function registry() {
  const calls: { payload: unknown; ctx: CallbackContext }[] = [];
  const counters = new Map<string, number>();
  const reg = new Registry(
    [
      ...creditScoringServices({ latencyMs: { crm: 10, erp: 20, scoring: 10 } }),
      defineService({ name: 'echo', handler: async (request: unknown) => request }),
      defineService({
        name: 'slow',
        handler: async () => {
          await new Promise((r) => setTimeout(r, 2_000));
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
  return { reg, calls };
}

describe('refusing bad input before anything starts', () => {
  const { reg } = registry();
  const fanout = () => new FanoutClient({ client: env.client, registry: reg });

  it('names every invalid field', async () => {
    const err = await fanout()
      .startFanout({ targets: {}, finalCallbacks: [], maxConcurrency: 0, extra: true })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidRequestError);
    const paths = (err as InvalidRequestError).issues.map((i) => i.path);
    expect(paths).toEqual(expect.arrayContaining(['targets', 'finalCallbacks', 'maxConcurrency']));
  });

  it("validates each target's request against its service's schema", async () => {
    const err = await fanout()
      .invoke({ 'crm.get-user': { user: 'x' } }, ['collect'])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidRequestError);
    expect((err as InvalidRequestError).issues[0].path).toBe('targets.crm.get-user.user_id');
  });

  it('refuses unknown services and callbacks by name', async () => {
    const err = await fanout()
      .invoke({ 'no.such.service': {}, 'crm.get-user': { user_id: 'u' } }, ['no.such.callback'], {
        onTarget: ['collect'],
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnknownServiceError);
    expect((err as UnknownServiceError).unknownServices).toEqual(['no.such.service']);
    expect((err as UnknownServiceError).unknownCallbacks).toEqual(['no.such.callback']);
  });

  it('refuses a request over the payload limit', async () => {
    const err = await fanout()
      .invoke({ echo: 'x'.repeat(2 * 1024 * 1024) }, ['collect'])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PayloadTooLargeError);
  });

  it('raises FanoutNotFoundError for an unknown CID', async () => {
    await expect(fanout().progress('no-such-cid')).rejects.toBeInstanceOf(FanoutNotFoundError);
    await expect(fanout().cancel('no-such-cid')).rejects.toBeInstanceOf(FanoutNotFoundError);
  });
});

describe('the workflow refuses names its worker does not serve', () => {
  it('fails at once, non-retryably, when the client knew a service the worker does not', async () => {
    const { reg } = registry();
    const workerRegistry = new Registry(
      [defineService({ name: 'echo', handler: async (r: unknown) => r })],
      [defineCallback({ name: 'collect', handler: async () => undefined })],
    );
    const err = await withFanoutWorker(
      { env, workflowBundle, taskQueue: 'narrow-worker' },
      workerRegistry,
      async () => {
        const client = new FanoutClient({ client: env.client, registry: reg, taskQueue: 'narrow-worker' });
        const cid = await client.invoke({ 'crm.get-user': { user_id: 'u' } }, ['collect']);
        return client.result(cid).catch((e: unknown) => e);
      },
    );
    // A typed answer (state and failure), with Temporal's failure as its cause.
    expect(err).toBeInstanceOf(FanoutFailedError);
    expect(err).toMatchObject({ state: 'failed', failure: { type: 'UnknownService' } });
    const cause = (err as FanoutFailedError).cause as ApplicationFailure;
    expect(cause.type).toBe('UnknownService');
    expect(cause.nonRetryable).toBe(true);
    expect(cause.message).toMatch(/unknown services: crm.get-user/);
  });
});

describe.each(CACHE_MODES)('patterns with $label', ({ maxCachedWorkflows }) => {
  const harness = () => ({
    env,
    workflowBundle,
    maxCachedWorkflows,
    taskQueue: `client-${maxCachedWorkflows ?? 'default'}`,
  });

  it('refuses a duplicate CID with a typed error and leaves the first fan-out alone', async () => {
    const { reg } = registry();
    const cid = `dup-${randomUUID()}`;
    const result = await withFanoutWorker(harness(), reg, async (fanout) => {
      const started = await fanout.invoke({ slow: {} }, ['collect'], { cid });
      expect(started).toBe(cid);
      await expect(fanout.invoke({ echo: 1 }, ['collect'], { cid })).rejects.toBeInstanceOf(DuplicateCidError);
      const first = await fanout.result(started);
      await expect(fanout.invoke({ echo: 1 }, ['collect'], { cid })).rejects.toBeInstanceOf(DuplicateCidError); // never reused
      return first;
    });
    expect(Object.keys(result.payload.data)).toEqual(['slow']);
    expect(result.payload.data.slow.response).toBe('done');
  });

  it('reports progress while running', async () => {
    const { reg } = registry();
    await withFanoutWorker(harness(), reg, async (fanout) => {
      const cid = await fanout.invoke({ echo: 'hi', slow: {} }, ['collect'], { source: 'progress-test' });
      let progress = await fanout.progress(cid);
      for (let i = 0; i < 100 && progress.ok < 1; i++) {
        await new Promise((r) => setTimeout(r, 20));
        progress = await fanout.progress(cid);
      }
      expect(progress).toMatchObject({
        cid,
        source: 'progress-test',
        pattern: 'fanout',
        state: 'running',
        total: 2,
        settled: 1,
        ok: 1,
        running: 1,
      });
      expect(progress.targets).toEqual({ echo: 'ok', slow: 'running' });
      await fanout.result(cid);
      expect(await fanout.progress(cid)).toMatchObject({ state: 'completed', settled: 2, ok: 2 });
    });
  });

  it("answers a completed fan-out's progress with no worker running", async () => {
    const { reg } = registry();
    const { cid, queried } = await withFanoutWorker(harness(), reg, async (fanout) => {
      const cid = await fanout.invoke({ echo: 'hi', 'fails.until': { key: randomUUID(), succeedOn: 9 } }, ['collect'], {
        source: 'finished-progress',
      });
      await fanout.result(cid);
      // What the workflow itself answers, replayed by the worker.
      return { cid, queried: await env.client.workflow.getHandle(cid).query(progressQuery) };
    });
    // The worker has stopped: a query would wait for one; the outcome and the records need none.
    const progress = await new FanoutClient({ client: env.client, registry: reg, store: env.store }).progress(cid);
    expect(progress).toEqual({
      cid,
      source: 'finished-progress',
      pattern: 'fanout',
      state: 'completed',
      total: 2,
      settled: 2,
      ok: 1,
      failed: 1,
      cancelled: 0,
      running: 0,
      pending: 0,
      targets: { echo: 'ok', 'fails.until': 'failed' },
      latency: expect.objectContaining({ echo: expect.objectContaining({ count: 1 }) }),
    });
    // The same answer, less the controls of a run that is over.
    expect(progress).toEqual({ ...queried, maxConcurrency: undefined, paused: undefined });
  });

  it('runs parallel execution: on-target callbacks only, channel PARALLEL_EXEC_ON_TARGET', async () => {
    const { reg, calls } = registry();
    const result = await withFanoutWorker(harness(), reg, async (fanout) => {
      const cid = await fanout.parallel({ a: 1, b: 2 }, ['collect'], {
        targetOptions: { a: { service: 'echo' }, b: { service: 'echo' } },
      });
      return fanout.result(cid);
    });
    expect(result.payload.on_final).toEqual([]);
    expect(calls.map((c) => c.ctx.channel)).toEqual(['PARALLEL_EXEC_ON_TARGET', 'PARALLEL_EXEC_ON_TARGET']);
    expect(calls.map((c) => (c.payload as TargetRecord).response).sort()).toEqual([1, 2]);
  });

  it('runs invoke/retry: tried on a schedule, callback on success', async () => {
    const { reg, calls } = registry();
    const key = randomUUID();
    const result = await withFanoutWorker(harness(), reg, async (fanout) => {
      const cid = await fanout.invokeRetry({
        target: 'fails.until',
        request: { key, succeedOn: 3 },
        attempts: 5,
        interval: '10 minutes',
        callbacks: ['collect'],
      });
      const result = await fanout.result(cid);
      return { ...result, progress: await fanout.progress(cid) };
    });
    expect(result.record).toMatchObject({ ok: true, response: { tries: 3 }, target: 'fails.until' });
    expect(result.progress).toMatchObject({
      pattern: 'invoke-retry',
      state: 'completed',
      ok: 1,
      targets: { 'fails.until': 'ok' },
    });
    // Two ten-minute intervals in skipped time; the test server reports an attempt as scheduled before its backoff
    // (see the fan-out workflow test), so one of them shows in resp_ts_utc there.
    expect(Date.parse(result.record.resp_ts_utc) - Date.parse(result.record.req_ts_utc)).toBeGreaterThanOrEqual(
      10 * 60_000,
    );
    expect(calls.map((c) => c.ctx.channel)).toEqual(['INVOKE_RETRY_ON_SUCCESS']);
  });

  it('runs invoke/retry: callback on final failure after the last attempt', async () => {
    const { reg, calls } = registry();
    const result = await withFanoutWorker(harness(), reg, async (fanout) => {
      const cid = await fanout.invokeRetry({
        target: 'fails.until',
        request: { key: randomUUID(), succeedOn: 99 },
        attempts: 3,
        interval: '1 minute',
        callbacks: ['collect'],
      });
      return fanout.result(cid);
    });
    expect(result.record.ok).toBe(false);
    expect(result.record.exception).toMatch(/try 3 fails/);
    expect(calls.map((c) => c.ctx.channel)).toEqual(['INVOKE_RETRY_ON_FAILURE']);
  });
});

describe('what the Temporal Web UI shows', () => {
  // Listing by search attribute needs visibility, which only the dev server (a real server) has.
  let devEnv: FanoutTestEnv;
  beforeAll(async () => {
    devEnv = await createDevServerEnv();
  }, 120_000);
  afterAll(async () => {
    await devEnv?.teardown();
  });

  it('summary, details, readable activity ids with summaries, current details, search attributes', async () => {
    const { reg } = registry();
    const cid = `ui-${randomUUID()}`;
    const env = devEnv;
    const { description, history, metadata } = await withFanoutWorker(
      { env, workflowBundle, taskQueue: 'ui' },
      reg,
      async (fanout) => {
        await fanout.invoke({ 'crm.get-user': { user_id: 'u' }, second: { user_id: 'v' } }, ['collect'], {
          cid,
          source: 'crm-portal',
          onTarget: ['collect'],
          targetOptions: { second: { service: 'crm.get-user' } },
        });
        await fanout.result(cid);
        const handle = env.client.workflow.getHandle(cid);
        return {
          description: await handle.describe(),
          history: await handle.fetchHistory(),
          metadata: await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata'),
        };
      },
    );
    expect(await description.staticSummary()).toBe('fan-out from crm-portal: 2 targets');
    expect(await description.staticDetails()).toMatch(/second → crm.get-user/);
    expect(description.typedSearchAttributes.get(FanoutSourceKey)).toBe('crm-portal');
    expect(description.typedSearchAttributes.get(FanoutStateKey)).toBe('completed');
    const scheduled = history.events!.filter((e) => e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED);
    const described = scheduled.map((e) => [
      e.activityTaskScheduledEventAttributes!.activityId,
      defaultPayloadConverter.fromPayload(e.userMetadata!.summary!),
    ]);
    expect(described).toEqual(
      expect.arrayContaining([
        ['target/crm.get-user', 'target crm.get-user'],
        ['target/second', 'target second → crm.get-user'],
        ['on-target/crm.get-user/collect', 'callback collect for target crm.get-user'],
        ['on-final/collect', 'final callback collect'],
      ]),
    );
    // A final callback's timeout allows 10 ms a record for reading them, on top of the callback's minute.
    const timeouts = Object.fromEntries(
      scheduled.map((e) => [
        e.activityTaskScheduledEventAttributes!.activityId,
        Number(e.activityTaskScheduledEventAttributes!.startToCloseTimeout!.seconds) * 1000 +
          (e.activityTaskScheduledEventAttributes!.startToCloseTimeout!.nanos ?? 0) / 1e6,
      ]),
    );
    expect(timeouts).toMatchObject({ 'on-final/collect': 60_020, 'on-target/second/collect': 60_000 });
    expect(metadata.currentDetails).toMatch(/\| crm.get-user \| ok \|/);
    expect(metadata.currentDetails).toMatch(/2 ok, 0 failed/);
    // Visibility is eventually consistent on a real server: wait for the listing to catch up.
    await waitFor(async () => {
      for await (const info of env.client.workflow.list({
        query: `FanoutSource = 'crm-portal' AND FanoutState = 'completed'`,
      }))
        if (info.workflowId === cid) return true;
      return false;
    });
  });
});

describe.each(CACHE_MODES)('3,000 targets with $label', ({ maxCachedWorkflows }) => {
  it('run as shards of 500, two at a time: all settle, never more than maxConcurrency running at once', async () => {
    const { reg, calls } = registry();
    const targets = Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`t${i}`, i]));
    const targetOptions = Object.fromEntries(Object.keys(targets).map((name) => [name, { service: 'echo' }]));
    const { result, histories } = await withFanoutWorker(
      { env, workflowBundle, maxCachedWorkflows, taskQueue: `wide-${maxCachedWorkflows ?? 'default'}` },
      reg,
      async (fanout) => {
        const cid = await fanout.invoke(targets, ['collect'], { targetOptions, maxConcurrency: 200 });
        const result = await fanout.result(cid);
        const ids = [cid, ...[1, 2, 3, 4, 5, 6].map((n) => `${cid}//shard-${n}`)];
        const histories = await Promise.all(ids.map((id) => env.client.workflow.getHandle(id).fetchHistory()));
        return { result, histories };
      },
    );
    const [top, ...shards] = histories;
    // The server's record is the judge: count activities (in shards) and shards (in the fan-out) open at once.
    const maxOpen = (events: typeof top.events, opens: (e: NonNullable<typeof top.events>[number]) => boolean) => {
      let open = 0;
      let max = 0;
      const opened = new Set<number>();
      for (const event of events!) {
        if (opens(event)) {
          opened.add(Number(event.eventId));
          max = Math.max(max, ++open);
        }
        const closed =
          event.activityTaskCompletedEventAttributes ??
          event.activityTaskFailedEventAttributes ??
          event.activityTaskTimedOutEventAttributes;
        if (closed && opened.has(Number(closed.scheduledEventId))) open--;
        const childClosed = event.childWorkflowExecutionCompletedEventAttributes;
        if (childClosed && opened.has(Number(childClosed.initiatedEventId))) open--;
      }
      return { max, count: opened.size };
    };
    const perShard = shards.map((h) =>
      maxOpen(h.events, (e) => !!e.activityTaskScheduledEventAttributes?.activityId?.startsWith('target/')),
    );
    expect(perShard.map((s) => s.count)).toEqual(Array(6).fill(500));
    // maxConcurrency 200 over two shards of 100: each one's share is reached and never passed.
    expect(perShard.map((s) => s.max)).toEqual(Array(6).fill(100));
    expect(maxOpen(top.events, (e) => !!e.startChildWorkflowExecutionInitiatedEventAttributes)).toEqual({
      max: 2,
      count: 6,
    });
    for (const history of histories) expect(history.events!.length).toBeLessThan(10_240);
    expect(Object.values(result.targets).filter((s) => s === 'ok')).toHaveLength(3000);
    expect(Object.keys(result.payload.data)).toEqual(Object.keys(targets)); // in the caller's order
    expect(result.payload.data.t2999.response).toBe(2999);
    expect(result.counts).toMatchObject({ total: 3000, ok: 3000, failed: 0, callbacks: 1, callbacksFailed: 0 });
    expect(calls).toHaveLength(1);
    expect(Object.keys((calls[0].payload as FinalPayload).data)).toHaveLength(3000);
  }, 300_000);
});
