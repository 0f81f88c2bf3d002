/** The app tests its own workflow service on the time-skipping server: a report of a day passes in moments. */
import path from 'node:path';
import { FanoutClient } from 'temporal-fanout';
import { createTimeSkippingEnv } from 'temporal-fanout/testing';
import type { FanoutTestEnv } from 'temporal-fanout/testing';
import { createFanoutWorker } from 'temporal-fanout/worker';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { registry } from '../src/services';

let env: FanoutTestEnv;
beforeAll(async () => {
  env = await createTimeSkippingEnv();
}, 120_000);
afterAll(async () => {
  await env?.teardown();
});

it('a report that takes a day completes in a fan-out, the day skipped', async () => {
  const worker = await createFanoutWorker({
    connection: env.nativeConnection,
    registry,
    store: env.store,
    workflowsPath: path.join(__dirname, '..', 'src', 'workflows.ts'),
  });
  const fanout = new FanoutClient({ client: env.client, registry, store: env.store });
  const started = Date.now();
  const result = await worker.runUntil(async () =>
    fanout.result(await fanout.invoke({ 'reports.summary': { delayMs: 86_400_000 } }, ['audit.final'])),
  );
  expect(result.state).toBe('completed');
  expect(result.payload.data['reports.summary'].response).toEqual({ report: 'summary after 86400000 ms' });
  expect(Date.now() - started).toBeLessThan(60_000);
}, 120_000);
