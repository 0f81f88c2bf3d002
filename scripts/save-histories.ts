/**
 * Records the histories the replay test checks: a fan-out of every pattern run on the official time-skipping test
 * server, saved as JSON under test/histories; the replay test then guards every later change against
 * nondeterminism. A change to the workflows' command sequence comes with a patch (src/workflows/patches.ts), and
 * the histories of the code before it stay: save the new ones beside them with a label
 * (`npm run histories:save -- batches` writes `<name>-batches.json`; names after the label save only those:
 * `npm run histories:save -- batches fanout-seed fanout-sharded`).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { temporal } from '@temporalio/proto';
import type { Type } from 'protobufjs';
import { toJson } from 'protobufjs/ext/protojson';
import type { WorkflowHandle } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { FanoutClient } from '../src/client';
import { Registry, defineCallback, defineService } from '../src/registry';
import { EXAMPLE_WORKFLOWS_PATH, creditScoringServices } from '../src/services';
import { createFanoutWorker } from '../src/worker/create-worker';
import { bundleFanoutWorkflows } from '../src/worker/workflow-bundle';
import { startDevServer, startTimeSkippingServer } from '../src/local/temporal-servers';
import { limiterWorkflowId, windowLimiterWorkflowId } from '../src/constants';
import { acquireLeaseUpdate, releaseLeaseSignal, renewLeaseSignal } from '../src/workflows/definitions';
import { LocalBlobStore } from '../src/store/local-store';
import { fanoutDataConverter } from '../src/store/payload-driver';

const OUT = path.resolve(__dirname, '../../test/histories');
const LABEL = process.argv[2] ? `-${process.argv[2]}` : '';
/** Names after the label save only those fan-outs (all run regardless). */
const ONLY = new Set(process.argv.slice(3));

