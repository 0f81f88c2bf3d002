/**
 * Traces of a fan-out, end to end, into a real OTLP receiver (the OpenTelemetry Collector of
 * scripts/otel-collector.sh): the production worker entry (dist/src/cli/main.js, built by `npm test`) as its own
 * process with tracing turned on by OTEL_EXPORTER_OTLP_ENDPOINT, the client here with `startTracing`, one fan-out
 * with webhook callbacks, one with batched targets, and one started through the HTTP API by a caller that traces.
 * Every span of a fan-out shares one trace; the workflow's span is the child of the client's start, every target
 * and callback activity's span the child of the workflow's; the webhooks carry that trace's `traceparent`; the
 * worker's JSON log lines name the CID and the trace.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from '@temporalio/client';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildApi } from '../src/api/server';
import { FanoutClient } from '../src/client';
import { AddressPolicy } from '../src/delivery/address-policy';
import { Registry, defineService } from '../src/registry';
import { LocalBlobStore } from '../src/store/local-store';
import { fanoutDataConverter } from '../src/store/payload-driver';
import type { FanoutTestEnv } from '../src/testing';
import { createDevServerEnv } from '../src/testing';
import type { FanoutTracing } from '../src/tracing';
import { startTracing } from '../src/tracing';
import { clientDeliveryCallbacks } from './helpers/activity-env';
import type { ReceivedSpan } from './helpers/otel-collector';
import { OtelCollector } from './helpers/otel-collector';
import { waitFor } from './helpers/wait';
import { WebhookReceiver } from './helpers/webhook-receiver';

const SECRET = 'whsec_' + Buffer.from('tracing-test-secret-0123456789ab').toString('base64');
const WORKER_ENTRY = path.resolve(__dirname, '../dist/src/cli/main.js');
const REGISTRY = path.resolve(__dirname, 'fixtures/tracing-registry.cjs');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fanout-tracing-'));
const store = new LocalBlobStore(path.join(dir, 'store'));

let collector: OtelCollector;
let env: FanoutTestEnv;
let receiver: WebhookReceiver;
let worker: ChildProcess;
let workerLog = '';
let tracing: FanoutTracing;
let fanout: FanoutClient;

beforeAll(async () => {
  expect(fs.existsSync(WORKER_ENTRY)).toBe(true); // npm test builds first
  collector = await OtelCollector.start();
  [env, receiver] = await Promise.all([createDevServerEnv({}, store), WebhookReceiver.start(SECRET)]);
  worker = spawn(process.execPath, [WORKER_ENTRY, 'worker', '--registry', REGISTRY], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: env.connection.options.address,
      FANOUT_STORE: store.dir,
      WEBHOOK_SECRET: SECRET,
      WEBHOOK_ALLOWLIST: '127.0.0.1',
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint,
      OTEL_SERVICE_NAME: 'tracing-test-worker',
      OTEL_BSP_SCHEDULE_DELAY: '100', // spans out within a moment, not 5 s
    },
  });
  worker.stderr!.on('data', (chunk: Buffer) => (workerLog += chunk.toString()));
  // Polling (its log is JSON lines): a worker that cannot start fails here, with what it said.
  await waitFor(async () => {
    if (worker.exitCode !== null) throw new Error(`the worker exited: ${workerLog}`);
    return workerLog.includes('"state":"RUNNING"');
  }, 30_000);

  // The client's side: tracing as a library user turns it on, from the same variables.
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT = collector.endpoint;
  process.env.OTEL_SERVICE_NAME = 'tracing-test-client';
  process.env.OTEL_BSP_SCHEDULE_DELAY = '100';
  tracing = startTracing();
  const client = new Client({
    connection: env.connection,
    dataConverter: fanoutDataConverter(store),
    interceptors: tracing.client.interceptors,
  });
  const registry = new Registry(
    ['lookup', 'slow', 'broken'].map((name) => defineService({ name, handler: async (request: unknown) => request })),
    clientDeliveryCallbacks(SECRET),
  );
  fanout = new FanoutClient({ client, registry, store });
}, 600_000); // building the collector the first time takes minutes; a built one starts at once

afterAll(async () => {
  if (worker && worker.exitCode === null) {
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    worker.kill('SIGTERM');
    await exited;
  }
  await tracing?.shutdown();
  await receiver?.close();
  await env?.teardown();
  await collector?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The client's span that started the fan-out, once exported: the root of its trace. */
async function startSpan(cid: string): Promise<ReceivedSpan> {
  const find = () =>
    collector.spans().find((s) => s.name === 'StartWorkflow:fanout' && s.attributes.temporalWorkflowId === cid);
  await waitFor(async () => find() !== undefined);
  return find()!;
}

