/**
 * Fan-out / fan-in end to end, through the real SDK Worker and Client on the official time-skipping test server, under both cache
 * settings: the seed's payloads, per-target and final callbacks, failures, timeouts, child workflows, cancel.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import type { CallbackContext, FinalPayload, TargetRecord } from '../src/contracts';
import { Registry, defineCallback, defineService } from '../src/registry';
import { creditScoringServices } from '../src/services';
import type { FanoutTestEnv } from './helpers/temporal-env';
import { CACHE_MODES } from './helpers/temporal-env';
import { waitFor } from './helpers/wait';
import { fanoutTestFile, withFanoutWorker } from './helpers/fanout-env';

let env: FanoutTestEnv;
let workflowBundle: WorkflowBundleWithSourceMap;
fanoutTestFile((e, b) => ((env = e), (workflowBundle = b)));

/** A registry whose callbacks record what they receive, and a few services with known behaviours. */
function recordingRegistry() {
  const calls: { callback: string; payload: unknown; ctx: CallbackContext }[] = [];
  const attempts = new Map<string, number>();
  const record = (name: string) =>
    defineCallback({
      name,
      handler: async (payload, ctx) => {
        calls.push({ callback: name, payload, ctx });
      },
    });
  const registry = new Registry(
    [
      ...creditScoringServices({ latencyMs: { crm: 30, erp: 80, scoring: 50 } }),
      defineService({
        name: 'flaky.twice',
        request: z.object({ key: z.string() }),
        handler: async ({ key }: { key: string }) => {
          const n = (attempts.get(key) ?? 0) + 1;
          attempts.set(key, n);
          if (n <= 2) throw ApplicationFailure.create({ message: `attempt ${n} fails`, type: 'Flaky' });
          return { key, attempts: n };
        },
      }),
      defineService({
        name: 'always.fails',
        handler: async () => {
          throw ApplicationFailure.create({ message: 'backend down', type: 'BackendDown' });
        },
      }),
      defineService({
        name: 'slow.service',
        handler: async () => {
          await new Promise((r) => setTimeout(r, 3_000));
          return 'late';
        },
      }),
    ],
    [
      record('my.cb1'),
      record('my.cb2'),
      record('my.target.cb'),
      defineCallback({
        name: 'broken.callback',
        handler: async () => {
          throw new Error('callback endpoint refuses');
        },
      }),
    ],
  );
  return { registry, calls };
}

