/**
 * `npm run bench:scale`: wide fan-outs on the official dev server (its state in SQLite, as `npm start` keeps it), one
 * worker in a process of its own (bench/scale-worker.ts), this process the client, records in a local result store in
 * a scratch folder. For each width (BENCH_SCALE_WIDTHS, default 5000,10000,100000): targets
 * answering 1 KB (BENCH_RESPONSE_BYTES) with one on-target callback and one final callback, maxConcurrency 1,000;
 * BENCH_SCALE_BATCH=<maxTargets> runs them batched (`batching: { maxTargets }`), unset one activity per target.
 * Prints wall time, targets/s (and its ratio to the first width's), the largest history of any execution (fan-out
 * and shards), the largest payload in any of them, and peak RSS of worker and server; its last line is one JSON
 * object for the widest run.
 * A benchmark: it asserts nothing.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { FanoutClient } from '../src/client';
import type { FanoutResult } from '../src/contracts';
import { startDevServer } from '../src/local/temporal-servers';
import { LocalBlobStore } from '../src/store/local-store';
import { fanoutDataConverter } from '../src/store/payload-driver';
import { writeWorkflowBundle } from '../src/worker/workflow-bundle';
import { planShards } from '../src/workflows/sharding';
import { describeMachine } from './machine';
import { largestPayload } from './history-payloads';
import { findChildPids } from './proc';
import { startSampling } from './sampler';
import { fanoutExecutionIds, workflowTaskStats } from './workflow-tasks';
import { SCALE_FINAL, SCALE_ON_TARGET, SCALE_SERVICE, scaleRegistry } from './scale-registry';

const WIDTHS = (process.env.BENCH_SCALE_WIDTHS ?? '5000,10000,100000').split(',').map(Number);
const RESPONSE_BYTES = Number(process.env.BENCH_RESPONSE_BYTES ?? 1024);
/** `file` (default): the dev server keeps its state in SQLite with WAL, as `npm start` does; `memory`: in memory. */
const SERVER_STATE = process.env.BENCH_SCALE_SERVER ?? 'file';
/**
 * Node options of the worker process. By default its V8 heaps are capped at 512 MiB each (main thread and workflow
 * thread: they need far less, and an uncapped V8 on a 24 GiB machine collects garbage lazily, holding hundreds of
 * MiB it does not use) and glibc keeps two malloc arenas (MALLOC_ARENA_MAX; the default, eight per core, lets the
 * worker's threads hold memory they freed). Both are usual settings for a Node service in a container.
 */
const WORKER_NODE_OPTIONS = (process.env.BENCH_WORKER_NODE_OPTIONS ?? '--max-old-space-size=512')
  .split(' ')
  .filter(Boolean);
const WORKER_MALLOC_ARENA_MAX = process.env.MALLOC_ARENA_MAX ?? '2';
const MAX_CONCURRENCY = 1000;
/** Targets per batch when set (`batching: { maxTargets }`); unset, every target is an activity of its own. */
const BATCH = process.env.BENCH_SCALE_BATCH ? Number(process.env.BENCH_SCALE_BATCH) : undefined;
if (BATCH !== undefined && !(Number.isInteger(BATCH) && BATCH >= 1))
  throw new Error(`BENCH_SCALE_BATCH: ${process.env.BENCH_SCALE_BATCH} is not a positive integer`);
