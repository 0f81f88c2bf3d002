/**
 * Results written out (`writeResults`), through the real SDK Worker and Client on the official time-skipping test
 * server, under both cache settings: a JSON-lines file per outcome holding exactly the records `result` returns, in
 * target order, and a manifest that matches the files, written before the final callbacks run; a redrive rewrites
 * them all; a sharded fan-out's files hold every shard's records; a fan-out without the option writes nothing and
 * schedules nothing more.
 */
import { describe, expect, it } from 'vitest';
import { ApplicationFailure } from '@temporalio/common';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { FanoutResult, ResultsManifest } from '../src/contracts';
import { ResultsManifest as ResultsManifestSchema, WRITE_RESULTS } from '../src/contracts';
import type { FanoutClient } from '../src/client';
import { planFanout } from '../src/client';
import { Registry, defineCallback, defineService } from '../src/registry';
import type { ResultsFileName } from '../src/store/results';
import { RESULTS_FILES, readResultsManifest } from '../src/store/results';
import { fanoutTestFile, withFanoutWorker } from './helpers/fanout-env';
import type { FanoutTestEnv } from './helpers/temporal-env';
import { CACHE_MODES } from './helpers/temporal-env';

let env: FanoutTestEnv;
let workflowBundle: WorkflowBundleWithSourceMap;
fanoutTestFile((e, b) => ((env = e), (workflowBundle = b)));

/** Services that echo, one that fails until brought up, and a final callback noting the manifest it could read. */
function resultsRegistry() {
  let backendUp = false;
  const manifestsSeen: (ResultsManifest | undefined)[] = [];
  const registry = new Registry(
    [
      defineService({ name: 'echo', handler: async (n: number) => n }),
      defineService({
        name: 'down.until.up',
        handler: async (n: number) => {
          if (!backendUp) throw ApplicationFailure.create({ message: 'backend down', type: 'BackendDown' });
          return n;
        },
      }),
    ],
    [
      defineCallback({
        name: 'final.cb',
        handler: async (_payload, ctx) => void manifestsSeen.push(await readResultsManifest(env.store, ctx.cid)),
      }),
    ],
  );
  return { registry, manifestsSeen, bringUp: () => void (backendUp = true) };
}

const TARGETS = { a: 1, b: 2, c: 3, d: 4 };
const failsOnce = { service: 'down.until.up', retry: { maximumAttempts: 1 } };
const TARGET_OPTIONS = { a: { service: 'echo' }, b: failsOnce, c: { service: 'echo' }, d: { service: 'echo' } };

/** Each file's lines, parsed, and the file as stored, checking that every line ends with a newline. */
async function readFiles(manifest: ResultsManifest) {
  const files = {} as Record<ResultsFileName, { lines: unknown[]; bytes: number }>;
  for (const name of RESULTS_FILES) {
    const body = await env.store.get(manifest.files[name].key);
    expect(body, name).toBeDefined();
    const text = new TextDecoder().decode(body);
    expect(text === '' || text.endsWith('\n'), name).toBe(true);
    const lines = text === '' ? [] : text.slice(0, -1).split('\n');
    files[name] = { lines: lines.map((line) => JSON.parse(line)), bytes: body!.byteLength };
  }
  return files;
}

/** What the files must hold: `result`'s records, in target order, in the file of each target's outcome. */
function expectedFiles(result: FanoutResult): Record<ResultsFileName, unknown[]> {
  const expected: Record<ResultsFileName, unknown[]> = { succeeded: [], failed: [], cancelled: [] };
  const fileOf = { ok: 'succeeded', failed: 'failed', cancelled: 'cancelled' } as const;
  for (const name of Object.keys(TARGETS)) {
    const state = result.targets[name] as keyof typeof fileOf;
    expected[fileOf[state]].push(result.payload.data[name]);
  }
  return expected;
}

/** The files hold `result`'s records; the manifest names them, counts them and gives their sizes. */
async function checkFiles(fanout: FanoutClient, result: FanoutResult, run: number): Promise<ResultsManifest> {
  const manifest = await fanout.resultFiles(result.cid);
  expect(manifest).toBeDefined();
  expect(ResultsManifestSchema.parse(manifest)).toEqual(manifest);
  const files = await readFiles(manifest!);
  const expected = expectedFiles(result);
  for (const name of RESULTS_FILES) {
    expect(files[name].lines, name).toEqual(expected[name]);
    expect(manifest!.files[name]).toEqual({
      key: `fanouts/${result.cid}/results/${name}.jsonl`,
      records: expected[name].length,
      bytes: files[name].bytes,
    });
  }
  const { total, ok, failed, cancelled } = result.counts;
  expect(manifest).toMatchObject({
    cid: result.cid,
    state: result.state,
    run,
    counts: { total, ok, failed, cancelled },
  });
  expect(Number.isNaN(Date.parse(manifest!.writtenAt))).toBe(false);
  return manifest!;
}