/** The spans of one trace, once those named have all arrived (exported in batches, by two processes). */
async function traceSpans(traceId: string, wanted: Record<string, number>): Promise<ReceivedSpan[]> {
  let spans: ReceivedSpan[] = [];
  const count = (name: string) => spans.filter((s) => s.name === name).length;
  await waitFor(async () => {
    spans = collector.spans().filter((s) => s.traceId === traceId);
    return Object.entries(wanted).every(([name, n]) => count(name) >= n);
  }, 20_000).catch(() => {
    throw new Error(`trace ${traceId} has ${spans.map((s) => s.name).join(', ')}; wanted ${JSON.stringify(wanted)}`);
  });
  return spans;
}

function only(spans: ReceivedSpan[], name: string): ReceivedSpan {
  const found = spans.filter((s) => s.name === name);
  expect(found, name).toHaveLength(1);
  return found[0];
}

/** The worker's JSON log lines about one fan-out. */
function fanoutEvents(cid: string): Record<string, unknown>[] {
  return workerLog
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((entry) => entry.cid === cid && typeof entry.event === 'string');
}

it('traces a fan-out from the client through the workflow, each target and callback, to its webhooks', async () => {
  const cid = await fanout.invoke(
    { a: 'x', b: 'y', c: 'z' },
    [{ name: 'delivery.webhook', options: { url: receiver.url('/final') } }],
    {
      targetOptions: { a: { service: 'lookup' }, b: { service: 'lookup' }, c: { service: 'lookup' } },
      onTarget: [{ name: 'delivery.webhook', options: { url: receiver.url('/target') } }],
      source: 'tracing-test',
    },
  );
  const result = await fanout.result(cid);
  expect(result.state).toBe('completed');
  const webhooks = await receiver.waitForAccepted(4);

  const start = await startSpan(cid);
  const spans = await traceSpans(start.traceId, {
    'RunWorkflow:fanout': 1,
    'RunActivity:lookup': 3,
    'RunActivity:delivery.webhook': 4,
  });
  expect(start.parentId).toBe('');
  expect(start.service).toBe('tracing-test-client');
  const run = only(spans, 'RunWorkflow:fanout');
  expect(run.parentId).toBe(start.spanId);
  expect(run.service).toBe('tracing-test-worker');
  // The targets, the callbacks, and the fan-out's own activities (its check of the names) alike.
  const activities = spans.filter((s) => s.name.startsWith('RunActivity:'));
  expect(activities.filter((s) => s.name === 'RunActivity:lookup')).toHaveLength(3);
  expect(activities.filter((s) => s.name === 'RunActivity:delivery.webhook')).toHaveLength(4);
  // Each activity's span is the workflow span's child directly: the workflow schedules activities with the trace
  // context in their headers and no span of its own (src/tracing/workflow-interceptors.ts).
  for (const activity of activities) expect(activity.parentId, activity.name).toBe(run.spanId);
  expect(spans.filter((s) => s.name.startsWith('StartActivity:'))).toEqual([]);
  // Named and marked by the SDK's activity interceptor, which startTracing gives the worker.
  const { runId } = await env.client.workflow.getHandle(cid).describe();
  for (const activity of activities) {
    expect(activity.status, activity.name).toBe('Ok');
    expect(activity.attributes).toMatchObject({ temporalWorkflowId: cid, run_id: runId });
    expect(activity.attributes.temporalActivityId).toMatch(/\S/);
  }
  expect(new Set(activities.map((s) => s.attributes.temporalActivityId)).size).toBe(activities.length);

  // Each webhook carries its callback activity's context: the fan-out's trace, that activity's span as parent.
  const callbackSpans = new Set(activities.filter((s) => s.name.endsWith('webhook')).map((s) => s.spanId));
  expect(webhooks.map((w) => w.path).sort()).toEqual(['/final', '/target', '/target', '/target']);
  for (const webhook of webhooks) {
    const [, traceId, parentId] = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(webhook.traceparent ?? '') ?? [];
    expect(traceId).toBe(start.traceId);
    expect(callbackSpans.has(parentId)).toBe(true);
  }

  // One JSON line per event, with the CID and the trace id (the workflow logger, through the worker's runtime).
  await waitFor(async () => fanoutEvents(cid).some((e) => e.event === 'fanout.finished'));
  const events = fanoutEvents(cid);
  expect(events.map((e) => e.event)).toEqual(['fanout.started', 'fanout.finished']);
  expect(events.every((e) => e.level === 'INFO' && e.trace_id === start.traceId)).toBe(true);
  expect(events[1]).toMatchObject({ state: 'completed', total: 3, ok: 3, failed: 0, callbacks: 4 });
}, 25_000);

