/**
 * A circuit breaker per service, through the real SDK Worker and Client on the official time-skipping test server
 * under both cache settings: after so many failures in a row a service's targets stop starting while other
 * services' go on; a probe at intervals closes the circuit once the backend is back; a circuit that never closes
 * still ends, its targets probed one an interval and recorded as they fail.
 */
import { describe, expect, it } from 'vitest';
import { ApplicationFailure } from '@temporalio/common';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { Registry, defineCallback, defineService } from '../src/registry';
import { fanoutTestFile, withFanoutWorker } from './helpers/fanout-env';
import type { FanoutTestEnv } from './helpers/temporal-env';
import { CACHE_MODES } from './helpers/temporal-env';
import { waitFor } from './helpers/wait';

let env: FanoutTestEnv;
let workflowBundle: WorkflowBundleWithSourceMap;
fanoutTestFile((e, b) => ((env = e), (workflowBundle = b)));

function breakerRegistry() {
  const backend = { up: false, calls: 0 };
  const registry = new Registry(
    [
      defineService({
        name: 'backend',
        handler: async (request: string) => {
          backend.calls++;
          if (!backend.up) throw ApplicationFailure.create({ message: 'backend down', type: 'Down' });
          return request;
        },
      }),
      defineService({ name: 'other', handler: async (request: string) => request }),
    ],
    [defineCallback({ name: 'final', handler: async () => undefined })],
  );
  return { registry, backend };
}

function request(backendTargets: number, otherTargets: number) {
  const names = [
    ...Array.from({ length: backendTargets }, (_, i) => [`b${i}`, 'backend']),
    ...Array.from({ length: otherTargets }, (_, i) => [`o${i}`, 'other']),
  ];
  return {
    targets: Object.fromEntries(names.map(([name]) => [name, name])),
    targetOptions: Object.fromEntries(
      names.map(([name, service]) => [name, { service, retry: { maximumAttempts: 1 } }]),
    ),
  };
}

describe.each(CACHE_MODES)('a circuit breaker with $label', ({ maxCachedWorkflows }) => {
  const harness = () => ({
    env,
    workflowBundle,
    maxCachedWorkflows,
    taskQueue: `breaker-${maxCachedWorkflows ?? 'd'}`,
  });

  it("opens after failures in a row, holds that service's targets while others run, and a probe closes it", async () => {
    const { registry, backend } = breakerRegistry();
    const { targets, targetOptions } = request(10, 5);
    const { result, whileOpen } = await withFanoutWorker(harness(), registry, async (fanout) => {
      const cid = await fanout.invoke(targets, ['final'], {
        targetOptions,
        maxConcurrency: 1,
        circuitBreaker: { failures: 3, probeEvery: '1 minute' },
      });
      // Open: the other service's targets all ran, the backend's wait.
      await waitFor(async () => {
        const progress = await fanout.progress(cid);
        return progress.circuits?.backend === 'open' && progress.targets?.o4 === 'ok';
      });
      const whileOpen = await fanout.progress(cid);
      backend.up = true;
      return { result: await fanout.result(cid), whileOpen };
    });
    expect(whileOpen).toMatchObject({ failed: 3, pending: 7 });
    expect(result.state).toBe('completed');
    expect(result.counts).toMatchObject({ total: 15, ok: 12, failed: 3 });
    expect(backend.calls).toBe(10); // three failures, then the probe and the six after it
  });

  it('a circuit that never closes still ends: each probe is a target, recorded as it fails', async () => {
    const { registry, backend } = breakerRegistry();
    const { targets, targetOptions } = request(6, 0);
    const result = await withFanoutWorker(harness(), registry, async (fanout) => {
      const cid = await fanout.invoke(targets, ['final'], {
        targetOptions,
        maxConcurrency: 1,
        circuitBreaker: { failures: 2, probeEvery: '1 minute' },
      });
      const result = await fanout.result(cid);
      const history = await env.client.workflow.getHandle(cid).fetchHistory();
      const timers = (history.events ?? []).filter((e) => e.timerStartedEventAttributes).length;
      return { ...result, timers };
    });
    expect(result.counts).toMatchObject({ total: 6, ok: 0, failed: 6 });
    expect(backend.calls).toBe(6);
    // Two failures opened it; each of the four targets left was a probe, a minute after the failure before it.
    expect(result.timers).toBe(4);
  });
});
