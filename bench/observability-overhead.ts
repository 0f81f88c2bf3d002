/**
 * `npm run bench:observability` (alias `bench:metrics`): what the fan-out's metrics and traces cost (the goal: at
 * most 5% of throughput at 5,000 targets). Contender A of `npm run bench` (50 ms targets, a window of
 * min(width, 1,000), one no-op final callback) on ONE official dev server in memory, served by three worker processes
 * of their own, each on its task queue, started as the `worker` command starts one:
 *   - `off`: neither metrics nor traces;
 *   - `metrics`: metrics exported (FANOUT_METRICS_ADDRESS) and scraped every second while it runs, as Prometheus would;
 *   - `traced`: the same metrics, and traces (OTEL_EXPORTER_OTLP_ENDPOINT, the SDK's default batch settings) exported
 *     by OTLP/HTTP to a real OpenTelemetry Collector (scripts/otel-collector.sh, built on first use, its debug
 *     exporter logging one line per batch received), the workflow bundle built with the tracing interceptors; its
 *     fan-outs are started by a client that traces too (startTracing, its client interceptor), as a user's would.
 * A Temporal Runtime and a global tracer provider are process-wide, hence the three processes. The collector runs on
 * the same machine and takes CPU of its own, as a sidecar collector would. Runs rotate through the modes (each takes
 * each place in the order in turn) at each width (BENCH_WIDTHS, default 1000,5000) for BENCH_ROUNDS (3), after one
 * uncounted warm-up run of each at the widest width.
 * Prints each run (with its workflow tasks, and those the server force-closed: each a replay), then per width the
 * medians (wall time, targets/s, CPU ms per target of each process, and of all of them) and the medians and ranges
 * of the round-by-round throughput ratios against `off`; the spans the collector received per traced target (a check
 * that the traces were exported whole, not dropped); then what one worker-side count costs with metrics off and on
 * (bench/metrics-calls.ts) and what tracing one activity costs (bench/tracing-calls.ts), figures the machine's load
 * moves far less. Its last line is one JSON object. A benchmark: it asserts nothing.
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { FanoutClient } from '../src/client';
import { freePort } from '../src/local/local-temporal';
import { startDevServer } from '../src/local/temporal-servers';
import { LocalBlobStore } from '../src/store/local-store';
import { fanoutDataConverter } from '../src/store/payload-driver';
import { startTracing, tracingWorkflowModules } from '../src/tracing';
import { writeWorkflowBundle } from '../src/worker/workflow-bundle';
import { describeMachine } from './machine';
import { cpuSeconds, findChildPids } from './proc';
import { startSampling } from './sampler';
import { median, pairRatios } from './stats';
import { fixed, formatTable } from './table';
import { BENCH_FINAL, BENCH_SERVICE, TARGET_MS, benchRegistry, windowFor, withinDeadline } from './workload';
import { fanoutExecutionIds, historyTotals } from './workflow-tasks';

const WIDTHS = (process.env.BENCH_WIDTHS ?? '1000,5000').split(',').map(Number);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SCRAPE_MS = 1000;
const MODES = ['off', 'metrics', 'traced'] as const;
type Mode = (typeof MODES)[number];
const LABELS: Record<Mode, string> = { off: 'off', metrics: 'metrics', traced: 'metrics + tracing' };
const COLLECTOR_SCRIPT = path.resolve(__dirname, '../../scripts/otel-collector.sh');

interface Run {
  wallSeconds: number;
  targetsPerSecond: number;
  workerCpuMsPerTarget: number;
  /** The dev server's, the collector's and this process's (the client, the scrapes) CPU: where the rest goes. */
  serverCpuMsPerTarget: number;
  collectorCpuMsPerTarget: number;
  clientCpuMsPerTarget: number;
  scrapes: number;
  /** From the run's history: its workflow tasks, and those the server force-closed or that timed out (replays). */
  workflowTasks: number;
  forceClosedTasks: number;
  timedOutTasks: number;
}

