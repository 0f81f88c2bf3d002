/**
 * Latency figures per service: the arithmetic (logarithmic buckets, percentiles within 10%, merging across shards,
 * the slowest targets), and what a fan-out reports through the real SDK Worker and Client on the official
 * time-skipping test server — in `result()`, in the memo (readable with no worker), batched or not.
 */
import { describe, expect, it } from 'vitest';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { LatencyStats } from '../src/contracts';
import { Registry, defineCallback, defineService } from '../src/registry';
import { latencyFigures, mergeLatency, recordLatency } from '../src/workflows/latency';
import { fanoutTestFile, withFanoutWorker } from './helpers/fanout-env';
import type { FanoutTestEnv } from './helpers/temporal-env';

describe('latency arithmetic', () => {
  it('reads percentiles within 10% from the buckets, and keeps the slowest targets', () => {
    const stats: LatencyStats = {};
    for (let i = 1; i <= 1000; i++) recordLatency(stats, 'svc', `t${i}`, i);
    const { svc } = latencyFigures(stats);
    expect(svc.count).toBe(1000);
    expect(svc.maxMs).toBe(1000);
    for (const [figure, exact] of [
      [svc.p50Ms, 500],
      [svc.p95Ms, 950],
      [svc.p99Ms, 990],
    ]) {
      expect(figure).toBeGreaterThanOrEqual(exact);
      expect(figure).toBeLessThanOrEqual(Math.ceil(exact * 1.1));
    }
    expect(svc.slowest.map((s) => s.target)).toEqual(['t1000', 't999', 't998', 't997', 't996']);
  });

  it('merges shards as if their targets had been one run', () => {
    const [a, b, whole]: LatencyStats[] = [{}, {}, {}];
    for (let i = 1; i <= 200; i++) {
      recordLatency(i % 2 ? a : b, 'svc', `t${i}`, i * 3);
      recordLatency(whole, 'svc', `t${i}`, i * 3);
    }
    expect(latencyFigures(mergeLatency(mergeLatency({}, a), b))).toEqual(latencyFigures(whole));
  });
});

let env: FanoutTestEnv;
let workflowBundle: WorkflowBundleWithSourceMap;
fanoutTestFile((e, b) => ((env = e), (workflowBundle = b)));

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const registry = new Registry(
  [
    defineService({ name: 'fast', handler: async () => 'fast' }),
    defineService({ name: 'slow', handler: async (ms: number) => (await sleep(ms), 'slow') }),
  ],
  [defineCallback({ name: 'final', handler: async () => undefined })],
);

describe.each([
  { label: 'one activity per target', batching: undefined },
  { label: 'batched', batching: { maxTargets: 10 } },
])('latency of a fan-out, $label', ({ batching }) => {
  it('per service in the result and in the memo: percentiles, maximum and the slowest targets', async () => {
    const targets = { f1: 0, f2: 0, f3: 0, s1: 200, s2: 200, sSlowest: 600 };
    const targetOptions = Object.fromEntries(
      Object.keys(targets).map((name) => [name, { service: name.startsWith('f') ? 'fast' : 'slow' }]),
    );
    const { result, memo } = await withFanoutWorker(
      { env, workflowBundle, taskQueue: `latency-${batching ? 'b' : 'p'}` },
      registry,
      async (fanout) => {
        const cid = await fanout.invoke(targets, ['final'], { targetOptions, ...(batching ? { batching } : {}) });
        const result = await fanout.result(cid);
        return { result, memo: (await env.client.workflow.getHandle(cid).describe()).memo };
      },
    );
    const { fast, slow } = result.latency!;
    expect(fast.count).toBe(3);
    expect(slow.count).toBe(3);
    expect(slow.maxMs).toBeGreaterThanOrEqual(600);
    expect(slow.slowest[0].target).toBe('sSlowest');
    expect(slow.p50Ms).toBeGreaterThanOrEqual(200);
    expect(fast.maxMs).toBeLessThan(slow.p50Ms);
    // The memo holds the same figures: readable with no worker running.
    expect((memo as { latency: unknown }).latency).toEqual(result.latency);
  });
});
