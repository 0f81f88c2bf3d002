/**
 * Batched targets survive their worker: on the official dev server, a fan-out of 120 targets in batches of 60 is
 * running its first batch when the worker process is killed with SIGKILL. A new worker process takes over; once the
 * batch's heartbeat times out, Temporal retries it and it resumes: targets whose record was stored before the kill
 * are not run again, those in flight at the kill run again (so at most `maxConcurrency` of them run twice), the rest
 * run once; every target ends with its record and its on-target callback, and a target the batch's last heartbeat
 * counted as done does not get its callback again.
 *
 * Two runs: 20 targets at a time (a batch takes well under the heartbeat's second, so the kill lands before any
 * heartbeat counted a target done), and 5 at a time (a batch of about 2.5 s, killed after a heartbeat counted some).
 * Runs the production worker entry (dist/src/cli/main.js, built by `npm test`) as its own process, serving the
 * registry in test/fixtures/batch-durability-registry.cjs, whose service and callbacks log each call to a file.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { defaultPayloadConverter } from '@temporalio/common';
import { FanoutClient } from '../src/client';
import type { Catalog } from '../src/contracts';
import { RUN_BATCH } from '../src/contracts';
import { freePort } from '../src/local/local-temporal';
import { LocalBlobStore } from '../src/store/local-store';
import type { FanoutTestEnv } from './helpers/temporal-env';
import { createDevServerEnv } from './helpers/temporal-env';
import { waitFor } from './helpers/wait';

const WORKER_ENTRY = path.resolve(__dirname, '../dist/src/cli/main.js');
const REGISTRY_MODULE = path.resolve(__dirname, 'fixtures/batch-durability-registry.cjs');
/** What the fixture registers, as the client needs to know it. */
const CATALOG: Catalog = {
  services: { 'slow-echo': { kind: 'activity' } },
  callbacks: ['note-target', 'note-final'],
};
const TARGETS = 120;
const BATCH = 60;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fanout-batch-durability-'));
const storeDir = path.join(dir, 'store');
const running = new Set<ChildProcess>();
let env: FanoutTestEnv | undefined;
let fanout: FanoutClient;

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

beforeAll(async () => {
  expect(fs.existsSync(WORKER_ENTRY)).toBe(true); // npm test builds first
  fs.mkdirSync(storeDir);
  const store = new LocalBlobStore(storeDir);
  env = await createDevServerEnv({ port: await freePort() }, store);
  fanout = new FanoutClient({ client: env.client, registry: CATALOG, store });
});