const LIMITER = 'service-limiter';
const WINDOW_LIMITER = 'window-limiter';

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const limiters = { [LIMITER]: saveServiceLimiter, [WINDOW_LIMITER]: saveWindowLimiter };
  for (const [name, save] of Object.entries(limiters)) if (!ONLY.size || ONLY.has(name)) await save();
  if (ONLY.size && [...ONLY].every((name) => name in limiters)) return;
  // These fan-outs are small but for the sharded one, whose input is kept in the store as a claim: its payloads are
  // copied beside the histories (test/histories/store), where the replay test finds them.
  const store = new LocalBlobStore(fs.mkdtempSync(path.join(os.tmpdir(), 'fanout-histories-')));
  const env = await startTimeSkippingServer({
    log: (line) => console.log(line),
    dataConverter: fanoutDataConverter(store),
  });
  const workflowBundle = await bundleFanoutWorkflows(EXAMPLE_WORKFLOWS_PATH);
  const straggled = new Map<string, number>();
  const registry = new Registry(
    [
      ...creditScoringServices({ latencyMs: { crm: 10, erp: 30, scoring: 20 } }),
      defineService({ name: 'always.fails', handler: async () => Promise.reject(new Error('backend down')) }),
      // Answers in a minute, heeding no cancellation: a batched target cancelled while it runs.
      defineService({ name: 'slow', handler: async () => new Promise((resolve) => setTimeout(resolve, 60_000)) }),
      // Its first call for a key takes 3 s (but for `quick`), a second answers at once: a straggler a hedge overtakes.
      defineService({
        name: 'straggles',
        handler: async (request: { key: string }) => {
          const calls = (straggled.get(request.key) ?? 0) + 1;
          straggled.set(request.key, calls);
          if (calls === 1 && request.key !== 'quick') await new Promise((resolve) => setTimeout(resolve, 3000));
          return { calls };
        },
      }),
    ],
    [
      defineCallback({ name: 'collect', handler: async () => undefined }),
      defineCallback({ name: 'broken', handler: async () => Promise.reject(new Error('refused')) }),
    ],
  );
  const worker = await createFanoutWorker({ connection: env.nativeConnection, registry, workflowBundle, store });
  const fanout = new FanoutClient({ client: env.client, registry, store });
  const cids: Record<string, string> = {};
  // Controlled from the start: paused before the worker first sees it, then resumed, then raised past the targets
  // still to start.
  cids['fanout-control'] = await fanout.invoke(
    { r1: { user_id: 'u6', hours: 3 }, r2: { user_id: 'u6', hours: 3 }, 'crm.get-user': { user_id: 'u6' } },
    ['collect'],
    {
      maxConcurrency: 1,
      targetOptions: { r1: { service: 'reports.build-credit-report' }, r2: { service: 'reports.build-credit-report' } },
    },
  );
  const pausedEarly = fanout.pause(cids['fanout-control']);
  await new Promise((r) => setTimeout(r, 1000)); // the update reaches the server, to wait there for the first task
  await worker.runUntil(async () => {
    await pausedEarly;
    await fanout.resume(cids['fanout-control']);
    for (let i = 0; i < 200 && (await fanout.progress(cids['fanout-control'])).running < 1; i++)
      await new Promise((r) => setTimeout(r, 25));
    await fanout.setMaxConcurrency(cids['fanout-control'], 3);
    cids['fanout-seed'] = await fanout.invoke(
      {
        'crm.get-user': { user_id: 'u1' },
        'erp.get-user-information': { USER_ID: 'u1' },
        'scoring.get-score': { uid: 'u1' },
      },
      ['collect'],
      { onTarget: ['collect'], source: 'history.recorder' },
    );
    cids['fanout-failures'] = await fanout.invoke(
      { 'always.fails': {}, 'crm.get-user': { user_id: 'u2' } },
      ['broken', 'collect'],
      {
        onTarget: ['broken'],
        defaults: {
          retry: { maximumAttempts: 2, initialInterval: '1 minute' },
          callbackRetry: { maximumAttempts: 2, initialInterval: '1s' },
        },
      },
    );
    cids['fanout-child'] = await fanout.invoke({ report: { user_id: 'u3', hours: 3 } }, ['collect'], {
      targetOptions: { report: { service: 'reports.build-credit-report' } },
    });
    cids.parallel = await fanout.parallel({ a: { uid: 'a' }, b: { uid: 'b' } }, ['collect'], {
      targetOptions: { a: { service: 'scoring.get-score' }, b: { service: 'scoring.get-score' } },
    });
    cids['invoke-retry'] = await fanout.invokeRetry({
      target: 'always.fails',
      request: {},
      attempts: 3,
      interval: '5 minutes',
      callbacks: ['collect'],
    });
    cids['fanout-cancelled'] = await fanout.invoke(
      { 'crm.get-user': { user_id: 'u4' }, r1: { user_id: 'u4', hours: 50 }, r2: { user_id: 'u4', hours: 50 } },
      ['collect'],
      {
        maxConcurrency: 2,
        targetOptions: {
          r1: { service: 'reports.build-credit-report' },
          r2: { service: 'reports.build-credit-report' },
        },
      },
    );
    cids['fanout-fail-fast'] = await fanout.invoke(
      { 'always.fails': {}, r1: { user_id: 'u5', hours: 50 }, r2: { user_id: 'u5', hours: 50 } },
      ['collect'],
      {
        failurePolicy: 'fail-fast',
        deadline: '1 day',
        targetOptions: {
          'always.fails': { retry: { maximumAttempts: 1 } },
          r1: { service: 'reports.build-credit-report' },
          r2: { service: 'reports.build-credit-report' },
        },
      },
    );
    // Batched: two batches of two and one of one, a failing target among them, each target's callback run in its
    // batch.
    cids['fanout-batched'] = await fanout.invoke(
      {
        'crm.get-user': { user_id: 'u8' },
        'always.fails': {},
        s1: { uid: 'u8' },
        s2: { uid: 'u9' },
        s3: { uid: 'u10' },
      },
      ['collect'],
      {
        onTarget: ['collect'],
        batching: { maxTargets: 2 },
        defaults: { retry: { maximumAttempts: 2, initialInterval: '1s' } },
        targetOptions: {
          s1: { service: 'scoring.get-score' },
          s2: { service: 'scoring.get-score' },
          s3: { service: 'scoring.get-score' },
        },
      },
    );
    // Batched and cancelled while its first batch runs: the target running and the one never started are recorded
    // by the workflow, and their callbacks run after the batch.
    cids['fanout-batched-cancelled'] = await fanout.invoke(
      { 'crm.get-user': { user_id: 'u11' }, held: {}, later: {} },
      ['collect'],
      {
        onTarget: ['collect'],
        batching: { maxTargets: 3 },
        maxConcurrency: 1,
        targetOptions: { held: { service: 'slow' }, later: { service: 'slow' } },
      },
    );
    // Sharded, its concurrency spread over both shards at once.
    const wide = Object.fromEntries(Array.from({ length: 1001 }, (_, i) => [`u${i}`, { user_id: `u${i}` }]));
    cids['fanout-sharded'] = await fanout.invoke(wide, ['collect'], {
      maxConcurrency: 400,
      targetOptions: Object.fromEntries(Object.keys(wide).map((name) => [name, { service: 'crm.get-user' }])),
    });
    // Sharded, one shard at a time, then raised: the running shard is told its new share, the second one starts.
    cids['fanout-sharded-control'] = await fanout.invoke(wide, ['collect'], {
      maxConcurrency: 100,
      targetOptions: Object.fromEntries(Object.keys(wide).map((name) => [name, { service: 'crm.get-user' }])),
    });
    for (let i = 0; i < 200 && !(await fanout.progress(cids['fanout-sharded-control'])).runningShards?.length; i++)
      await new Promise((r) => setTimeout(r, 25));
    await fanout.setMaxConcurrency(cids['fanout-sharded-control'], 400);
    for (let i = 0; i < 200 && (await fanout.progress(cids['fanout-cancelled'])).ok < 1; i++)
      await new Promise((r) => setTimeout(r, 25));
    await fanout.cancel(cids['fanout-cancelled']);
    for (let i = 0; i < 200 && (await fanout.progress(cids['fanout-batched-cancelled'])).ok < 1; i++)
      await new Promise((r) => setTimeout(r, 25));
    await fanout.cancel(cids['fanout-batched-cancelled']);
    for (const [name, cid] of Object.entries(cids)) {
      console.log(`waiting for ${name} (${cid})`);
      await fanout.result(cid);
    }
  });
  // Taken over by another worker mid-run, its child-workflow target still running: the successor replays the
  // history so far before it carries on. The first worker caches nothing, so the successor gets every task.
  const first = await createFanoutWorker({
    connection: env.nativeConnection,
    registry,
    workflowBundle,
    store,
    maxCachedWorkflows: 0,
  });
  await first.runUntil(async () => {
    cids['fanout-restarted'] = await fanout.invoke(
      { 'crm.get-user': { user_id: 'u7' }, r1: { user_id: 'u7', hours: 3 }, 'scoring.get-score': { uid: 'u7' } },
      ['collect'],
      { maxConcurrency: 2, onTarget: ['collect'], targetOptions: { r1: { service: 'reports.build-credit-report' } } },
    );
    for (let i = 0; i < 200 && (await fanout.progress(cids['fanout-restarted'])).ok < 2; i++)
      await new Promise((r) => setTimeout(r, 25));
  });
  const successor = await createFanoutWorker({ connection: env.nativeConnection, registry, workflowBundle, store });
  await successor.runUntil(fanout.result(cids['fanout-restarted']));
  // Traced by the SDK's own workflow interceptors, a StartActivity span (and its promises) around every activity,
  // as this package bundled them before its own module (src/tracing/workflow-interceptors.ts): fan-outs a traced
  // worker was running then must replay on today's. The spans are dropped: only the history matters here.
  const tracedWorker = await createFanoutWorker({
    connection: env.nativeConnection,
    registry,
    store,
    workflowBundle: await bundleFanoutWorkflows(EXAMPLE_WORKFLOWS_PATH, {
      workflowInterceptorModules: [require.resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors')],
    }),
    sinks: { exporter: { export: { fn: () => undefined } } },
  });
  await tracedWorker.runUntil(async () => {
    // A window of two over four targets, each with its callback: completions and the next starts share tasks.
    cids['fanout-traced'] = await fanout.invoke(
      {
        'crm.get-user': { user_id: 'u12' },
        'erp.get-user-information': { USER_ID: 'u12' },
        'scoring.get-score': { uid: 'u12' },
        r1: { user_id: 'u12', hours: 3 },
      },
      ['collect'],
      { maxConcurrency: 2, onTarget: ['collect'], targetOptions: { r1: { service: 'reports.build-credit-report' } } },
    );
    await fanout.result(cids['fanout-traced']);
  });
  // The policies per service and per fan-out, in a worker run of their own last of all: they take
  // seconds of real time (a straggler, a probe interval), which would hold back the time skipping the others need.
  const policies = await createFanoutWorker({ connection: env.nativeConnection, registry, workflowBundle, store });
  await policies.runUntil(async () => {
    const later: Record<string, string> = {};
    // A quorum of two reached while the third target runs: it is cancelled, and the final callback told why.
    later['fanout-quorum'] = await fanout.invoke(
      { 'crm.get-user': { user_id: 'u12' }, 'scoring.get-score': { uid: 'u12' }, held: { key: 'held' } },
      ['collect'],
      { completion: { successes: 2 }, targetOptions: { held: { service: 'straggles' } } },
    );
    // A circuit opened by the first failure, probed two seconds later by the next target, which fails too; the other
    // service's target runs meanwhile.
    later['fanout-breaker'] = await fanout.invoke({ f1: {}, f2: {}, 'crm.get-user': { user_id: 'u13' } }, ['collect'], {
      maxConcurrency: 1,
      circuitBreaker: { failures: 1, probeEvery: '2 seconds' },
      defaults: { retry: { maximumAttempts: 1 } },
      targetOptions: { f1: { service: 'always.fails' }, f2: { service: 'always.fails' } },
    });
    // Adaptive concurrency: a service's window grows with its successes, and the failing one's is cut.
    const scored = Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`s${i}`, { uid: `u${14 + i}` }]));
    later['fanout-adaptive'] = await fanout.invoke({ ...scored, 'always.fails': {} }, ['collect'], {
      adaptiveConcurrency: { min: 1, max: 3 },
      defaults: { retry: { maximumAttempts: 1 } },
      targetOptions: Object.fromEntries(Object.keys(scored).map((name) => [name, { service: 'scoring.get-score' }])),
    });
    // Hedged: the straggler gets a second attempt after a second, which answers first; the first is cancelled.
    later['fanout-hedged'] = await fanout.invoke(
      { quick: { key: 'quick' }, straggler: { key: 'straggler' } },
      ['collect'],
      {
        onTarget: ['collect'],
        hedging: { after: '1 s' },
        targetOptions: { quick: { service: 'straggles' }, straggler: { service: 'straggles' } },
      },
    );
    for (const [name, cid] of Object.entries(later)) {
      console.log(`waiting for ${name} (${cid})`);
      await fanout.result(cid);
    }
    Object.assign(cids, later);
  });
  fs.mkdirSync(OUT, { recursive: true });
  for (const [name, cid] of Object.entries(cids)) {
    if (ONLY.size && !ONLY.has(name)) continue;
    const history = await env.client.workflow.getHandle(cid).fetchHistory();
    fs.writeFileSync(path.join(OUT, `${name}${LABEL}.json`), historyToJSON(history) + '\n');
    console.log(`saved ${name}${LABEL}: ${history.events?.length} events`);
  }
  const payloads = path.join(store.dir, 'payloads');
  if (fs.existsSync(payloads)) fs.cpSync(payloads, path.join(OUT, 'store', 'payloads'), { recursive: true });
  await env.teardown();
}

