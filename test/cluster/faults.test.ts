/**
 * Faults on the production topology: while a fan-out runs on the production worker (`node dist/src/cli/main.js worker --examples`,
 * a process of its own), one process is killed with SIGKILL and started again — the history service, the matching
 * service, the fan-out worker. Each time the fan-out completes with every target's record, and its final callback (a
 * delivery.webhook to a real Standard Webhooks receiver) arrives at least once, always under the same webhook-id.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connection } from '@temporalio/client';
import { FanoutClient } from '../../src/client';
import type { FanoutCid } from '../../src/client';
import { deliveryMessageId } from '../../src/delivery/message-id';
import { exampleRegistry } from '../../src/services';
import { LocalBlobStore } from '../../src/store/local-store';
import { clientDeliveryCallbacks } from '../helpers/activity-env';
import { waitFor } from '../helpers/wait';
import { WebhookReceiver } from '../helpers/webhook-receiver';
import type { ServerService } from './cluster';
import { WorkerProcess, clusterClient, clusterCtl, servicePid } from './cluster';

const SECRET = 'whsec_' + Buffer.from('cluster-fault-test-secret-0123456789').toString('base64');
const TARGETS = 90;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fanout-cluster-faults-'));
const storeDir = path.join(dir, 'store');
const store = new LocalBlobStore(storeDir); // shared with the worker process through FANOUT_STORE
const worker = new WorkerProcess(
  { FANOUT_STORE: storeDir, WEBHOOK_SECRET: SECRET, WEBHOOK_ALLOWLIST: '127.0.0.1', WEBHOOK_TIMEOUT_MS: '2000' },
  dir,
);
// The client's view of the worker's registry: the example services and the built-in delivery callbacks.
const registry = exampleRegistry({
  write: () => undefined,
  extraCallbacks: clientDeliveryCallbacks(SECRET),
});

let connection: Connection;
let fanout: FanoutClient;
let receiver: WebhookReceiver;

beforeAll(async () => {
  const { client, connection: c } = await clusterClient(store);
  connection = c;
  fanout = new FanoutClient({ client, registry, store });
  receiver = await WebhookReceiver.start(SECRET);
  worker.start();
}, 60_000);

afterAll(async () => {
  await worker.stop();
  await receiver?.close();
  await connection?.close();
  if (process.env.CLUSTER_KEEP !== '1') fs.rmSync(dir, { recursive: true, force: true });
});

/** 90 CRM lookups of 300 ms, 4 at a time: about 7 s of work, so a fault lands in the middle. */
async function startFanout(name: string): Promise<{ cid: string; hook: string }> {
  const targets = Object.fromEntries(Array.from({ length: TARGETS }, (_, i) => [`user-${i}`, { user_id: `u${i}` }]));
  const targetOptions = Object.fromEntries(Object.keys(targets).map((t) => [t, { service: 'crm.get-user' }]));
  const hook = `/final-${name}`;
  const cid = await fanout.invoke(targets, [{ name: 'delivery.webhook', options: { url: receiver.url(hook) } }], {
    targetOptions,
    maxConcurrency: 4,
    source: `cluster-fault-${name}`,
    // Attempts in flight on a killed worker (or whose completion a killed service lost) are retried this soon.
    defaults: { startToCloseTimeout: '3 seconds', callbackStartToCloseTimeout: '5 seconds' },
  });
  return { cid, hook };
}

async function settledAtLeast(cid: string, n: number): Promise<number> {
  let settled = 0;
  await waitFor(async () => {
    settled = (await fanout.progress(cid).catch(() => ({ settled: -1 }))).settled;
    return settled >= n;
  }, 60_000);
  return settled;
}