afterAll(async () => {
  await Promise.all([...running].map(kill));
  await env?.teardown();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The file's lines, counted: how often each line was written. */
function countLines(file: string): Map<string, number> {
  const counts = new Map<string, number>();
  const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  for (const line of text.split('\n')) if (line) counts.set(line, (counts.get(line) ?? 0) + 1);
  return counts;
}

function lineCount(file: string): number {
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').length - 1 : 0;
}

/** The targets whose records are in the store. */
async function storedTargets(cid: string): Promise<Set<string>> {
  const targets = new Set<string>();
  for (let cursor: string | undefined, first = true; first || cursor !== undefined; first = false) {
    const page = await fanout.records.page(cid, { limit: 1000, ...(cursor ? { cursor } : {}) });
    for (const stored of page.records) targets.add(stored.record.target);
    cursor = page.cursor;
  }
  return targets;
}

/** The running batch as the server has it: its attempt, and the checkpoint of its last heartbeat. */
async function pendingBatch(cid: string): Promise<{ attempt: number; done: string }> {
  const { raw } = await env!.client.workflow.getHandle(cid).describe();
  const pending = (raw.pendingActivities ?? []).filter((a) => a.activityType?.name === RUN_BATCH);
  expect(pending).toHaveLength(1);
  const [details] = pending[0].heartbeatDetails?.payloads ?? [];
  const checkpoint = details ? defaultPayloadConverter.fromPayload<{ done: string }>(details) : { done: '' };
  return { attempt: pending[0].attempt ?? 0, done: checkpoint.done };
}

describe.each([
  { atOnce: 20, killAt: 25, checkpointed: false, label: '20 at a time, before a heartbeat counted a target done' },
  { atOnce: 5, killAt: 40, checkpointed: true, label: '5 at a time, after a heartbeat counted some targets done' },
])('a batch whose worker is killed, $label', ({ atOnce, killAt, checkpointed }) => {
  it('resumes on a new worker: no stored target runs again, every target ends with its record and callback', async () => {
    const started = Date.now();
    const serviceLog = path.join(dir, `service-${atOnce}.log`);
    const callbackLog = path.join(dir, `callbacks-${atOnce}.log`);
    const output: string[] = [];
    onTestFailed(() => console.error(`worker output:\n${output.join('')}`));
    const startWorker = (label: string): ChildProcess => {
      const child = spawn(process.execPath, [WORKER_ENTRY, 'worker', '--registry', REGISTRY_MODULE], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          ...process.env,
          TEMPORAL_ADDRESS: env!.address,
          FANOUT_STORE: storeDir,
          FANOUT_DATA_DIR: path.join(dir, 'data'),
          BATCH_SERVICE_LOG: serviceLog,
          BATCH_CALLBACK_LOG: callbackLog,
        },
      });
      running.add(child);
      child.once('exit', () => running.delete(child));
      for (const stream of [child.stdout!, child.stderr!])
        stream.on('data', (chunk: Buffer) => output.push(`[${label}] ${chunk.toString()}`));
      return child;
    };

    let worker = startWorker('worker 1');
    const names = Array.from({ length: TARGETS }, (_, i) => `t${String(i).padStart(3, '0')}`);
    const cid = await fanout.invoke(Object.fromEntries(names.map((name) => [name, name])), ['note-final'], {
      onTarget: ['note-target'],
      targetOptions: Object.fromEntries(names.map((name) => [name, { service: 'slow-echo' }])),
      maxConcurrency: atOnce,
      batching: { maxTargets: BATCH },
      source: 'batch-durability-test',
    });

    // Some waves of the first batch done (their records stored), the next in flight: then the worker dies.
    await waitFor(async () => lineCount(serviceLog) >= killAt, 60_000);
    await kill(worker);
    const ranBeforeKill = countLines(serviceLog);
    const callbacksBeforeKill = countLines(callbackLog);
    const storedBeforeKill = await storedTargets(cid);
    const checkpoint = await pendingBatch(cid);
    const inFlight = [...ranBeforeKill.keys()].filter((name) => !storedBeforeKill.has(name));
    const doneBeforeKill = names.filter((_, offset) => 'of'.includes(checkpoint.done[offset] ?? '.'));
    // The first batch was cut short in its first attempt: only its targets had started, and not all of them.
    expect(checkpoint.attempt).toBe(1);
    expect(ranBeforeKill.size).toBeLessThan(BATCH);
    expect([...ranBeforeKill.keys()].every((name) => names.indexOf(name) < BATCH)).toBe(true);
    expect(storedBeforeKill.size).toBeGreaterThan(0);
    expect([...storedBeforeKill].every((name) => ranBeforeKill.has(name))).toBe(true);
    // A wave of 200 ms targets: 20 at a time, the kill comes before the heartbeat a second into the batch; 5 at a
    // time, after it. What the checkpoint counts done had its record stored and its callback run.
    expect(doneBeforeKill.length > 0).toBe(checkpointed);
    for (const name of doneBeforeKill) {
      expect(storedBeforeKill.has(name), name).toBe(true);
      expect(callbacksBeforeKill.get(`cb ${name}`), name).toBe(1);
    }

    worker = startWorker('worker 2');
    const result = await fanout.result(cid);
    const elapsed = Date.now() - started;

    expect(result.state).toBe('completed');
    expect(result.counts).toMatchObject({ total: TARGETS, ok: TARGETS, failed: 0, cancelled: 0 });
    for (const [index, name] of names.entries()) {
      expect(result.payload.data[name]).toMatchObject({ target: name, ok: true, response: { echoed: name } });
      expect(await fanout.records.get(cid, index)).toMatchObject({ state: 'ok', record: { target: name, ok: true } });
    }

    const ran = countLines(serviceLog);
    const callbacks = countLines(callbackLog);
    const ranTwice = names.filter((name) => ran.get(name) === 2);
    const callbackTwice = names.filter((name) => callbacks.get(`cb ${name}`) === 2);
    console.log(
      `batch durability, ${atOnce} at a time: before the kill ${ranBeforeKill.size} targets started, ` +
        `${storedBeforeKill.size} records stored, ${callbacksBeforeKill.size} on-target callbacks run, ` +
        `${doneBeforeKill.length} targets done in the last heartbeat; ${ranTwice.length} targets ran twice ` +
        `(${ranTwice.join(' ')}), ${callbackTwice.length} on-target callbacks ran twice; ` +
        `${elapsed} ms from the invoke to the result`,
    );
    for (const name of names) {
      expect(ran.get(name), name).toBeGreaterThanOrEqual(1);
      expect(ran.get(name), name).toBeLessThanOrEqual(2);
      expect(callbacks.get(`cb ${name}`), name).toBeGreaterThanOrEqual(1);
      expect(callbacks.get(`cb ${name}`), name).toBeLessThanOrEqual(2);
    }
    expect(callbacks.get(`final ${cid}`)).toBeGreaterThanOrEqual(1);
    // A target whose record was stored before the kill is not run again; those in flight then are, and no other.
    for (const name of storedBeforeKill) expect(ran.get(name), name).toBe(1);
    expect(ranTwice.sort()).toEqual(inFlight.sort());
    expect(ranTwice.length).toBeLessThanOrEqual(atOnce);
    // A callback runs again only if it had run before the kill and the last heartbeat did not count it done.
    for (const name of doneBeforeKill) expect(callbacks.get(`cb ${name}`), name).toBe(1);
    for (const name of callbackTwice) {
      expect(callbacksBeforeKill.get(`cb ${name}`), name).toBe(1);
      expect(doneBeforeKill, name).not.toContain(name);
    }

    // Two batches; the first ended on a retried attempt (the last attempt's number is on its started event).
    const history = await env!.client.workflow.getHandle(cid).fetchHistory();
    const events = history.events ?? [];
    const batchScheduled = events.filter(
      (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === RUN_BATCH,
    );
    expect(batchScheduled).toHaveLength(2);
    const attemptOf = (scheduled: (typeof events)[number]) =>
      events.find(
        (e) => e.activityTaskStartedEventAttributes?.scheduledEventId?.toString() === String(scheduled.eventId),
      )?.activityTaskStartedEventAttributes?.attempt;
    expect(attemptOf(batchScheduled[0])).toBeGreaterThanOrEqual(2);
    expect(attemptOf(batchScheduled[1])).toBe(1);

    await kill(worker);
  }, 90_000);
});