/**
 * A service's limiter (workflows/service-limiter) under `workflowId`, started with a limit of two and driven by
 * `drive` as targets drive it, on the dev server (update-with-start and updates are a real server's); its history is
 * saved as `name`.
 */
async function saveLimiter(
  name: string,
  workflowId: string,
  drive: (limiter: WorkflowHandle) => Promise<void>,
): Promise<void> {
  const env = await startDevServer();
  const taskQueue = `histories-${name}`;
  const registry = new Registry([defineService({ name: 'recorded', handler: async () => null })], []);
  const workflowBundle = await bundleFanoutWorkflows();
  const worker = await createFanoutWorker({ connection: env.nativeConnection, registry, workflowBundle, taskQueue });
  await worker.runUntil(async () => {
    const limiter = await env.client.workflow.start('serviceLimiter', {
      workflowId,
      taskQueue,
      args: [{ service: 'recorded', limit: 2 }],
    });
    await drive(limiter);
  });
  const history = await env.client.workflow.getHandle(workflowId).fetchHistory();
  fs.mkdirSync(OUT, { recursive: true });
  fs.writeFileSync(path.join(OUT, `${name}${LABEL}.json`), historyToJSON(history) + '\n');
  console.log(`saved ${name}${LABEL}: ${history.events?.length} events`);
  await env.teardown();
}

