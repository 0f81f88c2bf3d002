/**
 * Limits per service on the production topology (four server services on PostgreSQL, task queues of four
 * partitions), with two real workers on connections of their own: a service limited to N calls in any one-second
 * window (its window limiter granting ahead) and one limited to N at once (its concurrency limiter), each called by
 * three fan-outs at once, measured at the receiver.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client, Connection } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { FanoutClient } from '../../src/client';
import { Registry, defineCallback, defineService } from '../../src/registry';
import type { WorkersApart } from '../../src/testing';
import { startWorkersApart } from '../../src/testing';
import { busiestSecond } from '../../bench/stats';
import { bundle, tempStore } from '../helpers/temporal-env';
import { cluster, clusterClient } from './cluster';

const TASK_QUEUE = 'cluster-limits';
const PER_SECOND = 10;
const CONCURRENCY = 3;
const windowed: number[] = [];
const running = { now: 0, peak: 0 };

const registry = new Registry(
  [
    defineService({
      name: 'windowed',
      limits: { perSecond: PER_SECOND, burst: false },
      handler: async () => {
        windowed.push(Date.now());
        return 'ok';
      },
    }),
    defineService({
      name: 'narrow',
      limits: { concurrency: CONCURRENCY },
      handler: async () => {
        running.now++;
        running.peak = Math.max(running.peak, running.now);
        await new Promise((resolve) => setTimeout(resolve, 50));
        running.now--;
        return 'ok';
      },
    }),
  ],
  [defineCallback({ name: 'done', handler: async () => undefined })],
);

let connection: Connection;
let client: Client;
let workers: WorkersApart;
let fanout: FanoutClient;

beforeAll(async () => {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const store = tempStore();
  ({ client, connection } = await clusterClient(store));
  workers = await startWorkersApart(2, cluster().address, {
    registry,
    store,
    taskQueue: TASK_QUEUE,
    workflowBundle: await bundle(),
  });
  fanout = new FanoutClient({ client, registry, taskQueue: TASK_QUEUE, store });
}, 120_000);

afterAll(async () => {
  await workers?.stop();
  await connection?.close();
});

/** Three fan-outs of `width` targets of `service` started at once, each run to the end with every target ok. */
async function threeFanouts(prefix: string, width: number, service: string): Promise<void> {
  const cids = await Promise.all(
    ['x', 'y', 'z'].map((fanoutName) => {
      const names = Array.from({ length: width }, (_, i) => `${prefix}${fanoutName}${i}`);
      return fanout.invoke(Object.fromEntries(names.map((name) => [name, null])), ['done'], {
        targetOptions: Object.fromEntries(names.map((name) => [name, { service }])),
      });
    }),
  );
  for (const cid of cids) expect((await fanout.result(cid)).counts).toMatchObject({ total: width, ok: width });
}

describe('limits per service on a Temporal cluster (4 services, PostgreSQL)', () => {
  it('a service limited to N in any second receives no more than N in any one-second window', async () => {
    const width = 15;
    const started = Date.now();
    await threeFanouts('w', width, 'windowed');
    expect(windowed).toHaveLength(3 * width);
    expect(busiestSecond([...windowed].sort((a, b) => a - b))).toBeLessThanOrEqual(PER_SECOND);
    // The limit held them back: all at once they would have taken a moment, not 45 / N seconds.
    expect(Date.now() - started).toBeGreaterThanOrEqual(((3 * width) / PER_SECOND - 1) * 1000);
  });

  it('a service limited to N at once never runs more, and reaches N', async () => {
    await threeFanouts('n', 20, 'narrow');
    expect(running.peak).toBe(CONCURRENCY);
  });
});
