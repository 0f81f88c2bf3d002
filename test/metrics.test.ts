/**
 * The fan-out's metrics as an operator sees them: the production entries (dist/src/cli/main.js, built by `npm test`)
 * as a worker and an API process of their own against the official dev server, sharing one result store, each with
 * its /metrics endpoint (FANOUT_METRICS_ADDRESS), and a real Prometheus scraping both every second. Two fan-outs
 * started over HTTP, one with some targets failing and callbacks, one batched; once their results are in and a scrape
 * has followed, PromQL over Prometheus's HTTP API must give their own counts. docs/observability.md's table is the
 * contract: it names exactly the metrics the code makes, and each is in the scraped output but for the three only a
 * webhook, AMQP or an offloaded payload makes (NOT_MADE_HERE: documented, not exercised here). The Grafana
 * dashboard's queries all run on this Prometheus, and every metric of the table has a panel.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../src/local/local-temporal';
import { LocalBlobStore } from '../src/store/local-store';
import { ENTRY, startEntry, stopEntries } from './helpers/entry-process';
import type { Prometheus, Sample } from './helpers/prometheus';
import { startPrometheus } from './helpers/prometheus';
import type { FanoutTestEnv } from './helpers/temporal-env';
import { createDevServerEnv } from './helpers/temporal-env';
import { waitFor } from './helpers/wait';

const REGISTRY_MODULE = path.resolve(__dirname, 'fixtures/metrics-registry.cjs');
const DOC = path.resolve(__dirname, '../docs/observability.md');
const DASHBOARD = path.resolve(__dirname, '../deploy/grafana/fanout-dashboard.json');
const KEY = 'metrics-test-key';
/** 6 steady targets, 6 flaky ones of which 3 fail: 9 ok, 3 failed. */
const STEADY = 6;
const FLAKY = 6;
const FAILING = 3;
const N = STEADY + FLAKY;
/** The batched fan-out's targets, in two batches. */
const BATCHED = 10;
/** The limited fan-out's targets: as many of a concurrency-limited service as of a window-limited one. */
const LIMITED = 8;
/**
 * Made only by a webhook or AMQP delivery, a payload too large for history, or a window lease too late (a busy
 * worker): documented, not scraped here.
 */
const NOT_MADE_HERE = [
  'fanout_webhook_responses',
  'fanout_amqp_publishes',
  'fanout_payloads_offloaded',
  'fanout_window_leases_late',
];

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fanout-metrics-'));
let temporal: FanoutTestEnv | undefined;
let prometheus: Prometheus | undefined;
let apiUrl: string;
const metricsAddress = { worker: '', api: '' };

function start(command: 'api' | 'worker', env: NodeJS.ProcessEnv): void {
  // Their logs go to a file: the flaky targets fail on purpose, and each failure is a warning.
  const log = fs.openSync(path.join(dir, `${command}.log`), 'a');
  startEntry(command, {
    temporalAddress: temporal!.address,
    registryModule: REGISTRY_MODULE,
    dir,
    env: { FANOUT_METRICS_ADDRESS: metricsAddress[command], ...env },
    stdio: ['ignore', log, log],
  });
  fs.closeSync(log); // the child has its own copy
}

const up = async (url: string) => (await fetch(url).catch(() => undefined))?.ok === true;

beforeAll(async () => {
  expect(fs.existsSync(ENTRY)).toBe(true); // npm test builds first
  temporal = await createDevServerEnv({ port: await freePort() }, new LocalBlobStore(path.join(dir, 'store')));
  metricsAddress.worker = `127.0.0.1:${await freePort()}`;
  metricsAddress.api = `127.0.0.1:${await freePort()}`;
  const apiPort = await freePort();
  apiUrl = `http://127.0.0.1:${apiPort}`;
  start('worker', {});
  start('api', { API_KEYS: KEY, API_PORT: String(apiPort) });
  prometheus = await startPrometheus([metricsAddress.worker, metricsAddress.api], path.join(dir, 'prometheus'));
  await waitFor(
    async () => (await up(`${apiUrl}/healthz`)) && (await up(`http://${metricsAddress.worker}/metrics`)),
    30_000,
  );
}, 120_000);