/**
 * The concurrency limiter: two leases taken at once, two more waiting in order, released one by one, one renewed,
 * one left to expire.
 */
function saveServiceLimiter(): Promise<void> {
  return saveLimiter(LIMITER, limiterWorkflowId('recorded'), async (limiter) => {
    const acquire = (holder: string, leaseMs = 30_000) =>
      limiter.executeUpdate(acquireLeaseUpdate, { args: [holder, leaseMs, 2] });
    const settle = () => new Promise((resolve) => setTimeout(resolve, 300));
    await Promise.all([acquire('a'), acquire('b')]);
    const c = acquire('c');
    await settle();
    const d = acquire('d');
    await settle();
    await limiter.signal(releaseLeaseSignal, 'a');
    await c;
    await limiter.signal(renewLeaseSignal, 'b', 30_000);
    await limiter.signal(releaseLeaseSignal, 'b');
    await d;
    await limiter.signal(releaseLeaseSignal, 'c');
    await limiter.signal(releaseLeaseSignal, 'd');
    await acquire('e', 200); // never given back: it expires
    await new Promise((resolve) => setTimeout(resolve, 1500));
  });
}

/**
 * The window limiter (`perSecond` without a burst), asked as targets ask it, leases of 1.25 s granted ahead: two
 * granted at once, two more granted ahead at once (the places of the first two, from their ends), then one asked with
 * the limit lowered to one, which waits until both places have ended; all left to expire.
 */
function saveWindowLimiter(): Promise<void> {
  const leaseMs = 1_250;
  return saveLimiter(WINDOW_LIMITER, windowLimiterWorkflowId('recorded'), async (limiter) => {
    const acquire = (holder: string, limit = 2) =>
      limiter.executeUpdate(acquireLeaseUpdate, { args: [holder, leaseMs, limit, leaseMs] });
    await Promise.all([acquire('a'), acquire('b')]);
    await acquire('c');
    await acquire('d');
    await acquire('e', 1);
    await new Promise((resolve) => setTimeout(resolve, 2 * leaseMs + 500));
  });
}

/**
 * A history as proto3 JSON, the form other Temporal tools write and `Worker.runReplayHistory` reads (enums by name,
 * timestamps as RFC 3339, bytes as base64): the SDK does the same, but does not export it.
 */
function historyToJSON(history: temporal.api.history.v1.IHistory): string {
  // @temporalio/proto is a reflection root: its message classes are protobufjs Types at run time.
  const History = temporal.api.history.v1.History as unknown as Type;
  return JSON.stringify(toJson(History, History.fromObject(history)), null, 2);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