/** Every record there and ok, the final webhook accepted once, every attempt under the delivery's stable id. */
async function expectComplete(cid: string, hook: string): Promise<{ seconds: number; attempts: number }> {
  const started = Date.now();
  const result = await fanout.result(cid as FanoutCid); // a fan-out this file started
  expect(result.state).toBe('completed');
  expect(Object.keys(result.payload.data)).toHaveLength(TARGETS);
  expect(Object.values(result.payload.data).every((record) => record.ok)).toBe(true);
  expect(result.payload.data[`user-${TARGETS - 1}`].response).toMatchObject({ user_id: `u${TARGETS - 1}` });
  expect(result.counts).toMatchObject({ total: TARGETS, ok: TARGETS, failed: 0, callbacks: 1, callbacksFailed: 0 });
  expect(result.callbacks).toEqual([expect.objectContaining({ callback: 'delivery.webhook', ok: true })]);

  const expectedId = deliveryMessageId({ cid, channel: 'FANOUT_ON_FINAL', callback: 'delivery.webhook' });
  await waitFor(async () => receiver.accepted.some((w) => w.path === hook), 10_000);
  const accepted = receiver.accepted.filter((w) => w.path === hook);
  expect(accepted.map((w) => w.id)).toEqual([expectedId]); // at least once, deduplicated by the receiver
  expect((accepted[0].payload as { data: Record<string, unknown> }).data).toHaveProperty(`user-${TARGETS - 1}`);
  const attempts = receiver.attempts.filter((a) => a.path === hook);
  expect(new Set(attempts.map((a) => a.id))).toEqual(new Set([expectedId]));
  return { seconds: (Date.now() - started) / 1000, attempts: attempts.length };
}

describe.each<ServerService>(['history', 'matching'])('the %s service killed with SIGKILL mid-fan-out', (service) => {
  it('restarts, and the fan-out completes with every record and its final webhook', async () => {
    const { cid, hook } = await startFanout(`${service}-kill`);
    const before = await settledAtLeast(cid, 12);
    const pid = await servicePid(service);
    expect(pid).toBeDefined();
    const t0 = Date.now();
    await clusterCtl('kill', service);
    expect(await servicePid(service)).toBeUndefined();
    // While it is down the fan-out cannot finish (nothing records completions / hands out tasks).
    await new Promise((r) => setTimeout(r, 2_000));
    expect(receiver.accepted.filter((w) => w.path === hook)).toHaveLength(0);
    await clusterCtl('restart', service);
    const restartedIn = (Date.now() - t0) / 1000;
    const newPid = await servicePid(service);
    expect(newPid).toBeDefined();
    expect(newPid).not.toBe(pid);
    expect(before).toBeLessThan(TARGETS);
    const { seconds, attempts } = await expectComplete(cid, hook);
    console.log(
      `${service} SIGKILL at ${before}/${TARGETS} settled: down+restart ${restartedIn.toFixed(1)} s, ` +
        `completed ${seconds.toFixed(1)} s after the restart, ${attempts} webhook attempt(s)`,
    );
  }, 120_000);
});

describe('the fan-out worker killed with SIGKILL', () => {
  it('mid-fan-out and again while the final webhook is in flight: restarted, every record, one webhook id', async () => {
    const { cid, hook } = await startFanout('worker-kill');
    const before = await settledAtLeast(cid, 12);
    const firstPid = worker.pid;
    await worker.stop('SIGKILL');
    const t0 = Date.now();
    // The 4 targets in flight died with it; their next attempts start 3 s (startToCloseTimeout) after they began.
    await new Promise((r) => setTimeout(r, 1_000));
    expect(receiver.accepted.filter((w) => w.path === hook)).toHaveLength(0);
    receiver.hangNext(1); // the first final webhook request will get no answer...
    worker.start();
    expect(worker.pid).not.toBe(firstPid);

    // ...and the worker sending it dies while it waits.
    await waitFor(async () => receiver.attempts.some((a) => a.path === hook && a.outcome === 'hung'), 60_000);
    const hungId = receiver.attempts.find((a) => a.path === hook)!.id;
    await worker.stop('SIGKILL');
    worker.start();

    const { seconds, attempts } = await expectComplete(cid, hook);
    expect(receiver.attempts.filter((a) => a.path === hook).map((a) => a.outcome)).toEqual(['hung', 'accepted']);
    expect(receiver.accepted.find((w) => w.path === hook)!.id).toBe(hungId);
    console.log(
      `worker SIGKILL at ${before}/${TARGETS} settled and during the final webhook: completed ` +
        `${((Date.now() - t0) / 1000).toFixed(1)} s after the first kill (${seconds.toFixed(1)} s after the second), ` +
        `${attempts} webhook attempts`,
    );
  }, 120_000);
});