afterAll(async () => {
  stopEntries();
  await prometheus?.close();
  await temporal?.teardown();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function call(method: string, route: string, body?: unknown): Promise<{ status: number; body: Reply }> {
  const response = await fetch(apiUrl + route, {
    method,
    headers: { authorization: `Bearer ${KEY}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : {} };
}

/**
 * The one value of `promql` once it satisfies `accept`: the worker's exporter may show a count a moment after the
 * result, so a value short of the expected one is asked again (scrapes come every second) until 20 s passed.
 */
async function valueOf(promql: string, accept: (value: number) => boolean): Promise<number> {
  let samples: Sample[] = [];
  try {
    await waitFor(async () => {
      samples = await prometheus!.query(promql);
      return samples.length === 1 && accept(samples[0].value);
    }, 20_000);
  } catch {
    throw new Error(`${promql}: ${JSON.stringify(samples)}`);
  }
  return samples[0].value;
}

const expectValue = async (promql: string, expected: number) =>
  expect(await valueOf(promql, (value) => value === expected), promql).toBe(expected);
const expectAtLeast = async (promql: string, least: number) =>
  expect(await valueOf(promql, (value) => value >= least), promql).toBeGreaterThanOrEqual(least);

/** Waits for a scrape of both endpoints that began after now. */
async function nextScrape(): Promise<void> {
  const after = Date.now() / 1000;
  await waitFor(async () => {
    const scrapes = await prometheus!.query('timestamp(up{job="fanout"} == 1)');
    return scrapes.length === 2 && scrapes.every((scrape) => scrape.value > after);
  }, 10_000);
}

/** Starts a fan-out over HTTP and waits for its result; answers its progress (counts by state). */
async function runFanout(body: Record<string, unknown>): Promise<Reply> {
  const started = await call('POST', '/v1/fanouts', body);
  expect(started.status, JSON.stringify(started.body)).toBe(202);
  const cid = String(started.body.cid);
  await waitFor(async () => (await call('GET', `/v1/fanouts/${cid}/result`)).status === 200, 60_000);
  return (await call('GET', `/v1/fanouts/${cid}`)).body;
}

/** A JSON answer of the API: what these tests read of it (a CID, a progress's counts). */
type Reply = Record<string, unknown> & { cid?: string; total?: number; ok?: number; failed?: number };

/** The metric names of docs/observability.md's table: its rows' first cells. */
function documentedNames(): string[] {
  return [...fs.readFileSync(DOC, 'utf8').matchAll(/^\| `(fanout_\w+)` +\|/gm)].map((m) => m[1]);
}

/** The metric names the code makes: the first argument of the meters' create calls, prom-client's `name`. */
function namesInCode(): string[] {
  const files = ['src/workflows/metrics.ts', 'src/worker/metrics.ts', 'src/api/metrics.ts'];
  const code = files.map((file) => fs.readFileSync(path.resolve(__dirname, '..', file), 'utf8')).join('\n');
  return [...code.matchAll(/(?:create(?:Counter|Histogram|Gauge)\(\s*|name: )'(fanout_\w+)'/g)].map((m) => m[1]);
}

describe('metrics of fan-outs, scraped by Prometheus from the worker and the API processes', () => {
  let counts: { total: number; ok: number; failed: number };

  beforeAll(async () => {
    const targets: Record<string, unknown> = {};
    const targetOptions: Record<string, { service: string }> = {};
    for (let i = 0; i < STEADY; i++) [targets[`s${i}`], targetOptions[`s${i}`]] = [{ i }, { service: 'steady' }];
    for (let i = 0; i < FLAKY; i++)
      [targets[`f${i}`], targetOptions[`f${i}`]] = [{ i, fail: i < FAILING }, { service: 'flaky' }];
    counts = (await runFanout({
      source: 'metrics-test',
      targets,
      targetOptions,
      onTarget: ['note-target'],
      finalCallbacks: ['note-final'],
      // One attempt each: the attempts counted are the targets, and a failure is final at once.
      defaults: { retry: { maximumAttempts: 1 } },
    })) as typeof counts;
    // A second, batched fan-out of its own source, so that the batch counts appear too.
    const batched = await runFanout({
      source: 'metrics-batched',
      targets: Object.fromEntries(Array.from({ length: BATCHED }, (_, i) => [`b${i}`, { i }])),
      targetOptions: Object.fromEntries(Array.from({ length: BATCHED }, (_, i) => [`b${i}`, { service: 'steady' }])),
      finalCallbacks: ['note-final'],
      batching: { maxTargets: BATCHED / 2 },
    });
    expect(batched).toMatchObject({ total: BATCHED, ok: BATCHED });
    // A third, of limited services, so that the waits for their limits are timed.
    const services = (i: number) => (i < LIMITED / 2 ? 'narrow' : 'windowed');
    const limited = await runFanout({
      source: 'metrics-limited',
      targets: Object.fromEntries(Array.from({ length: LIMITED }, (_, i) => [`l${i}`, { i }])),
      targetOptions: Object.fromEntries(Array.from({ length: LIMITED }, (_, i) => [`l${i}`, { service: services(i) }])),
      finalCallbacks: ['note-final'],
    });
    expect(limited).toMatchObject({ total: LIMITED, ok: LIMITED });
    await nextScrape();
  }, 90_000);

  it('the fan-out ran as planned', () => {
    expect(counts).toMatchObject({ total: N, ok: N - FAILING, failed: FAILING });
  });

  it('counts each fan-out started and finished completed, by source', async () => {
    await expectValue('sum(fanout_started{source="metrics-test",pattern="fanout"})', 1);
    await expectValue('sum(fanout_finished{source="metrics-test",state="completed"})', 1);
    await expectValue('sum(fanout_finished{source="metrics-batched",state="completed"})', 1);
    await expectValue('sum(fanout_finished{source="metrics-limited",state="completed"})', 1);
    await expectValue('sum(fanout_finished{state!="completed"}) or vector(0)', 0);
  });

  it('counts the targets settled by service and outcome as the results do', async () => {
    await expectValue('sum(fanout_targets_settled{outcome="ok"})', counts.ok + BATCHED + LIMITED);
    await expectValue('sum(fanout_targets_settled{outcome="failed"})', counts.failed);
    await expectValue('sum(fanout_targets_settled{service="flaky",outcome="failed"})', FAILING);
    await expectValue('sum(fanout_targets_settled{service="steady",outcome="ok"})', STEADY + BATCHED);
  });

  it('times every attempt, by service and outcome, in a batch too', async () => {
    await expectAtLeast('sum(fanout_target_attempt_duration_count)', N + BATCHED + LIMITED);
    await expectValue('sum(fanout_target_attempt_duration_count{service="flaky",outcome="failed"})', FAILING);
  });

  it('counts the callback attempts, the records written and the batches', async () => {
    // The on-target callback runs for every settled target, failed ones too; the final ones once per fan-out.
    await expectAtLeast('sum(fanout_callback_attempts)', N + 2);
    await expectValue('sum(fanout_callback_attempts{callback="note-target",outcome="ok"})', N);
    await expectValue('sum(fanout_callback_attempts{callback="note-final",outcome="ok"})', 3);
    await expectValue('sum(fanout_records_written)', N + BATCHED + LIMITED);
    // Succeeded targets' records are written by the service call, batched or not; failed ones by the workflow's
    // activity (a batch writes those of its own failed targets, and this one has none).
    await expectValue('sum(fanout_records_written{by="service"})', counts.ok + BATCHED + LIMITED);
    await expectValue('sum(fanout_records_written{by="workflow"})', counts.failed);
    await expectValue('sum(fanout_batches{outcome="completed"})', 2);
  });

  it("times each limited target's wait for its service's limit, by service and limit", async () => {
    await expectValue('sum(fanout_service_limit_wait_count{service="narrow",limit="concurrency"})', LIMITED / 2);
    await expectValue('sum(fanout_service_limit_wait_count{service="windowed",limit="window"})', LIMITED / 2);
    await expectValue('sum(fanout_service_limit_wait_count{service=~"steady|flaky"}) or vector(0)', 0);
  });

  it("counts the API's starts and its requests by route and status", async () => {
    await expectValue('sum(fanout_api_requests_total{route="/v1/fanouts",method="POST",status="202"})', 3);
    await expectValue('sum(fanout_api_starts_total{pattern="fanout",targets="json"})', 3);
    await expectValue('sum(fanout_api_request_duration_seconds_count{route="/v1/fanouts"})', 3);
  });

  it("exports the SDK's own worker metrics beside the fan-out's", async () => {
    await expectAtLeast('sum(temporal_workflow_completed)', 2);
    await expectAtLeast('count(temporal_worker_task_slots_available)', 1);
  });

  it("docs/observability.md's table names exactly the code's metrics, and each but four is in the scraped output", async () => {
    const documented = documentedNames();
    expect(documented.length).toBeGreaterThanOrEqual(13);
    expect([...documented].sort()).toEqual([...new Set(namesInCode())].sort());
    const { data: scraped } = (await (await fetch(`${prometheus!.url}/api/v1/label/__name__/values`)).json()) as {
      data: string[];
    };
    const base = new Set(scraped.map((name) => name.replace(/_(bucket|count|sum)$/, '')));
    const missing = documented.filter((name) => !base.has(name));
    // Only a webhook, AMQP delivery, an offloaded payload or a late window lease makes these: documented (above),
    // maybe not made here.
    expect(missing.filter((name) => !NOT_MADE_HERE.includes(name))).toEqual([]);
  });

  it('deploy/grafana/fanout-dashboard.json: well-formed, on a Prometheus variable, every query valid PromQL here', async () => {
    interface Panel {
      type: string;
      title: string;
      datasource?: { uid: string };
      targets?: { expr: string }[];
    }
    const dashboard = JSON.parse(fs.readFileSync(DASHBOARD, 'utf8')) as {
      templating: { list: { name: string; type: string; query: unknown }[] };
      panels: Panel[];
    };
    expect(dashboard.templating.list).toContainEqual(
      expect.objectContaining({ name: 'datasource', type: 'datasource', query: 'prometheus' }),
    );
    const panels = dashboard.panels.filter((panel) => panel.type !== 'row');
    const exprs: string[] = [];
    for (const panel of panels) {
      expect(panel.datasource?.uid, panel.title).toBe('${datasource}');
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
      exprs.push(...panel.targets!.map((target) => target.expr));
    }
    // Grafana's own variables, as it would substitute them; Prometheus then parses and runs each query.
    for (const expr of exprs)
      await prometheus!.query(expr.replaceAll('$__rate_interval', '1m').replaceAll('$service', '.*'));
    // Every metric of the table has a panel.
    for (const name of documentedNames())
      expect(
        exprs.some((expr) => expr.includes(name)),
        name,
      ).toBe(true);
  });
});
