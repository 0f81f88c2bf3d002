/**
 * Adaptive concurrency per service, through the real SDK Worker and Client on the official time-skipping test
 * server: a service's targets in flight start at `min` and grow while they succeed, up to `max`; a backend that
 * asks to come back later (ServiceBusyError) halves them. Measured at the service: how many it saw at once.
 */
import { describe, expect, it } from 'vitest';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { ServiceBusyError } from '../src';
import { Registry, defineCallback, defineService } from '../src/registry';
import { progressQuery } from '../src/workflows/definitions';
import { fanoutTestFile, withFanoutWorker } from './helpers/fanout-env';
import type { FanoutTestEnv } from './helpers/temporal-env';

let env: FanoutTestEnv;
let workflowBundle: WorkflowBundleWithSourceMap;
fanoutTestFile((e, b) => ((env = e), (workflowBundle = b)));

function adaptiveRegistry(busyFrom = Infinity) {
  const seen = { now: 0, peak: 0, calls: 0, peakAfterBusy: 0, busy: false };
  const registry = new Registry(
    [
      defineService({
        name: 'backend',
        handler: async () => {
          seen.calls++;
          seen.now++;
          seen.peak = Math.max(seen.peak, seen.now);
          if (seen.busy) seen.peakAfterBusy = Math.max(seen.peakAfterBusy, seen.now);
          try {
            if (seen.calls === busyFrom) {
              seen.busy = true;
              throw new ServiceBusyError('429 Too Many Requests', { retryAfter: 10 });
            }
            await new Promise((resolve) => setTimeout(resolve, 20));
            return 'ok';
          } finally {
            seen.now--;
          }
        },
      }),
    ],
    [defineCallback({ name: 'final', handler: async () => undefined })],
  );
  return { registry, seen };
}

const targets = (width: number) => ({
  targets: Object.fromEntries(Array.from({ length: width }, (_, i) => [`t${i}`, null])),
  targetOptions: Object.fromEntries(Array.from({ length: width }, (_, i) => [`t${i}`, { service: 'backend' }])),
});

describe('adaptive concurrency', () => {
  it('starts at min and grows while targets succeed, never past max', async () => {
    const { registry, seen } = adaptiveRegistry();
    const { result, first } = await withFanoutWorker({ env, workflowBundle }, registry, async (fanout) => {
      const cid = await fanout.invoke(targets(120).targets, ['final'], {
        targetOptions: targets(120).targetOptions,
        maxConcurrency: 100,
        adaptiveConcurrency: { min: 2, max: 8 },
      });
      const first = await fanout.progress(cid);
      return { result: await fanout.result(cid), first };
    });
    expect(result.counts).toMatchObject({ total: 120, ok: 120 });
    expect(first.concurrency?.backend).toBeLessThanOrEqual(8);
    // Started at 2, grew to the most allowed: never more than 8 at once, and more than 2 at some point.
    expect(seen.peak).toBeLessThanOrEqual(8);
    expect(seen.peak).toBeGreaterThan(2);
  });

  it('halves when the backend asks to come back later', async () => {
    const { registry, seen } = adaptiveRegistry(60);
    const { result, last } = await withFanoutWorker({ env, workflowBundle }, registry, async (fanout) => {
      const cid = await fanout.invoke(targets(120).targets, ['final'], {
        targetOptions: targets(120).targetOptions,
        maxConcurrency: 100,
        adaptiveConcurrency: { min: 1, max: 16 },
      });
      const result = await fanout.result(cid);
      // The workflow's own answer: a completed fan-out's `progress()` comes from its outcome, without the windows.
      const progress = await env.client.workflow.getHandle(cid).query(progressQuery);
      return { result, last: progress.concurrency };
    });
    expect(result.counts).toMatchObject({ total: 120, ok: 120 });
    expect(seen.busy).toBe(true);
    // Halved from where it had grown to: the window after the 429 is below the peak before it.
    expect(last?.backend).toBeLessThan(16);
  });
});