interface WorkerProcess {
  child: ChildProcess;
  taskQueue: string;
  metricsUrl?: string;
  exited: Promise<unknown>;
  /** Rejects if the process exits before the bench stops it: a run it serves fails then, naming it, never hangs. */
  died: Promise<never>;
}

interface Collector {
  endpoint: string;
  /** Spans received so far, summed from the debug exporter's line per batch. */
  spansReceived(): number;
  /** CPU seconds it has used so far. */
  cpuSeconds(): number;
  stop(): void;
}

/** The collector of scripts/otel-collector.sh on a free port, in a scratch folder, logging batches, not spans. */
async function startCollector(dir: string): Promise<Collector> {
  const port = await freePort();
  const env = { ...process.env, OTELCOL_DIR: dir, OTELCOL_PORT: String(port), OTELCOL_VERBOSITY: 'basic' };
  const output = execFileSync(COLLECTOR_SCRIPT, ['start'], {
    env,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const endpoint = /OTEL_EXPORTER_OTLP_ENDPOINT=(\S+)\s*$/.exec(output)?.[1];
  if (!endpoint) throw new Error(`otel-collector.sh start said: ${output}`);
  return {
    endpoint,
    spansReceived: () =>
      [...fs.readFileSync(path.join(dir, 'collector.log'), 'utf8').matchAll(/\tTraces\t.*"spans": (\d+)\}/g)].reduce(
        (sum, [, spans]) => sum + Number(spans),
        0,
      ),
    cpuSeconds: () => cpuSeconds(Number(fs.readFileSync(path.join(dir, 'collector.pid'), 'utf8'))),
    stop: () => execFileSync(COLLECTOR_SCRIPT, ['stop'], { env, stdio: 'inherit' }),
  };
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const machine = describeMachine();
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'fanout-bench-observability-'));
  const storeDir = path.join(scratch, 'store');
  const store = new LocalBlobStore(storeDir);
  const collector = await startCollector(path.join(scratch, 'otelcol'));
  const env = await startDevServer({ dataConverter: fanoutDataConverter(store) });
  const [serverPid] = findChildPids(process.pid, /^temporal$/);
  const bundles = {
    plain: await writeWorkflowBundle(path.join(scratch, 'workflow-bundle.js')),
    // As `temporal-fanout bundle` builds it with tracing on.
    traced: await writeWorkflowBundle(path.join(scratch, 'workflow-bundle-traced.js'), undefined, {
      workflowInterceptorModules: tracingWorkflowModules(),
    }),
  };
  const registry = benchRegistry();

  const startWorker = async (mode: Mode): Promise<WorkerProcess> => {
    const taskQueue = `bench-observability-${mode}`;
    const metricsAddress = mode === 'off' ? undefined : `127.0.0.1:${await freePort()}`;
    // BENCH_WORKER_NODE_ARGS: Node options for the worker processes only, e.g. `--cpu-prof --cpu-prof-dir=/tmp/p`.
    const nodeArgs = (process.env.BENCH_WORKER_NODE_ARGS ?? '').split(' ').filter(Boolean);
    const child = spawn(process.execPath, [...nodeArgs, path.join(__dirname, 'observability-worker.js')], {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: {
        ...process.env,
        BENCH_TEMPORAL_ADDRESS: env.connection.options.address,
        BENCH_STORE_DIR: storeDir,
        BENCH_TASK_QUEUE: taskQueue,
        BENCH_WORKFLOW_BUNDLE: mode === 'traced' ? bundles.traced : bundles.plain,
        FANOUT_METRICS_ADDRESS: metricsAddress ?? '',
        // Explicitly off elsewhere, whatever OTEL_* this process was given; OTEL_BSP_* pass through to measure them.
        ...(mode === 'traced' ? { OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint } : { OTEL_TRACES_EXPORTER: 'none' }),
      },
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const died = exited.then((code) => {
      throw new Error(`the ${LABELS[mode]} worker exited (${String(code)})`);
    });
    died.catch(() => undefined); // rejected at the end too, when nothing waits on it
    return { child, taskQueue, metricsUrl: metricsAddress && `http://${metricsAddress}/metrics`, exited, died };
  };
  const workers = {} as Record<Mode, WorkerProcess>;
  for (const mode of MODES) workers[mode] = await startWorker(mode);

  // The client of the traced runs traces as an app's would; the others' clients have no interceptors, so no spans.
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT = collector.endpoint;
  const tracing = startTracing({ serviceName: 'bench-client' });
  const tracedClient = new Client({
    connection: env.connection,
    dataConverter: fanoutDataConverter(store),
    interceptors: tracing.client.interceptors,
  });
  const fanoutClient = (mode: Mode) =>
    new FanoutClient({
      client: mode === 'traced' ? tracedClient : env.client,
      registry,
      store,
      taskQueue: workers[mode].taskQueue,
    });
  const clients = Object.fromEntries(MODES.map((mode) => [mode, fanoutClient(mode)])) as Record<Mode, FanoutClient>;
  let tracedTargets = 0;

  const runOnce = async (mode: Mode, width: number): Promise<Run> => {
    const { child, metricsUrl, died } = workers[mode];
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
    const collectorCpuStart = collector.cpuSeconds();
    const clientCpuStart = process.cpuUsage();
    const started = performance.now();
    let runCid = '';
    try {
      const cid = await clients[mode].invoke(targets, [BENCH_FINAL], {
        targetOptions,
        maxConcurrency: windowFor(width),
      });
      const result = await withinDeadline(Promise.race([clients[mode].result(cid), died]), `${mode} at ${width}`, () =>
        env.client.workflow.getHandle(cid).terminate('the bench run passed its deadline'),
      );
      runCid = cid;
      const ok = Object.values(result.targets).filter((state) => state === 'ok').length;
      if (ok !== width) throw new Error(`${mode} at ${width}: only ${ok} targets ok`);
    } finally {
      clearInterval(scraper);
    }
    const wallSeconds = (performance.now() - started) / 1000;
    const cost = sampling.stop();
    const clientCpu = process.cpuUsage(clientCpuStart);
    if (scrapeError) throw scrapeError;
    const tasks = await historyTotals(env.client, fanoutExecutionIds(runCid, width, 0, windowFor(width)));
    if (mode === 'traced') tracedTargets += width;
    return {
      wallSeconds,
      targetsPerSecond: width / wallSeconds,
      workerCpuMsPerTarget: (cost.worker.cpuSeconds * 1000) / width,
      serverCpuMsPerTarget: (cost.server.cpuSeconds * 1000) / width,
      collectorCpuMsPerTarget: ((collector.cpuSeconds() - collectorCpuStart) * 1000) / width,
      clientCpuMsPerTarget: (clientCpu.user + clientCpu.system) / 1000 / width,
      scrapes,
      workflowTasks: tasks.workflowTasks,
      forceClosedTasks: tasks.forceClosed,
      timedOutTasks: tasks.timedOut,
    };
  };

  console.log(
    `${TARGET_MS} ms targets, window min(width, 1000), ${ROUNDS} rounds rotating off / metrics / metrics + tracing, ` +
      `metrics scraped every ${SCRAPE_MS} ms, traces by OTLP/HTTP to an OpenTelemetry Collector on this machine; ` +
      `one dev server in memory (${machine.temporalCli}); ${machine.cpus} × ${machine.cpuModel}, ` +
      `${machine.memoryGiB} GiB, Node ${machine.node}; load average ${machine.loadAverage.join(' ')}`,
  );
  const figures: Record<number, Record<Mode, Run[]>> = {};
  let spansPerTracedTarget = Number.NaN;
  try {
    // Warm-up, one run of each at the widest width, not counted: the figures are steady state. A first minute of
    // wide fan-outs runs slower (JIT, workflow sandboxes, connections, the server's and the workers' heaps growing),
    // by as much as a third on this machine, which would leave the first round's ratios to chance.
    for (const mode of MODES) printRun('warm-up', mode, await runOnce(mode, Math.max(...WIDTHS)));
    for (const width of WIDTHS) {
      const runs: Record<Mode, Run[]> = { off: [], metrics: [], traced: [] };
      figures[width] = runs;
      for (let round = 1; round <= ROUNDS; round++) {
        const first = (round - 1) % MODES.length;
        const order = [...MODES.slice(first), ...MODES.slice(0, first)];
        for (const mode of order) {
          const run = await runOnce(mode, width);
          runs[mode].push(run);
          printRun(`width ${width} round ${round}`, mode, run);
        }
      }
      printWidth(width, runs);
    }
  } finally {
    for (const worker of Object.values(workers)) worker.child.kill('SIGTERM');
    await Promise.all(Object.values(workers).map((worker) => worker.exited)); // the traced one flushes its spans
    await tracing.shutdown();
    // The collector logs a batch once it has taken it in; a moment for the last one's line.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    spansPerTracedTarget = collector.spansReceived() / tracedTargets;
    collector.stop();
    await env.teardown();
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  console.log(`spans received by the collector per traced target: ${spansPerTracedTarget.toFixed(2)}`);
  const calls = (['off', 'on'] as const).map(
    (mode) =>
      JSON.parse(
        execFileSync(process.execPath, [path.join(__dirname, 'metrics-calls.js'), mode], { encoding: 'utf8' }),
      ) as { mode: 'off' | 'on'; histogramRecordMicros: number; counterAddMicros: number },
  );
  for (const { mode, histogramRecordMicros, counterAddMicros } of calls)
    console.log(
      `one worker-side count, metrics ${mode}: histogram record ${histogramRecordMicros.toFixed(2)} µs, ` +
        `counter add ${counterAddMicros.toFixed(2)} µs`,
    );
  const activities = (['off', 'traced'] as const).map(
    (mode) =>
      JSON.parse(
        execFileSync(process.execPath, [path.join(__dirname, 'tracing-calls.js'), mode], { encoding: 'utf8' }),
      ) as { mode: 'off' | 'traced'; activityMicros: number },
  );
  for (const { mode, activityMicros } of activities)
    console.log(`one activity run, ${mode === 'off' ? 'untraced' : 'traced'}: ${activityMicros.toFixed(2)} µs`);
  console.log(
    JSON.stringify({
      bench: 'observability',
      calls,
      activities,
      ...machine,
      targetMs: TARGET_MS,
      rounds: ROUNDS,
      scrapeMs: SCRAPE_MS,
      spansPerTracedTarget: Number(spansPerTracedTarget.toFixed(2)),
      widths: Object.fromEntries(
        Object.entries(figures).map(([width, runs]) => [
          width,
          {
            ...Object.fromEntries(
              MODES.map((mode) => [
                `${mode}TargetsPerSecond`,
                runs[mode].map((run) => Math.round(run.targetsPerSecond)),
              ]),
            ),
            ...Object.fromEntries(
              MODES.map((mode) => [
                `${mode}CpuMsPerTarget`,
                Object.fromEntries(
                  (['worker', 'server', 'collector', 'client'] as const).map((part) => [
                    part,
                    Number(median(runs[mode].map((run) => run[`${part}CpuMsPerTarget`])).toFixed(2)),
                  ]),
                ),
              ]),
            ),
            metricsOverOff: Number(throughputRatio(runs, 'metrics').toFixed(3)),
            tracedOverOff: Number(throughputRatio(runs, 'traced').toFixed(3)),
          },
        ]),
      ),
    }),
  );
}

function printRun(label: string, mode: Mode, run: Run): void {
  console.log(
    `  ${label} ${LABELS[mode]}: ${run.wallSeconds.toFixed(2)} s, ` +
      `${run.targetsPerSecond.toFixed(0)} targets/s, CPU ms/target: worker ${run.workerCpuMsPerTarget.toFixed(2)}, ` +
      `server ${run.serverCpuMsPerTarget.toFixed(2)}, collector ${run.collectorCpuMsPerTarget.toFixed(2)}, ` +
      `client ${run.clientCpuMsPerTarget.toFixed(2)}; ${run.workflowTasks} workflow tasks` +
      (run.forceClosedTasks ? `, ${run.forceClosedTasks} force-closed` : '') +
      (run.timedOutTasks ? `, ${run.timedOutTasks} timed out` : '') +
      (mode === 'off' ? '' : `, ${run.scrapes} scrapes`),
  );
}

/** Each round's throughput in `mode` ÷ that round's with neither metrics nor traces. */
function throughputRatios(runs: Record<Mode, Run[]>, mode: Exclude<Mode, 'off'>): number[] {
  return pairRatios(
    runs[mode].map((run) => run.targetsPerSecond),
    runs.off.map((run) => run.targetsPerSecond),
  );
}

/** The median of the rounds' throughput ratios. */
function throughputRatio(runs: Record<Mode, Run[]>, mode: Exclude<Mode, 'off'>): number {
  return median(throughputRatios(runs, mode));
}

/** The lowest and the highest of the rounds' throughput ratios: how far one round's figure can be trusted. */
function pairRatioRange(runs: Record<Mode, Run[]>, mode: Exclude<Mode, 'off'>): string {
  const ratios = throughputRatios(runs, mode);
  return `${fixed(Math.min(...ratios), 2)}–${fixed(Math.max(...ratios), 2)}`;
}

function printWidth(width: number, runs: Record<Mode, Run[]>): void {
  const rows = MODES.map((mode) => [
    LABELS[mode],
    fixed(median(runs[mode].map((run) => run.wallSeconds)), 2),
    fixed(median(runs[mode].map((run) => run.targetsPerSecond)), 0),
    fixed(median(runs[mode].map((run) => run.workerCpuMsPerTarget)), 2),
    fixed(median(runs[mode].map((run) => run.serverCpuMsPerTarget)), 2),
    fixed(median(runs[mode].map((run) => run.collectorCpuMsPerTarget)), 2),
    fixed(median(runs[mode].map((run) => run.clientCpuMsPerTarget)), 2),
    mode === 'off' ? '' : `${fixed(throughputRatio(runs, mode), 3)} (${pairRatioRange(runs, mode)})`,
  ]);
  console.log(`\nwidth ${width}: medians of ${runs.off.length} rounds`);
  console.log(
    formatTable(
      [
        'worker',
        'wall s',
        'targets/s',
        'CPU ms/target: worker',
        'server',
        'collector',
        'client',
        'throughput ÷ off (median of pairs, range)',
      ],
      rows,
    ),
  );
  // On a machine the fan-out keeps busy, the CPU a target takes is what bounds its throughput, and a figure the
  // machine's drift moves less than wall time.
  const total = (mode: Mode) => median(runs[mode].map(totalCpuMsPerTarget));
  const off = total('off');
  const others = (['metrics', 'traced'] as const).map((mode) => {
    const cpu = total(mode);
    return `, ${LABELS[mode]} ${fixed(cpu, 2)} (${signedPercent(cpu / off - 1)})`;
  });
  console.log(`CPU ms per target, all processes (median): off ${fixed(off, 2)}${others.join('')}`);
  console.log();
}

function totalCpuMsPerTarget(run: Run): number {
  return run.workerCpuMsPerTarget + run.serverCpuMsPerTarget + run.collectorCpuMsPerTarget + run.clientCpuMsPerTarget;
}

function signedPercent(fraction: number): string {
  return `${fraction >= 0 ? '+' : ''}${(fraction * 100).toFixed(1)}%`;
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