/** As the workflow plans it: every target is batched, so the plan counts batches of BATCH. */
const BATCH_WIDTH = BATCH ?? 1;
const MIB = 2 ** 20;

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'fanout-bench-scale-'));
  const storeDir = path.join(scratch, 'store');
  const store = new LocalBlobStore(storeDir);
  const env = await startDevServer({
    dataConverter: fanoutDataConverter(store),
    ...(SERVER_STATE === 'file' ? { dbFilename: path.join(scratch, 'temporal.db') } : {}),
  });
  const [serverPid] = findChildPids(process.pid, /temporal/);
  // Bundled here, loaded by the worker from a file: what a production worker does.
  const bundlePath = await writeWorkflowBundle(path.join(scratch, 'workflow-bundle.js'));
  const workerProcess = spawn(process.execPath, [...WORKER_NODE_OPTIONS, path.join(__dirname, 'scale-worker.js')], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: {
      ...process.env,
      BENCH_TEMPORAL_ADDRESS: env.connection.options.address,
      BENCH_STORE_DIR: storeDir,
      BENCH_WORKFLOW_BUNDLE: bundlePath,
      BENCH_RESPONSE_BYTES: String(RESPONSE_BYTES),
      BENCH_MAX_CONCURRENCY: String(MAX_CONCURRENCY),
      MALLOC_ARENA_MAX: WORKER_MALLOC_ARENA_MAX,
    },
  });
  const workerExited = new Promise<number | null>((resolve) => workerProcess.once('exit', resolve));
  const workerPid = workerProcess.pid!;
  const fanout = new FanoutClient({ client: env.client, registry: scaleRegistry(RESPONSE_BYTES), store });
  console.log(JSON.stringify(describeMachine()));
  console.log(
    `fan-outs of ${RESPONSE_BYTES}-byte responses, one on-target and one final callback, maxConcurrency ` +
      `${MAX_CONCURRENCY}, ${BATCH === undefined ? 'one activity per target' : `batched (batching: { maxTargets: ${BATCH} })`}; ` +
      `dev server state ${SERVER_STATE === 'file' ? 'in SQLite (WAL)' : 'in memory'}, ` +
      `worker in a process of its own (node ${WORKER_NODE_OPTIONS.join(' ')}, MALLOC_ARENA_MAX=${WORKER_MALLOC_ARENA_MAX})`,
  );
  let last: Record<string, number> = {};
  let first: { width: number; targetsPerSecond: number } | undefined;
  try {
    for (const width of WIDTHS) {
      const targets = Object.fromEntries(Array.from({ length: width }, (_, i) => [`t${i}`, i]));
      const targetOptions = Object.fromEntries(Object.keys(targets).map((name) => [name, { service: SCALE_SERVICE }]));
      const sampling = startSampling(serverPid, 100, workerPid);
      const started = Date.now();
      const cid = await fanout.invoke(targets, [SCALE_FINAL], {
        targetOptions,
        onTarget: [SCALE_ON_TARGET],
        maxConcurrency: MAX_CONCURRENCY,
        ...(BATCH !== undefined && { batching: { maxTargets: BATCH } }),
      });
      const outcome = (await env.client.workflow.getHandle(cid).result()) as Pick<FanoutResult, 'counts'>;
      const wallSeconds = (Date.now() - started) / 1000;
      const cost = sampling.stop();
      const { shardCount } = planShards(width, 1, MAX_CONCURRENCY, BATCH_WIDTH);
      const ids = fanoutExecutionIds(cid, width, 1, MAX_CONCURRENCY, BATCH_WIDTH);
      let maxEvents = 0;
      let maxPayload = 0;
      const tasks = { count: 0, slowestMs: 0, timedOut: 0, forceClosed: 0, slowestIn: '' };
      for (const id of ids) {
        const history = await env.client.workflow.getHandle(id).fetchHistory();
        maxEvents = Math.max(maxEvents, history.events!.length);
        const taskStats = workflowTaskStats(history);
        tasks.count += taskStats.count;
        tasks.timedOut += taskStats.timedOut;
        tasks.forceClosed += taskStats.forceClosed;
        if (taskStats.slowestMs > tasks.slowestMs)
          Object.assign(tasks, {
            slowestMs: taskStats.slowestMs,
            slowestIn: `${id} event ${taskStats.slowestAt}, after ${taskStats.slowestBatch}`,
          });
        maxPayload = Math.max(maxPayload, largestPayload([history]));
      }
      last = {
        width,
        responseBytes: RESPONSE_BYTES,
        completed: outcome.counts.ok,
        wallSeconds: Number(wallSeconds.toFixed(1)),
        targetsPerSecond: Number((width / wallSeconds).toFixed(1)),
        maxEventsPerExecution: maxEvents,
        maxPayloadBytes: maxPayload,
        peakRssMiB: Math.round((cost.worker.peakRssBytes + cost.server.peakRssBytes) / MIB),
        workerPeakRssMiB: Math.round(cost.worker.peakRssBytes / MIB),
        serverPeakRssMiB: Math.round(cost.server.peakRssBytes / MIB),
        shards: shardCount,
        batchMaxTargets: BATCH ?? 0,
      };
      const targetsPerSecond = width / wallSeconds;
      first ??= { width, targetsPerSecond };
      if (first.width !== width) last.rateOfNarrowest = Number((targetsPerSecond / first.targetsPerSecond).toFixed(2));
      console.log(
        `width ${width}: ${outcome.counts.ok} ok in ${wallSeconds.toFixed(1)} s (${(width / wallSeconds).toFixed(0)} targets/s), ` +
          `${shardCount} execution(s) of targets, largest history ${maxEvents} events, largest payload ${maxPayload} B, ` +
          `peak RSS worker ${last.workerPeakRssMiB} MiB + server ${last.serverPeakRssMiB} MiB` +
          (last.rateOfNarrowest ? `; ${last.rateOfNarrowest}× the targets/s of width ${first.width}` : '') +
          `; ${tasks.count} workflow tasks, slowest ${(tasks.slowestMs / 1000).toFixed(1)} s (${tasks.slowestIn}), ${tasks.timedOut} timed out, ${tasks.forceClosed} force-closed`,
      );
    }
  } finally {
    workerProcess.kill('SIGTERM');
    await workerExited;
    await env.teardown();
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  console.log(JSON.stringify(last));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
