/**
 * Batched targets through the real SDK Worker and Client on the official time-skipping test server, under both
 * cache settings: one activity per batch, and every target still with its own record, retries, timeout and
 * on-target callbacks; a flaky target retried alone; cancellation and fail-fast across batches; progress counted
 * as targets settle, before their batch ends.
 */
import { describe, expect, it } from 'vitest';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { CallbackContext, TargetRecord } from '../src/contracts';
import { RUN_BATCH, ServiceBusyError } from '../src';
import { Registry, defineCallback, defineService } from '../src/registry';
import { fanoutTestFile, withFanoutWorker } from './helpers/fanout-env';
import type { FanoutTestEnv } from './helpers/temporal-env';
import { CACHE_MODES } from './helpers/temporal-env';
import { waitFor } from './helpers/wait';
import { shardWorkflowId } from '../src/workflows/sharding';

let env: FanoutTestEnv;
let workflowBundle: WorkflowBundleWithSourceMap;
fanoutTestFile((e, b) => ((env = e), (workflowBundle = b)));

function batchRegistry() {
  const calls = new Map<string, number>();
  const callbacks: { payload: unknown; ctx: CallbackContext; activityId: string; attempt: number }[] = [];
  const aborted: string[] = [];
  const stubbornDone: string[] = [];
  const running = { now: 0, peak: 0 };
  const fixed = { now: false };
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const count = (key: string) => {
    const n = (calls.get(key) ?? 0) + 1;
    calls.set(key, n);
    return n;
  };
  const registry = new Registry(
    [
      defineService({ name: 'echo', handler: async (request: string) => (count(request), { echoed: request }) }),
      defineService({
        name: 'flaky',
        handler: async (request: string) => {
          const n = count(request);
          if (n <= 2) throw ApplicationFailure.create({ message: `attempt ${n} fails`, type: 'Flaky' });
          return { attempts: n, attempt: Context.current().info.attempt };
        },
      }),
      defineService({
        name: 'broken',
        handler: async (request: string) => {
          count(request);
          throw ApplicationFailure.create({ message: 'backend down', type: 'BackendDown' });
        },
      }),
      defineService({
        name: 'gated',
        handler: async (request: string) => {
          count(request);
          const { cancellationSignal } = Context.current();
          await new Promise<void>((resolve) => {
            void gate.then(resolve);
            cancellationSignal.addEventListener('abort', () => {
              aborted.push(request);
              resolve();
            });
          });
          return 'late';
        },
      }),
      defineService({
        name: 'busy',
        // Asks twice to come back later, then answers.
        handler: async (request: string) => {
          const n = count(request);
          if (n <= 2) throw new ServiceBusyError('429 Too Many Requests', { retryAfter: '100ms' });
          return n;
        },
      }),
      defineService({
        name: 'toggle',
        // Fails until the backend is "fixed".
        handler: async (request: string) => {
          count(request);
          if (!fixed.now) throw ApplicationFailure.create({ message: 'not yet', type: 'NotYet' });
          return `fixed ${request}`;
        },
      }),
      defineService({
        name: 'held',
        // Runs until released, counting how many run at once.
        handler: async (request: string) => {
          count(request);
          running.now++;
          running.peak = Math.max(running.peak, running.now);
          await gate;
          running.now--;
          return request;
        },
      }),
      defineService({
        name: 'stubborn',
        // Heeds no cancellation: its attempt must still end at its timeout.
        handler: async (request: string) => {
          count(request);
          await new Promise((resolve) => setTimeout(resolve, 3000));
          stubbornDone.push(request);
          return 'too late';
        },
      }),
      defineService({
        name: 'by-default',
        batching: { maxTargets: 2 },
        handler: async (request: string) => (count(request), request),
      }),
    ],
    [
      defineCallback({
        name: 'cb',
        handler: async (payload, ctx) => {
          const { activityId, attempt } = Context.current().info;
          callbacks.push({ payload, ctx, activityId, attempt });
        },
      }),
    ],
  );
  return { registry, calls, callbacks, aborted, stubbornDone, running, fixed, release: () => release() };
}

