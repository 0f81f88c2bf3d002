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
import { Registry, defineCallback } from '../../src/registry';
import type { WorkersApart } from '../../src/testing';
import { startWorkersApart } from '../../src/testing';
import { busiestSecond, limitedServices, threeFanouts } from '../helpers/limited-services';
import { bundle, tempStore } from '../helpers/temporal-env';
import { cluster, clusterClient } from './cluster';

const TASK_QUEUE = 'cluster-limits';
const PER_SECOND = 10;
const CONCURRENCY = 3;
const { services, windowed, running } = limitedServices(PER_SECOND, CONCURRENCY);
const registry = new Registry(services, [defineCallback({ name: 'done', handler: async () => undefined })]);

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

describe('limits per service on a Temporal cluster (4 services, PostgreSQL)', () => {
  it('a service limited to N in any second receives no more than N in any one-second window', async () => {
    const width = 15;
    const started = Date.now();
    await threeFanouts(fanout, ['wx', 'wy', 'wz'], width, 'windowed');
    expect(windowed).toHaveLength(3 * width);
    expect(busiestSecond(windowed)).toBeLessThanOrEqual(PER_SECOND);
    // The limit held them back: all at once they would have taken a moment, not 45 / N seconds.
    expect(Date.now() - started).toBeGreaterThanOrEqual(((3 * width) / PER_SECOND - 1) * 1000);
  });

  it('a service limited to N at once never runs more, and reaches N', async () => {
    await threeFanouts(fanout, ['nx', 'ny', 'nz'], 20, 'narrow');
    expect(running.peak).toBe(CONCURRENCY);
  });
});