it('logs a fan-out that stops by its failure policy', async () => {
  const cid = await fanout.invoke(
    { bad: 1, slow: 2 },
    [{ name: 'delivery.webhook', options: { url: receiver.url('/stopped') } }],
    {
      // The slow one is still running when the other fails: the stop cuts it short.
      targetOptions: { bad: { service: 'broken' }, slow: { service: 'slow' } },
      failurePolicy: 'fail-fast',
      defaults: { retry: { maximumAttempts: 1 } },
    },
  );
  expect((await fanout.result(cid)).state).toBe('cancelled');
  await waitFor(async () => fanoutEvents(cid).some((e) => e.event === 'fanout.finished'));
  const [started, stopped, finished] = fanoutEvents(cid);
  expect([started.event, stopped.event, finished.event]).toEqual([
    'fanout.started',
    'fanout.stopped',
    'fanout.finished',
  ]);
  expect(stopped).toMatchObject({ reason: 'failure-policy', message: '1 of 2 targets failed; fail-fast' });
  expect(finished).toMatchObject({ state: 'cancelled', total: 2, failed: 1 });
  const start = await startSpan(cid);
  expect(finished.trace_id).toBe(start.traceId);
  // The failed target's span says so.
  const spans = await traceSpans(start.traceId, { 'RunActivity:broken': 1 });
  expect(only(spans, 'RunActivity:broken').status).toBe('Error');
});

it('traces batched targets as child spans of their batch activity', async () => {
  const targets = { p: 1, q: 2, r: 3 };
  const cid = await fanout.invoke(targets, [{ name: 'delivery.webhook', options: { url: receiver.url('/batch') } }], {
    targetOptions: { p: { service: 'lookup' }, q: { service: 'lookup' }, r: { service: 'lookup' } },
    batching: { maxTargets: 10 },
  });
  expect((await fanout.result(cid)).state).toBe('completed');
  const start = await startSpan(cid);
  const spans = await traceSpans(start.traceId, {
    'RunWorkflow:fanout': 1,
    'RunActivity:fanout.runBatch': 1,
    'RunTarget:lookup': 3,
  });
  const batch = only(spans, 'RunActivity:fanout.runBatch');
  expect(batch.parentId).toBe(only(spans, 'RunWorkflow:fanout').spanId);
  const perTarget = spans.filter((s) => s.name === 'RunTarget:lookup');
  expect(perTarget.map((s) => s.attributes['fanout.target']).sort()).toEqual(['p', 'q', 'r']);
  for (const span of perTarget) expect(span.parentId).toBe(batch.spanId);
}, 25_000);

it('traces a sharded fan-out: each shard started in a span of the fan-out, its targets children of its run', async () => {
  const wide = Object.fromEntries(Array.from({ length: 1001 }, (_, i) => [`t${i}`, i]));
  const cid = await fanout.invoke(wide, [{ name: 'delivery.webhook', options: { url: receiver.url('/sharded') } }], {
    targetOptions: Object.fromEntries(Object.keys(wide).map((name) => [name, { service: 'lookup' }])),
  });
  const result = await fanout.result(cid);
  expect(result.counts.ok).toBe(1001);
  const start = await startSpan(cid);
  const spans = await traceSpans(start.traceId, {
    'RunWorkflow:fanout': 1,
    'StartChildWorkflow:fanoutShard': 3,
    'RunWorkflow:fanoutShard': 3,
    'RunActivity:lookup': 1001,
  });
  const run = only(spans, 'RunWorkflow:fanout');
  const starts = spans.filter((s) => s.name === 'StartChildWorkflow:fanoutShard');
  for (const span of starts) expect(span.parentId).toBe(run.spanId);
  const shards = spans.filter((s) => s.name === 'RunWorkflow:fanoutShard');
  expect(shards.map((s) => s.parentId).sort()).toEqual(starts.map((s) => s.spanId).sort());
  const shardIds = new Set(shards.map((s) => s.spanId));
  const targets = spans.filter((s) => s.name === 'RunActivity:lookup');
  expect(targets.every((s) => shardIds.has(s.parentId))).toBe(true);
  // Every shard ran targets: 500 at most each, the third one.
  expect(new Set(targets.map((s) => s.parentId)).size).toBe(3);
}, 60_000);

it("continues the trace of an API caller's traceparent", async () => {
  const app = await buildApi({
    fanoutClient: fanout,
    apiKeys: ['tracing-test-key'],
    addressPolicy: new AddressPolicy(['127.0.0.1']),
  });
  // The caller's own span, as its tracing would send it.
  const [callerTrace, callerSpan] = ['0af7651916cd43dd8448eb211c80319c', 'b7ad6b7169203331'];
  const response = await app.inject({
    method: 'POST',
    url: '/v1/fanouts',
    headers: { authorization: 'Bearer tracing-test-key', traceparent: `00-${callerTrace}-${callerSpan}-01` },
    payload: {
      targets: { s: 1 },
      targetOptions: { s: { service: 'lookup' } },
      delivery: { webhook: { url: receiver.url('/api') } },
    },
  });
  await app.close();
  expect(response.statusCode, response.body).toBe(202);
  const { cid } = response.json<{ cid: string }>();
  const start = await startSpan(cid);
  expect([start.traceId, start.parentId]).toEqual([callerTrace, callerSpan]);
  await fanout.result(cid);
  const spans = await traceSpans(callerTrace, { 'RunWorkflow:fanout': 1, 'RunActivity:lookup': 1 });
  const run = only(spans, 'RunWorkflow:fanout');
  expect(run.parentId).toBe(start.spanId);
  expect(only(spans, 'RunActivity:lookup').parentId).toBe(run.spanId);
});