async function scheduledActivities(cid: string): Promise<string[]> {
  const history = await env.client.workflow.getHandle(cid).fetchHistory();
  return (history.events ?? []).flatMap((e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? []);
}

it('the option reaches the workflow input only when true', () => {
  const { registry } = resultsRegistry();
  const plan = (writeResults?: boolean) =>
    planFanout(
      registry.catalog(),
      undefined,
      { targets: { echo: 1 }, finalCallbacks: ['final.cb'], writeResults },
      'fanout',
      'x',
    );
  expect(plan(true).writeResults).toBe(true);
  expect('writeResults' in plan(false)).toBe(false);
  expect('writeResults' in plan()).toBe(false);
});

it('a sharded fan-out: every shard’s records, in target order, counted from the records', async () => {
  const { registry } = resultsRegistry();
  // 1,001 targets without on-target callbacks: two shards, each storing its own records.
  const names = Array.from({ length: 1001 }, (_, i) => `t${String(i).padStart(4, '0')}`);
  const targets = Object.fromEntries(names.map((name, i) => [name, i]));
  const targetOptions = Object.fromEntries(names.map((name) => [name, { service: 'echo' }]));
  targetOptions.t0700 = failsOnce;
  const harness = { env, workflowBundle, taskQueue: 'results-sharded' };
  await withFanoutWorker(harness, registry, async (fanout) => {
    const cid = await fanout.invoke(targets, ['final.cb'], { targetOptions, writeResults: true });
    const result = await fanout.result(cid);
    const manifest = await fanout.resultFiles(cid);
    expect(manifest?.counts).toEqual({ total: 1001, ok: 1000, failed: 1, cancelled: 0 });
    const files = await readFiles(manifest!);
    expect(files.succeeded.lines).toEqual(names.filter((n) => n !== 't0700').map((n) => result.payload.data[n]));
    expect(files.failed.lines).toEqual([result.payload.data.t0700]);
    expect(files.cancelled.lines).toEqual([]);
  });
}, 120_000);

describe.each(CACHE_MODES)('results written out with $label', ({ maxCachedWorkflows }) => {
  const harness = () => ({
    env,
    workflowBundle,
    maxCachedWorkflows,
    taskQueue: `results-${maxCachedWorkflows ?? 'default'}`,
  });

  it('a file per outcome with the records in target order and a manifest, before the final callbacks; a redrive rewrites them', async () => {
    const { registry, manifestsSeen, bringUp } = resultsRegistry();
    await withFanoutWorker(harness(), registry, async (fanout) => {
      const cid = await fanout.invoke(TARGETS, ['final.cb'], { targetOptions: TARGET_OPTIONS, writeResults: true });
      const first = await fanout.result(cid);
      expect(first.targets).toEqual({ a: 'ok', b: 'failed', c: 'ok', d: 'ok' });
      const manifest = await checkFiles(fanout, first, 0);
      expect(manifest.counts).toEqual({ total: 4, ok: 3, failed: 1, cancelled: 0 });
      expect(manifest.files.cancelled).toMatchObject({ records: 0, bytes: 0 });
      // The final callback already found the manifest: it may point to the files.
      expect(manifestsSeen).toEqual([manifest]);
      expect((await scheduledActivities(cid)).filter((name) => name === WRITE_RESULTS)).toHaveLength(1);

      bringUp();
      expect(await fanout.redrive(cid)).toMatchObject({ redrive: 1, targets: 1 });
      const second = await fanout.result(cid);
      const rewritten = await checkFiles(fanout, second, 1);
      expect(rewritten.counts).toEqual({ total: 4, ok: 4, failed: 0, cancelled: 0 });
      expect(rewritten.files.failed).toMatchObject({ records: 0, bytes: 0 });
      expect(rewritten.files.succeeded.records).toBe(4);
      expect(manifestsSeen).toEqual([manifest, rewritten]);
    });
  });

  it('targets a stop left unstarted go to cancelled.jsonl, and the manifest says the fan-out was cancelled', async () => {
    const { registry } = resultsRegistry();
    await withFanoutWorker(harness(), registry, async (fanout) => {
      const cid = await fanout.invoke(TARGETS, ['final.cb'], {
        targetOptions: TARGET_OPTIONS,
        failurePolicy: 'fail-fast',
        maxConcurrency: 1,
        writeResults: true,
      });
      const result = await fanout.result(cid);
      expect(result.targets).toEqual({ a: 'ok', b: 'failed', c: 'cancelled', d: 'cancelled' });
      const manifest = await checkFiles(fanout, result, 0);
      expect(manifest).toMatchObject({ state: 'cancelled', counts: { total: 4, ok: 1, failed: 1, cancelled: 2 } });
    });
  });

  it('a fan-out without the option writes no files and schedules no such activity', async () => {
    const { registry, manifestsSeen } = resultsRegistry();
    await withFanoutWorker(harness(), registry, async (fanout) => {
      const cid = await fanout.invoke(TARGETS, ['final.cb'], { targetOptions: TARGET_OPTIONS });
      await fanout.result(cid);
      expect(await fanout.resultFiles(cid)).toBeUndefined();
      expect((await env.store.list(`fanouts/${cid}/results/`)).keys).toEqual([]);
      expect(await scheduledActivities(cid)).not.toContain(WRITE_RESULTS);
      expect(manifestsSeen).toEqual([undefined]);
    });
  });
});