describe.each(CACHE_MODES)('fan-out with $label', ({ maxCachedWorkflows }) => {
  const harness = () => ({
    env,
    workflowBundle,
    maxCachedWorkflows,
    taskQueue: `fanout-${maxCachedWorkflows ?? 'default'}`,
  });

  it('runs the seed credit-scoring fan-out: CID at once, target callbacks per target, final callbacks with all responses', async () => {
    const { registry, calls } = recordingRegistry();
    const result = await withFanoutWorker(harness(), registry, async (fanout) => {
      const cid = await fanout.invoke(
        {
          'crm.get-user': { user_id: 'u1' },
          'erp.get-user-information': { USER_ID: 'u1' },
          'scoring.get-score': { uid: 'u1' },
        },
        ['my.cb1', 'my.cb2'],
        { onTarget: ['my.target.cb'], source: 'fanout1.my-service' },
      );
      expect(typeof cid).toBe('string');
      return fanout.result(cid);
    });
    expect(result.state).toBe('completed');
    const payload = result.payload;
    expect(Object.keys(payload).sort()).toEqual(['data', 'on_final', 'on_target', 'req_ts_utc', 'source']);
    expect(payload.source).toBe('fanout1.my-service');
    expect(payload.on_target).toEqual(['my.target.cb']);
    expect(payload.on_final).toEqual(['my.cb1', 'my.cb2']);
    expect(Object.keys(payload.data).sort()).toEqual(['crm.get-user', 'erp.get-user-information', 'scoring.get-score']);
    const crm = payload.data['crm.get-user'];
    expect(Object.keys(crm).sort()).toEqual([
      'cid',
      'exception',
      'ok',
      'req_ts_utc',
      'resp_ts_utc',
      'response',
      'source',
      'target',
    ]);
    expect(crm).toMatchObject({
      source: 'fanout1.my-service',
      target: 'crm.get-user',
      ok: true,
      exception: null,
      cid: result.cid,
    });
    expect(crm.response).toEqual({ user_id: 'u1', name: 'User u1', segment: 'retail' });
    expect(crm.req_ts_utc).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(Date.parse(crm.resp_ts_utc)).toBeGreaterThanOrEqual(Date.parse(crm.req_ts_utc));

    const onTarget = calls.filter((c) => c.callback === 'my.target.cb');
    expect(onTarget.map((c) => c.ctx.target).sort()).toEqual([
      'crm.get-user',
      'erp.get-user-information',
      'scoring.get-score',
    ]);
    for (const call of onTarget) {
      expect(call.ctx.channel).toBe('FANOUT_ON_TARGET');
      expect(call.payload).toEqual(payload.data[call.ctx.target!]);
    }
    const finals = calls.filter((c) => c.ctx.channel === 'FANOUT_ON_FINAL');
    expect(finals.map((c) => c.callback).sort()).toEqual(['my.cb1', 'my.cb2']);
    for (const call of finals) expect(call.payload as FinalPayload).toEqual(payload);
    expect(result.callbacks.every((c) => c.ok)).toBe(true);
    expect(result.callbacks).toHaveLength(5);
  });

  it('calls one service under several target names, and retries a flaky one with a one-minute backoff', async () => {
    const { registry } = recordingRegistry();
    const key = randomUUID();
    const result = await withFanoutWorker(harness(), registry, async (fanout) => {
      const cid = await fanout.invoke(
        { 'score-a': { uid: 'a' }, 'score-b': { uid: 'bb' }, flaky: { key } },
        ['my.cb1'],
        {
          targetOptions: {
            'score-a': { service: 'scoring.get-score' },
            'score-b': { service: 'scoring.get-score' },
            flaky: {
              service: 'flaky.twice',
              retry: { initialInterval: '1 minute', backoffCoefficient: 1, maximumAttempts: 3 },
            },
          },
        },
      );
      return fanout.result(cid);
    });
    expect(result.payload.data['score-a'].response).toEqual({ uid: 'a', score: 647 });
    expect(result.payload.data['score-b'].response).toEqual({ uid: 'bb', score: 654 });
    expect(result.payload.data.flaky).toMatchObject({ ok: true, response: { key, attempts: 3 } });
    const flaky = result.payload.data.flaky;
    // Two one-minute backoffs passed in skipped time. resp_ts_utc is on the server's clock (the attempt's scheduled
    // time plus its run time); the time-skipping test server reports an attempt as scheduled when the previous one
    // failed, before its backoff, so only one of the two minutes shows there (a real server shows both).
    expect(Date.parse(flaky.resp_ts_utc) - Date.parse(flaky.req_ts_utc)).toBeGreaterThanOrEqual(60_000);
  });

  it('records failed and timed-out targets with ok: false and the exception, and still runs final callbacks', async () => {
    const { registry, calls } = recordingRegistry();
    const result = await withFanoutWorker(harness(), registry, async (fanout) => {
      const cid = await fanout.invoke(
        { 'always.fails': {}, 'slow.service': {}, 'crm.get-user': { user_id: 'u2' } },
        ['my.cb1'],
        {
          targetOptions: {
            'always.fails': { retry: { maximumAttempts: 2, initialInterval: '1s' } },
            'slow.service': { startToCloseTimeout: '1s', retry: { maximumAttempts: 1 } },
          },
        },
      );
      return fanout.result(cid);
    });
    const failed = result.payload.data['always.fails'];
    expect(failed.ok).toBe(false);
    expect(failed.response).toBeNull();
    expect(failed.exception).toMatch(/backend down/);
    expect(failed.exception).toMatch(/at /); // the stack, as text
    expect(result.payload.data['slow.service']).toMatchObject({ ok: false });
    expect(result.payload.data['slow.service'].exception).toMatch(/StartToClose timeout/);
    expect(result.payload.data['crm.get-user'].ok).toBe(true);
    expect(result.targets).toEqual({ 'always.fails': 'failed', 'slow.service': 'failed', 'crm.get-user': 'ok' });
    expect(calls.filter((c) => c.ctx.channel === 'FANOUT_ON_FINAL')).toHaveLength(1);
  });

  it('runs an hours-long workflow service as a child workflow <cid>/<target>, time-skipped', async () => {
    const { registry } = recordingRegistry();
    const wallStart = Date.now();
    const { result, child } = await withFanoutWorker(harness(), registry, async (fanout) => {
      const cid = await fanout.invoke(
        { report: { user_id: 'u3', hours: 6 }, 'crm.get-user': { user_id: 'u3' } },
        ['my.cb1'],
        {
          targetOptions: { report: { service: 'reports.build-credit-report' } },
        },
      );
      const result = await fanout.result(cid);
      const child = await env.client.workflow.getHandle(`${cid}/report`).describe();
      return { result, child };
    });
    expect(result.payload.data.report).toMatchObject({ ok: true, response: { user_id: 'u3', took_hours: 6 } });
    expect(child.type).toBe('buildCreditReport');
    expect(child.status.name).toBe('COMPLETED');
    expect(Date.now() - wallStart).toBeLessThan(30_000);
  });

  it('gives a child-workflow target its timeout: a 48-hour report with startToCloseTimeout 1 hour is recorded as timed out', async () => {
    const { registry } = recordingRegistry();
    const { result, child } = await withFanoutWorker(harness(), registry, async (fanout) => {
      const cid = await fanout.invoke(
        { report: { user_id: 'u6', hours: 48 }, 'crm.get-user': { user_id: 'u6' } },
        ['my.cb1'],
        {
          targetOptions: { report: { service: 'reports.build-credit-report', startToCloseTimeout: '1 hour' } },
        },
      );
      const result = await fanout.result(cid);
      const child = await env.client.workflow.getHandle(`${cid}/report`).describe();
      return { result, child };
    });
    expect(result.state).toBe('completed');
    expect(result.targets).toEqual({ report: 'failed', 'crm.get-user': 'ok' });
    expect(result.payload.data.report).toMatchObject({ ok: false, response: null });
    expect(result.payload.data.report.exception).toMatch(/^TimeoutFailure: /);
    expect(child.status.name).toBe('TIMED_OUT');
  });

  it('retries a child-workflow target by its retry policy: a report busy once succeeds on its second run, or fails with one attempt', async () => {
    const { registry } = recordingRegistry();
    const service = 'reports.build-credit-report';
    const result = await withFanoutWorker(harness(), registry, async (fanout) => {
      const cid = await fanout.invoke(
        {
          retried: { user_id: 'u7', hours: 1, busyAttempts: 1 },
          once: { user_id: 'u7', hours: 1, busyAttempts: 1 },
        },
        ['my.cb1'],
        {
          targetOptions: {
            retried: { service, retry: { maximumAttempts: 2, initialInterval: '1 minute' } },
            once: { service, retry: { maximumAttempts: 1 } },
          },
        },
      );
      return fanout.result(cid);
    });
    expect(result.targets).toEqual({ retried: 'ok', once: 'failed' });
    expect(result.payload.data.retried).toMatchObject({ ok: true, response: { user_id: 'u7', took_hours: 1 } });
    expect(result.payload.data.once.exception).toMatch(/reporting database busy \(attempt 1\)/);
  });

  it('starts final callbacks when the last target settles, not after on-target callbacks', async () => {
    // The on-target callback waits for the final callback. Were finals to wait for on-target callbacks, it would
    // block until its one-hour timeout (time-skipped) and be retried until it failed for good.
    let openGate: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    let onTargetRuns = 0;
    const registry = new Registry(
      [...creditScoringServices({ latencyMs: { crm: 10, erp: 10, scoring: 10 } })],
      [
        defineCallback({
          name: 'waits.for.final',
          handler: async () => {
            onTargetRuns++;
            await gate;
          },
        }),
        defineCallback({ name: 'opens.gate', handler: async () => openGate() }),
      ],
    );
    const result = await withFanoutWorker(harness(), registry, async (fanout) => {
      const cid = await fanout.invoke({ 'crm.get-user': { user_id: 'u7' } }, ['opens.gate'], {
        onTarget: ['waits.for.final'],
        defaults: { callbackStartToCloseTimeout: '1 hour', callbackRetry: { maximumAttempts: 2 } },
      });
      return fanout.result(cid);
    });
    expect(result.state).toBe('completed');
    expect(onTargetRuns).toBe(1);
    expect(result.callbacks.map((c) => [c.callback, c.channel, c.ok]).sort()).toEqual([
      ['opens.gate', 'FANOUT_ON_FINAL', true],
      ['waits.for.final', 'FANOUT_ON_TARGET', true],
    ]);
  });

  it('records a callback that fails for good, and still completes', async () => {
    const { registry } = recordingRegistry();
    const result = await withFanoutWorker(harness(), registry, async (fanout) => {
      const cid = await fanout.invoke({ 'crm.get-user': { user_id: 'u4' } }, ['broken.callback', 'my.cb1'], {
        onTarget: ['broken.callback'],
        defaults: { callbackRetry: { maximumAttempts: 2, initialInterval: '1s' } },
      });
      return fanout.result(cid);
    });
    expect(result.state).toBe('completed');
    const broken = result.callbacks.filter((c) => c.callback === 'broken.callback');
    expect(broken).toHaveLength(2);
    expect(broken.every((c) => !c.ok && /callback endpoint refuses/.test(c.error ?? ''))).toBe(true);
    expect(broken.map((c) => c.channel).sort()).toEqual(['FANOUT_ON_FINAL', 'FANOUT_ON_TARGET']);
    expect(result.callbacks.find((c) => c.callback === 'my.cb1')?.ok).toBe(true);
  });

  it('cancels: running targets cancelled, not-started ones marked, final callbacks run with what was collected', async () => {
    const { registry, calls } = recordingRegistry();
    const result = await withFanoutWorker(harness(), registry, async (fanout) => {
      const cid = await fanout.invoke(
        {
          'crm.get-user': { user_id: 'u5' },
          report: { user_id: 'u5', hours: 48 },
          report2: { user_id: 'u5', hours: 48 },
        },
        ['my.cb1'],
        {
          maxConcurrency: 1,
          targetOptions: {
            report: { service: 'reports.build-credit-report' },
            report2: { service: 'reports.build-credit-report' },
          },
        },
      );
      await waitFor(async () => {
        const progress = await fanout.progress(cid);
        return progress.ok === 1 && progress.running >= 1;
      });
      await fanout.cancel(cid);
      return fanout.result(cid);
    });
    expect(result.state).toBe('cancelled');
    expect(result.targets).toEqual({ 'crm.get-user': 'ok', report: 'cancelled', report2: 'cancelled' });
    expect(result.payload.data.report.exception).toMatch(/cancelled before this target finished/);
    expect(result.payload.data.report2.exception).toMatch(/cancelled before this target started/);
    const final = calls.find((c) => c.ctx.channel === 'FANOUT_ON_FINAL');
    expect((final?.payload as FinalPayload).data['crm.get-user'].ok).toBe(true);
  });
});

export type { TargetRecord };