async function scheduledActivities(cid: string): Promise<string[]> {
  const history = await env.client.workflow.getHandle(cid).fetchHistory();
  return (history.events ?? [])
    .map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name)
    .filter((name): name is string => Boolean(name));
}

describe.each(CACHE_MODES)('batched targets with $label', ({ maxCachedWorkflows }) => {
  const harness = () => ({
    env,
    workflowBundle,
    maxCachedWorkflows,
    taskQueue: `batching-${maxCachedWorkflows ?? 'default'}`,
  });

  it('run one activity per batch; every target keeps its record and on-target callbacks', async () => {
    const { registry, calls, callbacks } = batchRegistry();
    const names = Array.from({ length: 7 }, (_, i) => `t${i + 1}`);
    const { result, scheduled } = await withFanoutWorker(harness(), registry, async (fanout) => {
      const cid = await fanout.invoke(Object.fromEntries(names.map((n) => [n, n])), ['cb'], {
        onTarget: ['cb'],
        source: 'batch-test',
        targetOptions: Object.fromEntries(names.map((n) => [n, { service: 'echo' }])),
        batching: { maxTargets: 3 },
      });
      return { result: await fanout.result(cid), scheduled: await scheduledActivities(cid) };
    });
    expect(result.state).toBe('completed');
    expect(result.counts).toMatchObject({ total: 7, ok: 7, failed: 0, cancelled: 0, callbacks: 8 });
    for (const name of names) {
      expect(result.payload.data[name]).toMatchObject({ source: 'batch-test', target: name, ok: true });
      expect(result.payload.data[name].response).toEqual({ echoed: name });
      expect(calls.get(name)).toBe(1);
    }
    // Three batches (3 + 3 + 1) and the final callback: no activity per target or per on-target callback.
    expect(scheduled.filter((name) => name === RUN_BATCH)).toHaveLength(3);
    expect(scheduled.filter((name) => name === 'echo')).toEqual([]);
    expect(scheduled.filter((name) => name === 'cb')).toHaveLength(1);
    const onTarget = callbacks.filter((c) => c.ctx.channel === 'FANOUT_ON_TARGET');
    expect(onTarget.map((c) => (c.payload as TargetRecord).target).sort()).toEqual(names);
    // The callback's context is the one it would have as an activity of its own: its ID gives the delivery id.
    expect(onTarget.find((c) => c.ctx.target === 't2')).toMatchObject({
      activityId: 'on-target/t2/cb',
      attempt: 1,
      ctx: { cid: result.cid, callback: 'cb', target: 't2' },
    });
  });

  it('a flaky target is retried alone by its own policy; a failed one is recorded; its batch-mates run once', async () => {
    const { registry, calls } = batchRegistry();
    const key = `k-${maxCachedWorkflows ?? 'd'}-${Date.now()}`;
    const result = await withFanoutWorker(harness(), registry, async (fanout) => {
      const cid = await fanout.invoke({ a: 'a', flaky: key, b: 'b', broken: 'x' }, ['cb'], {
        targetOptions: {
          a: { service: 'echo' },
          flaky: { service: 'flaky', retry: { maximumAttempts: 3, initialInterval: '100ms' } },
          b: { service: 'echo' },
          broken: { service: 'broken', retry: { maximumAttempts: 2, initialInterval: '100ms' } },
        },
        batching: { maxTargets: 10 },
      });
      return fanout.result(cid);
    });
    expect(result.targets).toEqual({ a: 'ok', flaky: 'ok', b: 'ok', broken: 'failed' });
    expect(result.payload.data.flaky.response).toEqual({ attempts: 3, attempt: 3 });
    expect(result.payload.data.broken.exception).toMatch(/^ApplicationFailure: backend down\n/);
    expect([calls.get('a'), calls.get(key), calls.get('b'), calls.get('x')]).toEqual([1, 3, 1, 2]);
  });

  it('a target past its start-to-close timeout fails alone, whether or not its service heeds the cancellation', async () => {
    const { registry, aborted, stubbornDone, release } = batchRegistry();
    const { result, doneWhenSettled } = await withFanoutWorker(harness(), registry, async (fanout) => {
      const cid = await fanout.invoke({ quick: 'q', slow: 'slow', stubborn: 'stubborn' }, ['cb'], {
        targetOptions: {
          quick: { service: 'echo' },
          slow: { service: 'gated', startToCloseTimeout: '500ms', retry: { maximumAttempts: 1 } },
          stubborn: { service: 'stubborn', startToCloseTimeout: '300ms', retry: { maximumAttempts: 1 } },
        },
        batching: { maxTargets: 5 },
      });
      const result = await fanout.result(cid);
      const doneWhenSettled = [...stubbornDone];
      release();
      return { result, doneWhenSettled };
    });
    expect(result.targets).toEqual({ quick: 'ok', slow: 'failed', stubborn: 'failed' });
    expect(result.payload.data.slow.exception).toMatch(/^TimeoutFailure: StartToClose timeout/);
    expect(result.payload.data.stubborn.exception).toMatch(/^TimeoutFailure: StartToClose timeout/);
    expect(aborted).toEqual(['slow']);
    // The batch did not wait for the service that ignored its timeout: it was still running when the fan-out ended.
    expect(doneWhenSettled).toEqual([]);
  });

  it('a service batched by its definition runs in batches unless the fan-out says otherwise', async () => {
    const { registry } = batchRegistry();
    const scheduled = await withFanoutWorker(harness(), registry, async (fanout) => {
      const cid = await fanout.invoke({ d1: 'd1', d2: 'd2', d3: 'd3' }, ['cb'], {
        targetOptions: { d1: { service: 'by-default' }, d2: { service: 'by-default' }, d3: { service: 'by-default' } },
      });
      expect((await fanout.result(cid)).targets).toEqual({ d1: 'ok', d2: 'ok', d3: 'ok' });
      return scheduledActivities(cid);
    });
    expect(scheduled.filter((name) => name === RUN_BATCH)).toHaveLength(2);
  });

  it('counts targets as they settle, before their batch ends; cancelled, the batch records the rest as cancelled', async () => {
    const { registry, callbacks, aborted } = batchRegistry();
    const { result, seen } = await withFanoutWorker(harness(), registry, async (fanout) => {
      const cid = await fanout.invoke({ a: 'a', b: 'b', held: 'held', later: 'later' }, ['cb'], {
        onTarget: ['cb'],
        targetOptions: {
          a: { service: 'echo' },
          b: { service: 'echo' },
          held: { service: 'gated' },
          later: { service: 'echo' },
        },
        // One at a time in one batch: `held` blocks it, so `later` has not started when the fan-out is cancelled.
        batching: { maxTargets: 4 },
        maxConcurrency: 1,
      });
      await waitFor(async () => (await fanout.progress(cid)).ok === 2, 10_000);
      const seen = await fanout.progress(cid);
      await fanout.cancel(cid);
      return { result: await fanout.result(cid), seen };
    });
    expect(seen).toMatchObject({ ok: 2, failed: 0, cancelled: 0, running: 2 });
    expect(result.state).toBe('cancelled');
    expect(result.targets).toEqual({ a: 'ok', b: 'ok', held: 'cancelled', later: 'cancelled' });
    expect(aborted).toEqual(['held']);
    expect(result.payload.data.held.exception).toBe(
      'CancelledFailure: the fan-out was cancelled before this target finished',
    );
    expect(result.payload.data.later.exception).toBe(
      'CancelledFailure: the fan-out was cancelled before this target started',
    );
    // Every target's on-target callback ran once: by the batch, or for the cancelled ones after it.
    const onTarget = callbacks.filter((c) => c.ctx.channel === 'FANOUT_ON_TARGET').map((c) => c.ctx.target);
    expect(onTarget.sort()).toEqual(['a', 'b', 'held', 'later']);
    expect(result.counts.callbacks).toBe(5);
  });

  it('fail-fast stops every batch: what was running is cancelled, what had not started never starts', async () => {
    const { registry, calls, release } = batchRegistry();
    const result = await withFanoutWorker(harness(), registry, async (fanout) => {
      const cid = await fanout.invoke({ h1: 'h1', h2: 'h2', bad: 'bad', ok: 'ok', n1: 'n1', n2: 'n2' }, ['cb'], {
        targetOptions: {
          h1: { service: 'gated' },
          h2: { service: 'gated' },
          bad: { service: 'broken', retry: { maximumAttempts: 1 } },
          ok: { service: 'echo' },
          n1: { service: 'echo' },
          n2: { service: 'echo' },
        },
        batching: { maxTargets: 2 },
        maxConcurrency: 4,
        failurePolicy: 'fail-fast',
      });
      const result = await fanout.result(cid);
      release();
      return result;
    });
    expect(result.state).toBe('cancelled');
    expect(result.stopped?.reason).toBe('failure-policy');
    expect(result.targets).toEqual({
      h1: 'cancelled',
      h2: 'cancelled',
      bad: 'failed',
      ok: 'ok',
      n1: 'cancelled',
      n2: 'cancelled',
    });
    expect(result.payload.data.h1.exception).toMatch(/^CancelledFailure: the fan-out stopped \(1 of 6 targets failed/);
    expect(calls.get('n1')).toBeUndefined();
  });

  it('pause holds the next batches, and maxConcurrency counts targets: raised, more batches run at once', async () => {
    const { registry, running, release } = batchRegistry();
    const names = Array.from({ length: 10 }, (_, i) => `h${i}`);
    const { result, atPause, peakRaised } = await withFanoutWorker(harness(), registry, async (fanout) => {
      const cid = await fanout.invoke(Object.fromEntries(names.map((n) => [n, n])), ['cb'], {
        targetOptions: Object.fromEntries(names.map((n) => [n, { service: 'held' }])),
        batching: { maxTargets: 2 },
        maxConcurrency: 2,
      });
      await waitFor(async () => running.now === 2);
      await fanout.pause(cid);
      const atPause = await fanout.progress(cid);
      // Three batches of two at once: six targets running together.
      await fanout.setMaxConcurrency(cid, 6);
      await fanout.resume(cid);
      await waitFor(async () => running.now === 6);
      const peakRaised = running.peak;
      release();
      return { result: await fanout.result(cid), atPause, peakRaised };
    });
    expect(atPause).toMatchObject({ paused: true, running: 2, pending: 8 });
    expect(peakRaised).toBe(6);
    expect(result.counts).toMatchObject({ total: 10, ok: 10 });
  });

  it('a batched fan-out too wide for one execution runs as shards, batches in each', async () => {
    const { registry, calls } = batchRegistry();
    // Batches of two: an execution holds 1,776 targets (workflows/sharding), so 1,800 make two shards.
    const width = 1_800;
    const names = Array.from({ length: width }, (_, i) => `w${i}`);
    const result = await withFanoutWorker(harness(), registry, async (fanout) => {
      const cid = await fanout.invoke(Object.fromEntries(names.map((n) => [n, n])), ['cb'], {
        targetOptions: Object.fromEntries(names.map((n) => [n, { service: 'echo' }])),
        batching: { maxTargets: 2 },
        maxConcurrency: 400,
      });
      const result = await fanout.result(cid);
      const second = await env.client.workflow.getHandle(shardWorkflowId(cid, 1)).describe();
      expect(second.status.name).toBe('COMPLETED');
      expect(await scheduledActivities(shardWorkflowId(cid, 1))).toContain(RUN_BATCH);
      return result;
    });
    expect(result.state).toBe('completed');
    expect(result.counts).toMatchObject({ total: width, ok: width, failed: 0 });
    expect(Object.keys(result.payload.data)).toHaveLength(width);
    expect(names.every((name) => calls.get(name) === 1)).toBe(true);
  });

  it('local targets run in local batches: no task through the server, each target still recorded and called back', async () => {
    const { registry, callbacks } = batchRegistry();
    const names = ['l1', 'l2', 'l3'];
    const { result, scheduled } = await withFanoutWorker(harness(), registry, async (fanout) => {
      const cid = await fanout.invoke(Object.fromEntries(names.map((n) => [n, n])), ['cb'], {
        onTarget: ['cb'],
        targetOptions: Object.fromEntries(names.map((n) => [n, { service: 'echo', local: true }])),
        batching: { maxTargets: 2 },
      });
      return { result: await fanout.result(cid), scheduled: await scheduledActivities(cid) };
    });
    expect(result.counts).toMatchObject({ total: 3, ok: 3, callbacks: 4 });
    expect(result.payload.data.l3.response).toEqual({ echoed: 'l3' });
    expect(scheduled).toEqual(['cb']); // the final callback; the batches ran as local activities
    const onTarget = callbacks.filter((c) => c.ctx.channel === 'FANOUT_ON_TARGET').map((c) => c.ctx.target);
    expect(onTarget.sort()).toEqual(names);
  });

  it('redrive runs the failed targets again in batches; their records and callbacks say which run they are of', async () => {
    const { registry, calls, callbacks, fixed } = batchRegistry();
    const { first, second } = await withFanoutWorker(harness(), registry, async (fanout) => {
      const cid = await fanout.invoke({ a: 'a', t1: 't1', b: 'b', t2: 't2' }, ['cb'], {
        onTarget: ['cb'],
        targetOptions: {
          a: { service: 'echo' },
          t1: { service: 'toggle', retry: { maximumAttempts: 1 } },
          b: { service: 'echo' },
          t2: { service: 'toggle', retry: { maximumAttempts: 1 } },
        },
        batching: { maxTargets: 4 },
      });
      const first = await fanout.result(cid);
      fixed.now = true;
      expect(await fanout.redrive(cid)).toEqual({ cid, redrive: 1, targets: 2 });
      return { first, second: await fanout.result(cid) };
    });
    expect(first.targets).toEqual({ a: 'ok', t1: 'failed', b: 'ok', t2: 'failed' });
    expect(second.targets).toEqual({ a: 'ok', t1: 'ok', b: 'ok', t2: 'ok' });
    expect(second.payload.data.t2.response).toBe('fixed t2');
    expect([calls.get('a'), calls.get('t1'), calls.get('b'), calls.get('t2')]).toEqual([1, 2, 1, 2]);
    const redriven = callbacks.filter((c) => c.ctx.channel === 'FANOUT_ON_TARGET' && c.ctx.redrive === 1);
    expect(redriven.map((c) => c.ctx.target).sort()).toEqual(['t1', 't2']);
  });

  it('a busy backend (ServiceBusyError, as for 429 with Retry-After) is called again within the attempt, batched or not', async () => {
    const { registry, calls } = batchRegistry();
    const key = `busy-${maxCachedWorkflows ?? 'd'}-${Date.now()}`;
    const result = await withFanoutWorker(harness(), registry, async (fanout) => {
      const options = { service: 'busy', retry: { maximumAttempts: 1 } };
      const plain = await fanout.invoke({ one: `${key}-1` }, ['cb'], { targetOptions: { one: options } });
      const batched = await fanout.invoke({ two: `${key}-2` }, ['cb'], {
        targetOptions: { two: options },
        batching: { maxTargets: 5 },
      });
      return [await fanout.result(plain), await fanout.result(batched)];
    });
    // One attempt each, three calls: the two "come back later" answers burnt no attempt.
    expect(result[0].payload.data.one).toMatchObject({ ok: true, response: 3 });
    expect(result[1].payload.data.two).toMatchObject({ ok: true, response: 3 });
    expect([calls.get(`${key}-1`), calls.get(`${key}-2`)]).toEqual([3, 3]);
  });
});

describe('ServiceBusyError.fromRetryAfter', () => {
  it('reads seconds or an HTTP date, and waits a second when there is neither', () => {
    const now = Date.parse('2026-12-06T12:00:00Z');
    expect(ServiceBusyError.fromRetryAfter('7', 'busy', now).retryAfterMs).toBe(7000);
    expect(ServiceBusyError.fromRetryAfter('Sun, 06 Dec 2026 12:00:30 GMT', 'busy', now).retryAfterMs).toBe(30_000);
    expect(ServiceBusyError.fromRetryAfter(null, 'busy', now).retryAfterMs).toBe(1000);
    expect(ServiceBusyError.fromRetryAfter('soon', 'busy', now).retryAfterMs).toBe(1000);
    expect(ServiceBusyError.fromRetryAfter('86400', 'busy', now).retryAfterMs).toBe(5 * 60_000);
  });
});
