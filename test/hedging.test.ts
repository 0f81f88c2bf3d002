/**
 * Hedged stragglers through the real SDK Worker and Client on the official dev server (real time: a hedge is about
 * attempts running side by side), under both cache settings: a target still running past the delay gets a second
 * attempt, the first to succeed decides its record (which the slower attempt, finishing later, does not replace);
 * targets quicker than the delay are never hedged; `max` bounds the hedges; a percentile delay waits for enough
 * samples of the service; a target fails only once both attempts have.
 */
import { describe, expect, it } from 'vitest';
import { ApplicationFailure } from '@temporalio/common';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { Registry, defineCallback, defineService } from '../src/registry';
import { hedgeBudget, hedgeShare } from '../src/workflows/hedge-budget';
import { fanoutTestFile, withFanoutWorker } from './helpers/fanout-env';
import type { FanoutTestEnv } from './helpers/temporal-env';
import { CACHE_MODES, createDevServerEnv } from './helpers/temporal-env';
import { waitFor } from './helpers/wait';

describe('hedge budget', () => {
  it('defaults to 5% of the targets, at least one, and splits across shards adding up to the whole', () => {
    expect(hedgeBudget({ after: '1 s' }, 10)).toBe(1);
    expect(hedgeBudget({ after: '1 s' }, 1000)).toBe(50);
    expect(hedgeBudget({ after: '1 s', max: 7 }, 1000)).toBe(7);
    const shares = [0, 1, 2, 3, 4, 5, 6].map((i) => hedgeShare(50, 7000, i * 1000, 1000));
    expect(shares.reduce((a, b) => a + b)).toBe(50);
    expect(Math.max(...shares) - Math.min(...shares)).toBeLessThanOrEqual(1);
  });
});

let env: FanoutTestEnv;
let workflowBundle: WorkflowBundleWithSourceMap;
fanoutTestFile((e, b) => ((env = e), (workflowBundle = b)), createDevServerEnv);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `slow`: the first call for a target named `straggler…` takes `STRAGGLER_MS`, every other call returns at once. */
const STRAGGLER_MS = 4000;
function hedgingRegistry() {
  const calls = new Map<string, number>();
  const finished: string[] = [];
  const registry = new Registry(
    [
      defineService({
        name: 'slow',
        handler: async (target: string) => {
          const attempt = (calls.get(target) ?? 0) + 1;
          calls.set(target, attempt);
          if (target.startsWith('straggler') && attempt === 1) await sleep(STRAGGLER_MS);
          finished.push(`${target}#${attempt}`);
          return `${target} answered by call ${attempt}`;
        },
      }),
      defineService({ name: 'hang', handler: async (target: string) => (await sleep(3000), target) }),
      defineService({
        name: 'down',
        handler: async (target: string) => {
          const attempt = (calls.get(target) ?? 0) + 1;
          calls.set(target, attempt);
          await sleep(attempt === 1 ? 1500 : 2000);
          throw ApplicationFailure.create({ message: `${target} down (call ${attempt})`, type: 'Down' });
        },
      }),
    ],
    [defineCallback({ name: 'final', handler: async () => undefined })],
  );
  return { registry, calls, finished };
}

function targetsOf(names: string[], service: string) {
  return {
    targets: Object.fromEntries(names.map((name) => [name, name])),
    targetOptions: Object.fromEntries(names.map((name) => [name, { service, retry: { maximumAttempts: 1 } }])),
  };
}

async function activityIds(cid: string): Promise<{ scheduled: string[]; cancelRequested: number }> {
  const history = await env.client.workflow.getHandle(cid).fetchHistory();
  const events = history.events ?? [];
  return {
    scheduled: events.flatMap((e) => e.activityTaskScheduledEventAttributes?.activityId ?? []),
    cancelRequested: events.filter((e) => e.activityTaskCancelRequestedEventAttributes).length,
  };
}

