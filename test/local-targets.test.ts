/**
 * Targets run as local activities, through the real SDK Worker and Client on the official time-skipping test server
 * under both cache settings: the same records, callbacks, retries, timeouts and cancellation as other targets, one
 * marker in history per target instead of three events; a service can be local by definition; the client refuses
 * a local child-workflow target.
 */
import { describe, expect, it } from 'vitest';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { InvalidRequestError } from '../src/client';
import type { CallbackContext, TargetRecord } from '../src/contracts';
import { Registry, defineCallback, defineService } from '../src/registry';
import { creditScoringServices } from '../src/services';
import { fanoutTestFile, withFanoutWorker } from './helpers/fanout-env';
import type { FanoutTestEnv } from './helpers/temporal-env';
import { CACHE_MODES } from './helpers/temporal-env';

let env: FanoutTestEnv;
let workflowBundle: WorkflowBundleWithSourceMap;
fanoutTestFile((e, b) => ((env = e), (workflowBundle = b)));

function localRegistry() {
  const calls: { payload: unknown; ctx: CallbackContext }[] = [];
  const attempts = new Map<string, number>();
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const registry = new Registry(
    [
      ...creditScoringServices({ latencyMs: { crm: 10, erp: 10, scoring: 10 } }),
      defineService({ name: 'local.echo', local: true, handler: async (request: unknown) => request }),
      defineService({
        name: 'fails.twice',
        handler: async (key: string) => {
          const n = (attempts.get(key) ?? 0) + 1;
          attempts.set(key, n);
          if (n <= 2) throw ApplicationFailure.create({ message: `attempt ${n} fails`, type: 'Flaky' });
          return n;
        },
      }),
      defineService({
        name: 'always.fails',
        handler: async () => {
          throw ApplicationFailure.create({ message: 'backend down', type: 'BackendDown' });
        },
      }),
      defineService({
        name: 'gated',
        handler: async () => {
          // Honours cancellation, as a local target should: it holds the workflow task while it runs.
          await Promise.race([gate, Context.current().cancelled]);
          return 'late';
        },
      }),
    ],
    [defineCallback({ name: 'cb', handler: async (payload, ctx) => void calls.push({ payload, ctx }) })],
  );
  return { registry, calls, release: () => release() };
}

describe.each(CACHE_MODES)('local targets with $label', ({ maxCachedWorkflows }) => {
  const harness = () => ({
    env,
    workflowBundle,
    maxCachedWorkflows,
    taskQueue: `local-${maxCachedWorkflows ?? 'default'}`,
  });

  it('run as local activities with the same records and callbacks, one marker per target in history', async () => {
    const { registry, calls } = localRegistry();
    const { result, events } = await withFanoutWorker(harness(), registry, async (fanout) => {
      const cid = await fanout.invoke(
        { 'crm.get-user': { user_id: 'u1' }, 'scoring.get-score': { uid: 'u1' }, mirror: { any: 'thing' } },
        ['cb'],
        {
          onTarget: ['cb'],
          source: 'local-test',
          targetOptions: {
            'crm.get-user': { local: true },
            'scoring.get-score': { local: true },
            mirror: { service: 'local.echo' }, // local by the service's definition
          },
        },
      );
      const result = await fanout.result(cid);
      const history = await env.client.workflow.getHandle(cid).fetchHistory();
      return { result, events: history.events ?? [] };
    });
    expect(result.state).toBe('completed');
    expect(result.payload.data['crm.get-user']).toMatchObject({
      source: 'local-test',
      target: 'crm.get-user',
      ok: true,
      exception: null,
      response: { user_id: 'u1', name: 'User u1', segment: 'retail' },
    });
    expect(result.payload.data.mirror.response).toEqual({ any: 'thing' });
    const onTarget = calls.filter((c) => c.ctx.channel === 'FANOUT_ON_TARGET');
    expect(onTarget.map((c) => (c.payload as TargetRecord).target).sort()).toEqual([
      'crm.get-user',
      'mirror',
      'scoring.get-score',
    ]);
    expect(calls.filter((c) => c.ctx.channel === 'FANOUT_ON_FINAL')).toHaveLength(1);
    // No target went through the server's task queue: only the callbacks are scheduled activities.
    const scheduled = events
      .map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name)
      .filter((name): name is string => Boolean(name));
    expect(scheduled.filter((name) => ['crm.get-user', 'scoring.get-score', 'local.echo'].includes(name))).toEqual([]);
    expect(scheduled.filter((name) => name === 'cb')).toHaveLength(4); // three on-target callbacks, one final
    const markers = events.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity');
    expect(markers.length).toBeGreaterThanOrEqual(4); // the catalog check and the three targets
  });

  it('retries, fails and times out like any target, and records it', async () => {
    const { registry, release } = localRegistry();
    const key = `k-${maxCachedWorkflows ?? 'd'}-${Date.now()}`;
    const result = await withFanoutWorker(harness(), registry, async (fanout) => {
      const cid = await fanout.invoke({ flaky: key, broken: null, slow: null }, ['cb'], {
        targetOptions: {
          flaky: { service: 'fails.twice', local: true, retry: { maximumAttempts: 3, initialInterval: '1s' } },
          broken: { service: 'always.fails', local: true, retry: { maximumAttempts: 2, initialInterval: '1s' } },
          slow: { service: 'gated', local: true, startToCloseTimeout: '1s', retry: { maximumAttempts: 1 } },
        },
      });
      const result = await fanout.result(cid);
      release(); // the timed-out attempt is still running here: let it end, so the worker can shut down
      return result;
    });
    expect(result.targets).toEqual({ flaky: 'ok', broken: 'failed', slow: 'failed' });
    expect(result.payload.data.flaky.response).toBe(3);
    expect(result.payload.data.broken.exception).toMatch(/BackendDown: backend down|backend down/);
    expect(result.payload.data.slow.exception).toMatch(/^TimeoutFailure: StartToClose timeout/);
  });

  // A running local activity holds the workflow task open (Temporal heartbeats it): the cancel is taken up at its
  // next heartbeat, and the fan-out goes on once the activity has ended (this one honours the cancellation).
  it('is cancelled when the fan-out is cancelled, recorded like any cancelled target', async () => {
    const { registry, release } = localRegistry();
    const result = await withFanoutWorker(harness(), registry, async (fanout) => {
      const cid = await fanout.invoke({ waiting: null, quick: { uid: 'q' } }, ['cb'], {
        targetOptions: {
          waiting: { service: 'gated', local: true, startToCloseTimeout: '1 hour' },
          quick: { service: 'scoring.get-score', local: true },
        },
      });
      await new Promise((resolve) => setTimeout(resolve, 500));
      await fanout.cancel(cid);
      const result = await fanout.result(cid);
      release();
      return result;
    });
    expect(result.state).toBe('cancelled');
    expect(result.targets).toEqual({ waiting: 'cancelled', quick: 'ok' });
    expect(result.payload.data.waiting.exception).toMatch(/cancelled before this target finished/);
  });
});

it('refuses a local child-workflow target before anything starts', async () => {
  const { registry } = localRegistry();
  await withFanoutWorker({ env, workflowBundle, taskQueue: 'local-refuse' }, registry, async (fanout) => {
    const error = await fanout
      .invoke({ report: { user_id: 'u', hours: 1 } }, ['cb'], {
        targetOptions: { report: { service: 'reports.build-credit-report', local: true } },
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect((error as InvalidRequestError).message).toMatch(/only activity services run as local activities/);
  });
});
