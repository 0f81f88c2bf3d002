/**
 * `npm run bench:metrics`: what the fan-out's metrics cost (the goal: at most 5% of throughput at 5,000 targets).
 * Contender A of `npm run bench` (50 ms targets, a window of min(width, 1,000), one no-op final callback) on ONE
 * official dev server in memory, served by two worker processes of their own, each on its task queue: `on` exports
 * the metrics (FANOUT_METRICS_ADDRESS, as the `worker` command does) and is scraped every second while it runs, as
 * Prometheus would; `off` exports none. A Temporal Runtime is process-wide, hence the two processes. Runs alternate
 * on/off (the order swapped every round) at each width (BENCH_WIDTHS, default 1000,5000) for BENCH_ROUNDS (3).
 * Prints each run, then per width the medians (wall time, targets/s, worker CPU ms per target) and the median of the
 * pair ratios of throughput on ÷ off; then what one worker-side count costs in each mode (bench/metrics-calls.ts),
 * a figure the machine's load moves far less. Its last line is one JSON object. A benchmark: it asserts nothing.
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { FanoutClient } from '../src/client';
import { freePort } from '../src/local/local-temporal';
import { startDevServer } from '../src/local/temporal-servers';
import { LocalBlobStore } from '../src/store/local-store';
import { fanoutDataConverter } from '../src/store/payload-driver';
import { writeWorkflowBundle } from '../src/worker/workflow-bundle';
import { describeMachine } from './machine';
import { findChildPids } from './proc';
import { startSampling } from './sampler';
import { median, medianPairRatio } from './stats';
import { fixed, formatTable } from './table';
import { BENCH_FINAL, BENCH_SERVICE, TARGET_MS, benchRegistry, windowFor, withinDeadline } from './workload';

const WIDTHS = (process.env.BENCH_WIDTHS ?? '1000,5000').split(',').map(Number);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const WARMUP_WIDTH = 500;
const SCRAPE_MS = 1000;
const MODES = ['off', 'on'] as const;
type Mode = (typeof MODES)[number];

interface Run {
  wallSeconds: number;
  targetsPerSecond: number;
  workerCpuMsPerTarget: number;
  scrapes: number;
}

interface WorkerProcess {
  child: ChildProcess;
  taskQueue: string;
  metricsUrl?: string;
  exited: Promise<unknown>;
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const machine = describeMachine();
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'fanout-bench-metrics-'));
  const storeDir = path.join(scratch, 'store');
  const store = new LocalBlobStore(storeDir);
  const env = await startDevServer({ dataConverter: fanoutDataConverter(store) });
  const [serverPid] = findChildPids(process.pid, /^temporal$/);
  const bundle = await writeWorkflowBundle(path.join(scratch, 'workflow-bundle.js'));
  const registry = benchRegistry();

  const startWorker = async (mode: Mode): Promise<WorkerProcess> => {
    const taskQueue = `bench-metrics-${mode}`;
    const metricsAddress = mode === 'on' ? `127.0.0.1:${await freePort()}` : undefined;
    const child = spawn(process.execPath, [path.join(__dirname, 'metrics-worker.js')], {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: {
        ...process.env,
        BENCH_TEMPORAL_ADDRESS: env.connection.options.address,
        BENCH_STORE_DIR: storeDir,
        BENCH_TASK_QUEUE: taskQueue,
        BENCH_WORKFLOW_BUNDLE: bundle,
        FANOUT_METRICS_ADDRESS: metricsAddress ?? '',
      },
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    return { child, taskQueue, metricsUrl: metricsAddress && `http://${metricsAddress}/metrics`, exited };
  };
  const workers = { off: await startWorker('off'), on: await startWorker('on') };
  const clients = {
    off: new FanoutClient({ client: env.client, registry, store, taskQueue: workers.off.taskQueue }),
    on: new FanoutClient({ client: env.client, registry, store, taskQueue: workers.on.taskQueue }),
  };

  const runOnce = async (mode: Mode, width: number): Promise<Run> => {
    const { child, metricsUrl } = workers[mode];
    const names = Array.from({ length: width }, (_, i) => `t${i}`);
    const targets = Object.fromEntries(names.map((name, i) => [name, i]));
    const targetOptions = Object.fromEntries(names.map((name) => [name, { service: BENCH_SERVICE }]));
    let scrapes = 0;
    // Scraped as Prometheus would, the text read whole; a failed scrape is a bench error, not a quiet zero.
    const scrape = async () => {
      const response = await fetch(metricsUrl!);
      if (!response.ok) throw new Error(`scrape ${metricsUrl}: ${response.status}`);
      await response.text();
      scrapes++;
    };
    let scrapeError: unknown;
    const scraper = metricsUrl
      ? setInterval(() => void scrape().catch((error: unknown) => (scrapeError = error)), SCRAPE_MS)
      : undefined;
    const sampling = startSampling(serverPid, 100, child.pid!);
    const started = performance.now();
    try {
      const cid = await clients[mode].invoke(targets, [BENCH_FINAL], {
        targetOptions,
        maxConcurrency: windowFor(width),
      });
      const result = await withinDeadline(clients[mode].result(cid), `${mode} at ${width}`, () =>
        env.client.workflow.getHandle(cid).terminate('the bench run passed its deadline'),
      );
      const ok = Object.values(result.targets).filter((state) => state === 'ok').length;
      if (ok !== width) throw new Error(`metrics ${mode} at ${width}: only ${ok} targets ok`);
    } finally {
      clearInterval(scraper);
    }
    const wallSeconds = (performance.now() - started) / 1000;
    const cost = sampling.stop();
    if (scrapeError) throw scrapeError;
    return {
      wallSeconds,
      targetsPerSecond: width / wallSeconds,
      workerCpuMsPerTarget: (cost.worker.cpuSeconds * 1000) / width,
      scrapes,
    };
  };

  console.log(
    `${TARGET_MS} ms targets, window min(width, 1000), ${ROUNDS} rounds alternating metrics off/on (order swapped ` +
      `each round), the metrics-on worker scraped every ${SCRAPE_MS} ms; one dev server in memory ` +
      `(${machine.temporalCli}); ${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGiB} GiB, Node ${machine.node}; ` +
      `load average ${machine.loadAverage.join(' ')}`,
  );
  const figures: Record<number, Record<Mode, Run[]>> = {};
  try {
    // Warm-up (JIT, workflow sandboxes, connections): the figures are steady state.
    for (const mode of MODES) await runOnce(mode, WARMUP_WIDTH);
    for (const width of WIDTHS) {
      const runs: Record<Mode, Run[]> = { off: [], on: [] };
      figures[width] = runs;
      for (let round = 1; round <= ROUNDS; round++) {
        const order: readonly Mode[] = round % 2 ? MODES : [...MODES].reverse();
        for (const mode of order) {
          const run = await runOnce(mode, width);
          runs[mode].push(run);
          console.log(
            `  width ${width} round ${round} metrics ${mode}: ${run.wallSeconds.toFixed(2)} s, ` +
              `${run.targetsPerSecond.toFixed(0)} targets/s, worker CPU ${run.workerCpuMsPerTarget.toFixed(2)} ms/target` +
              (mode === 'on' ? `, ${run.scrapes} scrapes` : ''),
          );
        }
      }
      printWidth(width, runs);
    }
  } finally {
    for (const worker of Object.values(workers)) worker.child.kill('SIGTERM');
    await Promise.all(Object.values(workers).map((worker) => worker.exited));
    await env.teardown();
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  const calls = MODES.map(
    (mode) =>
      JSON.parse(
        execFileSync(process.execPath, [path.join(__dirname, 'metrics-calls.js'), mode], { encoding: 'utf8' }),
      ) as { mode: Mode; histogramRecordMicros: number; counterAddMicros: number },
  );
  for (const { mode, histogramRecordMicros, counterAddMicros } of calls)
    console.log(
      `one worker-side count, metrics ${mode}: histogram record ${histogramRecordMicros.toFixed(2)} µs, ` +
        `counter add ${counterAddMicros.toFixed(2)} µs`,
    );
  console.log(
    JSON.stringify({
      bench: 'metrics',
      calls,
      ...machine,
      targetMs: TARGET_MS,
      rounds: ROUNDS,
      scrapeMs: SCRAPE_MS,
      widths: Object.fromEntries(
        Object.entries(figures).map(([width, runs]) => [
          width,
          {
            offTargetsPerSecond: runs.off.map((run) => Math.round(run.targetsPerSecond)),
            onTargetsPerSecond: runs.on.map((run) => Math.round(run.targetsPerSecond)),
            throughputOnOverOff: Number(throughputRatio(runs).toFixed(3)),
          },
        ]),
      ),
    }),
  );
}

/** The median of each round's throughput with metrics on ÷ without. */
function throughputRatio(runs: Record<Mode, Run[]>): number {
  return medianPairRatio(
    runs.on.map((run) => run.targetsPerSecond),
    runs.off.map((run) => run.targetsPerSecond),
  );
}

function printWidth(width: number, runs: Record<Mode, Run[]>): void {
  const rows = MODES.map((mode) => [
    `metrics ${mode}`,
    fixed(median(runs[mode].map((run) => run.wallSeconds)), 2),
    fixed(median(runs[mode].map((run) => run.targetsPerSecond)), 0),
    fixed(median(runs[mode].map((run) => run.workerCpuMsPerTarget)), 2),
  ]);
  console.log(`\nwidth ${width}: medians of ${runs.on.length} rounds`);
  console.log(formatTable(['worker', 'wall s', 'targets/s', 'worker CPU ms/target'], rows));
  console.log(`median of pair ratios, throughput on ÷ off: ${throughputRatio(runs).toFixed(3)}\n`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