describe.each(CACHE_MODES)('hedged stragglers with $label', ({ maxCachedWorkflows }) => {
  const harness = () => ({
    env,
    workflowBundle,
    maxCachedWorkflows,
    taskQueue: `hedging-${maxCachedWorkflows ?? 'd'}`,
  });

  it('hedges the straggler only: the hedge decides its record, and the slow attempt ending later does not replace it', async () => {
    const { registry, calls, finished } = hedgingRegistry();
    const names = ['a', 'b', 'c', 'straggler', 'd'];
    const { targets, targetOptions } = targetsOf(names, 'slow');
    const outcome = await withFanoutWorker(harness(), registry, async (fanout) => {
      const cid = await fanout.invoke(targets, ['final'], { targetOptions, hedging: { after: '500 ms' } });
      const early = await fanout.result(cid);
      // The first attempt ends in its own time; the record the hedge stored stands.
      await waitFor(async () => finished.includes('straggler#1'), 15_000);
      return { cid, early, late: await fanout.result(cid), ids: await activityIds(cid) };
    });
    expect(outcome.early.counts).toMatchObject({ total: 5, ok: 5 });
    expect(outcome.early.payload.data.straggler.response).toBe('straggler answered by call 2');
    expect(outcome.late.payload.data.straggler.response).toBe('straggler answered by call 2');
    expect(outcome.early.latency?.slow).toMatchObject({ hedged: 1, hedgesWon: 1 });
    expect(outcome.early.latency?.slow.maxMs).toBeLessThan(STRAGGLER_MS);
    expect(calls.get('straggler')).toBe(2);
    for (const name of ['a', 'b', 'c', 'd']) expect(calls.get(name)).toBe(1);
    expect(outcome.ids.scheduled.filter((id) => id.startsWith('hedge/'))).toEqual(['hedge/straggler']);
    expect(outcome.ids.cancelRequested).toBe(1); // the slow first attempt, once the hedge had won
  });

  it('hedges at most `max` targets; the others wait for their first attempt', async () => {
    const { registry, calls } = hedgingRegistry();
    const { targets, targetOptions } = targetsOf(['straggler1', 'straggler2', 'straggler3'], 'slow');
    const result = await withFanoutWorker(harness(), registry, async (fanout) => {
      const cid = await fanout.invoke(targets, ['final'], { targetOptions, hedging: { after: '300 ms', max: 1 } });
      return fanout.result(cid);
    });
    expect(result.counts).toMatchObject({ total: 3, ok: 3 });
    expect(result.latency?.slow).toMatchObject({ hedged: 1, hedgesWon: 1 });
    expect([1, 2, 3].map((i) => calls.get(`straggler${i}`))).toEqual([2, 1, 1]);
    const responses = Object.values(result.payload.data).map((record) => record.response);
    expect(responses.filter((r) => String(r).endsWith('call 1'))).toHaveLength(2);
  });

  it('a percentile delay waits for enough samples of the service, then hedges what runs past it', async () => {
    const { registry, calls } = hedgingRegistry();
    const quick = Array.from({ length: 12 }, (_, i) => `q${i}`);
    const { targets, targetOptions } = targetsOf([...quick, 'straggler'], 'slow');
    const progress = await withFanoutWorker(harness(), registry, async (fanout) => {
      const cid = await fanout.invoke(targets, ['final'], {
        targetOptions,
        maxConcurrency: 2,
        hedging: { after: { percentile: 90 } },
      });
      await fanout.result(cid);
      return fanout.progress(cid);
    });
    expect(progress).toMatchObject({ state: 'completed', ok: 13 });
    expect(progress.latency?.slow).toMatchObject({ hedged: 1, hedgesWon: 1 });
    expect(calls.get('straggler')).toBe(2);
    for (const name of quick) expect(calls.get(name)).toBe(1);
  });

  it('a target fails only once both its attempts have', async () => {
    const { registry, calls } = hedgingRegistry();
    const { targets, targetOptions } = targetsOf(['t1'], 'down');
    const result = await withFanoutWorker(harness(), registry, async (fanout) => {
      const cid = await fanout.invoke(targets, ['final'], { targetOptions, hedging: { after: '100 ms' } });
      return fanout.result(cid);
    });
    expect(calls.get('t1')).toBe(2);
    expect(result.counts).toMatchObject({ total: 1, failed: 1 });
    // The first failure is the one recorded (the hedge, started at 100 ms, fails last: at about 2.1 s).
    expect(JSON.stringify(result.payload.data.t1.exception)).toContain('call 1');
    expect(result.latency?.down).toMatchObject({ hedged: 1, hedgesWon: 0 });
  });

  it('cancelled while both attempts run, the target is recorded cancelled', async () => {
    const { registry } = hedgingRegistry();
    const { targets, targetOptions } = targetsOf(['t1', 't2'], 'hang');
    const result = await withFanoutWorker(harness(), registry, async (fanout) => {
      const cid = await fanout.invoke(targets, ['final'], { targetOptions, hedging: { after: '200 ms', max: 1 } });
      await waitFor(async () => (await fanout.progress(cid)).latency?.hang?.hedged === 1, 10_000);
      await fanout.cancel(cid);
      return fanout.result(cid);
    });
    expect(result.state).toBe('cancelled');
    expect(result.counts).toMatchObject({ total: 2, cancelled: 2 });
    expect(result.latency?.hang).toMatchObject({ hedged: 1, hedgesWon: 0 });
  });
});
