/**
 * Run-time control through the real SDK Worker and Client on the official time-skipping test server, under both
 * cache settings: failure policies (fail-fast, a tolerated number or percentage of failures, at the boundary), the
 * fan-out's deadline, and concurrency changed, paused and resumed while it runs. A stopped fan-out cancels what runs,
 * marks what never started, and still runs its final callbacks, which are told why. (Failure policy across shards:
 * wide-fanout.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { ApplicationFailure } from '@temporalio/common';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { CallbackContext } from '../src/contracts';
import { MAX_CONCURRENCY_LIMIT, toleratedFailures } from '../src/contracts';
import { FanoutClient, FanoutControlError, FanoutRunningError } from '../src/client';
import { Registry, defineCallback, defineService } from '../src/registry';
import { creditScoringServices } from '../src/services';
import { fanoutTestFile, withFanoutWorker } from './helpers/fanout-env';
import type { FanoutTestEnv } from './helpers/temporal-env';
import { CACHE_MODES } from './helpers/temporal-env';
import { waitFor } from './helpers/wait';

let env: FanoutTestEnv;
let workflowBundle: WorkflowBundleWithSourceMap;
fanoutTestFile((e, b) => ((env = e), (workflowBundle = b)));

function policyRegistry() {
  const finals: CallbackContext[] = [];
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let started = 0;
  let backendUp = false;
  const registry = new Registry(
    [
      ...creditScoringServices({ latencyMs: { crm: 20, erp: 20, scoring: 20 } }),
      defineService({
        name: 'gated',
        handler: async (n: number) => {
          started++;
          await gate;
          return n;
        },
      }),
      defineService({
        name: 'down.until.up',
        handler: async (n: number) => {
          if (!backendUp) throw ApplicationFailure.create({ message: 'backend down', type: 'BackendDown' });
          return n;
        },
      }),
      defineService({
        name: 'always.fails',
        handler: async () => {
          throw ApplicationFailure.create({ message: 'backend down', type: 'BackendDown' });
        },
      }),
    ],
    [defineCallback({ name: 'final.cb', handler: async (_payload, ctx) => void finals.push(ctx) })],
  );
  return {
    registry,
    finals,
    release: () => release(),
    started: () => started,
    bringUp: () => void (backendUp = true),
  };
}

const failsOnce = { service: 'always.fails', retry: { maximumAttempts: 1 } };
const report = (hours: number) => ({ user_id: 'u1', hours });
const reportOptions = { service: 'reports.build-credit-report' };

it('counts what each policy tolerates', () => {
  expect(toleratedFailures(undefined, 10)).toBe(Infinity);
  expect(toleratedFailures('all-settled', 10)).toBe(Infinity);
  expect(toleratedFailures('fail-fast', 10)).toBe(0);
  expect(toleratedFailures({ toleratedFailures: 3 }, 10)).toBe(3);
  expect(toleratedFailures({ toleratedFailurePercent: 25 }, 10)).toBe(2);
  expect(toleratedFailures({ toleratedFailurePercent: 100 }, 10)).toBe(10);
});

describe.each(CACHE_MODES)('failure policies and deadlines with $label', ({ maxCachedWorkflows }) => {
  const harness = () => ({
    env,
    workflowBundle,
    maxCachedWorkflows,
    taskQueue: `policies-${maxCachedWorkflows ?? 'default'}`,
  });

  it('fail-fast: the first failure cancels the running targets, marks the rest, and final callbacks are told why', async () => {
    const { registry, finals } = policyRegistry();
    const { result, progress } = await withFanoutWorker(harness(), registry, async (fanout) => {
      const cid = await fanout.invoke(
        { bad: {}, report: report(48), 'later-1': { user_id: 'a' }, 'later-2': { user_id: 'b' } },
        ['final.cb'],
        {
          failurePolicy: 'fail-fast',
          maxConcurrency: 2,
          targetOptions: {
            bad: failsOnce,
            report: reportOptions,
            'later-1': { service: 'crm.get-user' },
            'later-2': { service: 'crm.get-user' },
          },
        },
      );
      const result = await fanout.result(cid);
      return { result, progress: await fanout.progress(cid) };
    });
    const stopped = { reason: 'failure-policy', message: '1 of 4 targets failed; fail-fast' };
    expect(result.state).toBe('cancelled');
    expect(result.stopped).toEqual(stopped);
    expect(result.targets).toEqual({
      bad: 'failed',
      report: 'cancelled',
      'later-1': 'cancelled',
      'later-2': 'cancelled',
    });
    expect(result.payload.data['later-1'].exception).toMatch(
      /the fan-out stopped \(1 of 4 targets failed; fail-fast\) before this target started/,
    );
    expect(Object.keys(result.payload.data)).toHaveLength(4);
    expect(finals).toEqual([expect.objectContaining({ channel: 'FANOUT_ON_FINAL', stopped })]);
    expect(progress).toMatchObject({ state: 'cancelled', failed: 1, cancelled: 3, stopped });
  });

  // Only failing activities and hours-long child workflows here: no activity is completing as the fan-out stops.
  // (The time-skipping test server, unlike a real one, refuses to cancel an activity that completed meanwhile.)
  it.each([
    { policy: { toleratedFailures: 2 }, stops: false },
    { policy: { toleratedFailures: 1 }, stops: true },
    { policy: { toleratedFailurePercent: 50 }, stops: false },
    { policy: { toleratedFailurePercent: 49 }, stops: true },
  ])('tolerates failures up to the policy, and stops at one more: $policy', async ({ policy, stops }) => {
    const { registry, finals } = policyRegistry();
    const result = await withFanoutWorker(harness(), registry, async (fanout) => {
      const cid = await fanout.invoke(
        { 'bad-1': {}, 'bad-2': {}, 'report-1': report(6), 'report-2': report(8) },
        ['final.cb'],
        {
          failurePolicy: policy,
          targetOptions: {
            'bad-1': failsOnce,
            'bad-2': failsOnce,
            'report-1': reportOptions,
            'report-2': reportOptions,
          },
        },
      );
      return fanout.result(cid);
    });
    expect(result.counts.failed).toBe(2);
    if (stops) {
      expect(result.state).toBe('cancelled');
      expect(result.stopped).toMatchObject({
        reason: 'failure-policy',
        message: '2 of 4 targets failed; 1 failed target(s) tolerated',
      });
      // Hours of report rarely finish before two quick failures, but may: the test server skips time whenever it
      // is idle, as it may be between the two. The stop cut at least one short.
      expect(result.targets).toMatchObject({ 'bad-1': 'failed', 'bad-2': 'failed' });
      const reports = (['report-1', 'report-2'] as const).filter((name) => result.targets[name] === 'cancelled');
      expect(reports.length).toBeGreaterThanOrEqual(1);
      expect(['ok', 'cancelled']).toEqual(
        expect.arrayContaining([result.targets['report-1'], result.targets['report-2']]),
      );
      expect(result.payload.data[reports[0]].exception).toBe(
        `CancelledFailure: the fan-out stopped (${result.stopped!.message}) before this target finished`,
      );
      expect(finals[0].stopped).toEqual(result.stopped);
    } else {
      expect(result.state).toBe('completed');
      expect(result.stopped).toBeUndefined();
      expect(result.targets).toEqual({ 'bad-1': 'failed', 'bad-2': 'failed', 'report-1': 'ok', 'report-2': 'ok' });
      expect(finals[0].stopped).toBeUndefined();
    }
  });

  it('deadline: when it passes, the unfinished targets are cancelled and final callbacks run with what was collected', async () => {
    const { registry, finals } = policyRegistry();
    // A target that cannot finish in time: it fails and waits a day between attempts. (A child workflow's hours
    // may pass under time skipping in the very task the deadline fires in, leaving nothing to cut short.)
    const result = await withFanoutWorker(harness(), registry, async (fanout) => {
      const cid = await fanout.invoke({ doomed: null, crm: { user_id: 'd' } }, ['final.cb'], {
        deadline: '1 hour',
        targetOptions: {
          doomed: {
            service: 'always.fails',
            retry: { maximumAttempts: 10, initialInterval: '1 day', backoffCoefficient: 1 },
          },
          crm: { service: 'crm.get-user' },
        },
      });
      return fanout.result(cid);
    });
    const stopped = { reason: 'deadline', message: 'the deadline of 1 hour passed' };
    expect(result).toMatchObject({ state: 'cancelled', stopped, targets: { doomed: 'cancelled', crm: 'ok' } });
    expect(result.payload.data.crm.ok).toBe(true);
    expect(result.payload.data.doomed.exception).toMatch(/Cancel/);
    expect(finals).toEqual([expect.objectContaining({ stopped })]);
  });

  it('deadline not reached: the fan-out completes as usual', async () => {
    const { registry, finals } = policyRegistry();
    const result = await withFanoutWorker(harness(), registry, async (fanout) => {
      const cid = await fanout.invoke({ report: report(6) }, ['final.cb'], {
        deadline: '2 days',
        targetOptions: { report: reportOptions },
      });
      return fanout.result(cid);
    });
    expect(result.state).toBe('completed');
    expect(result.stopped).toBeUndefined();
    expect(finals[0].stopped).toBeUndefined();
  });

  it('changes concurrency while running, pauses and resumes starting targets; refuses bad values and late changes', async () => {
    const { registry, release, started } = policyRegistry();
    const targets = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`g${i}`, i]));
    const targetOptions = Object.fromEntries(Object.keys(targets).map((name) => [name, { service: 'gated' }]));
    await withFanoutWorker(harness(), registry, async (fanout) => {
      const cid = await fanout.invoke(targets, ['final.cb'], { targetOptions, maxConcurrency: 2 });
      const running = async (n: number) => waitFor(async () => (await fanout.progress(cid)).running === n, 20_000);
      await running(2);
      expect(await fanout.setMaxConcurrency(cid, 5)).toEqual({ maxConcurrency: 5, paused: false });
      await running(5);
      expect(await fanout.pause(cid)).toEqual({ maxConcurrency: 5, paused: true });
      await expect(fanout.redrive(cid)).rejects.toBeInstanceOf(FanoutRunningError);
      await expect(fanout.setMaxConcurrency(cid, 0)).rejects.toThrow(FanoutControlError);
      await expect(fanout.setMaxConcurrency(cid, MAX_CONCURRENCY_LIMIT + 1)).rejects.toThrow(/from 1 to 10000/);
      release(); // the five running finish; paused, nothing new starts
      await waitFor(async () => (await fanout.progress(cid)).settled === 5, 20_000);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(await fanout.progress(cid)).toMatchObject({ running: 0, pending: 5, paused: true, maxConcurrency: 5 });
      expect(started()).toBe(5);
      expect(await fanout.resume(cid)).toEqual({ maxConcurrency: 5, paused: false });
      const result = await fanout.result(cid);
      expect(result.state).toBe('completed');
      expect(result.counts.ok).toBe(10);
      expect(started()).toBe(10);
      await expect(fanout.pause(cid)).rejects.toThrow(/no longer running \(COMPLETED\)/);
    });
  });

  it('applies a pause and a raise that reach the fan-out before its first target starts', async () => {
    const { registry, release, started } = policyRegistry();
    const targets = { g0: 0, g1: 1, g2: 2 };
    const targetOptions = { g0: { service: 'gated' }, g1: { service: 'gated' }, g2: { service: 'gated' } };
    const { taskQueue } = harness();
    const early = new FanoutClient({ client: env.client, registry, taskQueue, store: env.store });
    const cid = await early.invoke(targets, ['final.cb'], { targetOptions, maxConcurrency: 1 });
    // No worker polls yet: both updates wait, and reach the fan-out while it checks its names, before any target.
    const updates = Promise.all([early.pause(cid), early.setMaxConcurrency(cid, 3)]);
    await withFanoutWorker(harness(), registry, async (fanout) => {
      try {
        await updates;
        await new Promise((resolve) => setTimeout(resolve, 500));
        expect(started()).toBe(0);
        expect(await fanout.progress(cid)).toMatchObject({ running: 0, pending: 3, paused: true, maxConcurrency: 3 });
        await fanout.resume(cid);
        await waitFor(async () => (await fanout.progress(cid)).running === 3, 20_000);
        release();
        const result = await fanout.result(cid);
        expect(result.counts).toMatchObject({ total: 3, ok: 3 });
      } finally {
        release();
      }
    });
  });

  it('redrive: runs the failed targets again under the same CID, keeps the rest, final callbacks get every record', async () => {
    const { registry, finals, bringUp } = policyRegistry();
    await withFanoutWorker(harness(), registry, async (fanout) => {
      const cid = await fanout.invoke({ kept: { user_id: 'k' }, b: 1, c: 2 }, ['final.cb'], {
        targetOptions: {
          kept: { service: 'crm.get-user' },
          b: { service: 'down.until.up', retry: { maximumAttempts: 1 } },
          c: { service: 'down.until.up', retry: { maximumAttempts: 1 } },
        },
      });
      const first = await fanout.result(cid);
      expect(first.targets).toEqual({ kept: 'ok', b: 'failed', c: 'failed' });

      bringUp();
      expect(await fanout.redrive(cid)).toEqual({ cid, redrive: 1, targets: 2 });
      const second = await fanout.result(cid);
      expect(second.state).toBe('completed');
      expect(second.redrive).toBe(1);
      expect(second.counts).toMatchObject({ total: 3, ok: 3, failed: 0, cancelled: 0 });
      expect(second.targets).toEqual({ kept: 'ok', b: 'ok', c: 'ok' });
      expect(second.payload.data.kept).toEqual(first.payload.data.kept); // not run again
      expect(second.payload.data.b).toMatchObject({ ok: true, response: 1, exception: null });
      expect(finals.map((ctx) => ctx.redrive)).toEqual([undefined, 1]);

      await expect(fanout.redrive(cid)).rejects.toThrow(/no failed or cancelled targets/);
      await expect(fanout.redrive(cid)).rejects.toBeInstanceOf(FanoutControlError);
    });
  });
});
