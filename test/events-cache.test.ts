/**
 * The dev server as this package starts it keeps a wide fan-out's history events in its cache: every activity task
 * is made from its scheduled event, and with the server's default cache (512 KiB) a fan-out with 1,000 targets in
 * flight has most of those events read back from the database. Read from the server's own Prometheus metrics.
 */
import { describe, expect, it } from 'vitest';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { freePort } from '../src/local/local-temporal';
import { Registry, defineCallback, defineService } from '../src/registry';
import { fanoutTestFile, withFanoutWorker } from './helpers/fanout-env';
import type { FanoutTestEnv } from './helpers/temporal-env';
import { createDevServerEnv } from './helpers/temporal-env';

const WIDTH = 3_000;
const IN_FLIGHT = 1_000;

let env: FanoutTestEnv;
let workflowBundle: WorkflowBundleWithSourceMap;
let metricsUrl: string;
fanoutTestFile(
  (e, b) => ((env = e), (workflowBundle = b)),
  async () => {
    const port = await freePort();
    metricsUrl = `http://127.0.0.1:${port}/metrics`;
    return createDevServerEnv({ extraArgs: ['--metrics-port', String(port)] });
  },
);

/** The value of each series of `name` whose labels include `labels`, summed; undefined when there is none. */
async function metric(name: string, labels: string[]): Promise<number | undefined> {
  const text = await (await fetch(metricsUrl)).text();
  const values = text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) && labels.every((label) => line.includes(label)))
    .map((line) => Number(line.slice(line.lastIndexOf(' ') + 1)));
  return values.length ? values.reduce((a, b) => a + b, 0) : undefined;
}

describe('the dev server as startDevServer starts it', () => {
  it(`serves a ${WIDTH}-target fan-out with ${IN_FLIGHT} in flight from its events cache, never the database`, async () => {
    const registry = new Registry(
      [defineService({ name: 'echo', handler: async (n: number) => n })],
      [defineCallback({ name: 'noop', handler: async () => undefined })],
    );
    const ids = Array.from({ length: WIDTH }, (_, i) => `t${i}`);
    const result = await withFanoutWorker(
      { env, workflowBundle, taskQueue: 'events-cache', workerOptions: { maxConcurrentActivityTaskExecutions: 200 } },
      registry,
      async (fanout) => {
        const cid = await fanout.invoke(Object.fromEntries(ids.map((id, i) => [id, i])), ['noop'], {
          targetOptions: Object.fromEntries(ids.map((id) => [id, { service: 'echo' }])),
          maxConcurrency: IN_FLIGHT,
        });
        return fanout.result(cid);
      },
    );
    expect(result.counts.ok).toBe(WIDTH);

    expect(await metric('cache_size', ['cache_type="events"'])).toBe(64 * 1024 * 1024);
    const events = ['cache_type="events"', 'operation="EventsCacheGetEvent"'];
    // Activity tasks looked their scheduled events up (2,373 of these 3,000 here; the rest were found without the
    // cache): the lookups this test is about happened. With the server's default cache, 1,096 of them missed.
    expect(await metric('cache_requests', events)).toBeGreaterThan(WIDTH / 4);
    expect((await metric('cache_miss', events)) ?? 0).toBe(0);
  }, 180_000);
});
