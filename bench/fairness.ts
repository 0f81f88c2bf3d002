/**
 * `npm run bench:fairness`: many fan-outs on one task queue, on the official dev server as `startDevServer` starts it
 * (the new matcher, fairness on, one partition per task queue), with two fan-out workers in this process, each on a
 * NativeConnection of its own and SLOTS activity slots, so that a wide fan-out's targets queue. Every target calls a
 * service of SERVICE_MS; batching is off (one activity per target).
 *   1. Idle: a SMALL-target fan-out of source B alone, its wall time (median of ROUNDS).
 *   2. Under load: a WIDE-target fan-out of source A started first (maxConcurrency WIDE_CONCURRENCY, most of it
 *      queued), then the same fan-out of source B, ROUNDS times while A runs: B's wall time and its ratio to idle.
 *   3. The same on a second dev server with `matching.enableFairness=false` (first come first served).
 *   4. Priority: B at priority 1 behind A at priority 3, both of one source (so fairness does not help).
 *   5. Batched: A's targets run BATCH to an activity (`batching`), B's one each as before, both of their sources.
 *   6. Rate limit: a service limited to PER_SECOND a second, LIMITED_FANOUTS fan-outs of LIMITED_WIDTH targets at
 *      once: the busiest one-second window at the receiver, the busiest after the first second, the average rate.
 * Each case runs on a task queue (and a pair of workers) of its own; A is terminated once B's runs are measured.
 * Prints the machine, a table and, last, one JSON object. A benchmark: it asserts nothing.
 *   npm run bench:fairness   BENCH_FAIRNESS_WIDE=20000 (default)  BENCH_FAIRNESS_ROUNDS=3 (default)
 *                            BENCH_FAIRNESS_SERVICE_MS=20 (default)
 *                            BENCH_FAIRNESS_CASES=fair,priority,rate,fifo (default; also: batched)
 *                            BENCH_WORKER_OPTIONS='{"maxConcurrentWorkflowTaskExecutions":4}' (both workers)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import type { WorkerOptions, WorkflowBundleOption } from '@temporalio/worker';
import { FanoutClient } from '../src/client';
import type { FanoutCid } from '../src/client';
import type { FanoutProgress } from '../src/contracts';
import { startDevServer } from '../src/local/temporal-servers';
import { Registry, defineCallback, defineService } from '../src/registry';
import { LocalBlobStore } from '../src/store/local-store';
import { fanoutDataConverter } from '../src/store/payload-driver';
import { startWorkersApart } from '../src/testing/workers-apart';
import { bundleFanoutWorkflows } from '../src/worker/workflow-bundle';
import { describeMachine } from './machine';
import { busiestSecond, median } from './stats';
import { fixed, formatTable } from './table';

const WIDE = Number(process.env.BENCH_FAIRNESS_WIDE ?? 20_000);
const WIDE_CONCURRENCY = 2_000;
const SMALL = 10;
const ROUNDS = Number(process.env.BENCH_FAIRNESS_ROUNDS ?? 3);
/** How long the service every target calls takes: short, so that A's targets keep the machine's CPU busy. */
const SERVICE_MS = Number(process.env.BENCH_FAIRNESS_SERVICE_MS ?? 20);
/** The cases to run, of fair, priority, rate, fifo (these by default) and batched. */
const CASES = new Set((process.env.BENCH_FAIRNESS_CASES ?? 'fair,priority,rate,fifo').split(','));
/** maxConcurrentActivityTaskExecutions of each of the two workers. */
const SLOTS = 50;
const WORKERS = 2;
/** Both workers' options: SLOTS activity slots, and what `BENCH_WORKER_OPTIONS` (JSON) adds or overrides. */
const WORKER_OPTIONS: Partial<WorkerOptions> = {
  maxConcurrentActivityTaskExecutions: SLOTS,
  ...(JSON.parse(process.env.BENCH_WORKER_OPTIONS ?? '{}') as Partial<WorkerOptions>),
};
/** A's targets per activity in the batched case. */
const BATCH = 50;
const PER_SECOND = 20;
const LIMITED_WIDTH = 100;
const LIMITED_FANOUTS = 3;
/** A's targets in flight (scheduled, queued or running) before B starts: most of its window. */
const LOADED = Math.min(WIDE, WIDE_CONCURRENCY) * 0.9;
const RUN_DEADLINE_MS = 180_000;

const received: number[] = [];
const callService = async (): Promise<string> => new Promise((resolve) => setTimeout(() => resolve('ok'), SERVICE_MS));

const registry = new Registry(
  [
    defineService({ name: 'work', handler: callService }),
    defineService({
      name: 'limited',
      limits: { perSecond: PER_SECOND },
      handler: async () => {
        received.push(Date.now());
        return callService();
      },
    }),
  ],
  [defineCallback({ name: 'done', handler: async () => undefined })],
);

interface Server {
  env: TestWorkflowEnvironment;
  store: LocalBlobStore;
}

interface Case {
  fanout: FanoutClient;
  stop(): Promise<void>;
}

/** Two fan-out workers on a task queue of their own, each on a connection of its own, as two processes would be. */
async function startCase(server: Server, taskQueue: string, workflowBundle: WorkflowBundleOption): Promise<Case> {
  const workers = await startWorkersApart(WORKERS, server.env.connection.options.address, {
    registry,
    store: server.store,
    taskQueue,
    workflowBundle,
    ...WORKER_OPTIONS,
  });
  const fanout = new FanoutClient({ client: server.env.client, registry, store: server.store, taskQueue });
  return { fanout, stop: () => workers.stop() };
}

/** Runs `work` on a case of its own (`startCase`), stopping its workers after, whatever happens. */
async function inCase<T>(
  server: Server,
  taskQueue: string,
  workflowBundle: WorkflowBundleOption,
  work: (fanout: FanoutClient) => Promise<T>,
): Promise<T> {
  const run = await startCase(server, taskQueue, workflowBundle);
  try {
    return await work(run.fanout);
  } finally {
    await run.stop();
  }
}

const targets = (prefix: string, width: number, service = 'work') => ({
  targets: Object.fromEntries(Array.from({ length: width }, (_, i) => [`${prefix}${i}`, null])),
  targetOptions: Object.fromEntries(Array.from({ length: width }, (_, i) => [`${prefix}${i}`, { service }])),
});

async function withinDeadline<T>(what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not done in ${RUN_DEADLINE_MS / 1000} s`)), RUN_DEADLINE_MS);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** One run of B: its wall time, and where that time went by its history. */
interface Small {
  seconds: number;
  /**
   * Its run by its history, from started to completed: B as the server served it, without this process's own
   * delays (its workers share this process's event loop with the client that starts B and waits for its result).
   */
  runSeconds: number;
  /** The longest any of its activities (targets, final callback) waited in the task queue, scheduled to started. */
  activityWaitMs: number;
  /** Its workflow tasks, summed: waiting in the task queue (scheduled to started), then in the worker. */
  workflowTaskQueueMs: number;
  workflowTaskWorkerMs: number;
}

function whereTimeWent(history: temporal.api.history.v1.IHistory): Omit<Small, 'seconds'> {
  const millis = (e: temporal.api.history.v1.IHistoryEvent) =>
    Number(e.eventTime!.seconds) * 1000 + (e.eventTime!.nanos ?? 0) / 1e6;
  const at = new Map<string, number>();
  const events = history.events ?? [];
  const figures = {
    runSeconds: (millis(events[events.length - 1]) - millis(events[0])) / 1000,
    activityWaitMs: 0,
    workflowTaskQueueMs: 0,
    workflowTaskWorkerMs: 0,
  };
  for (const e of events) {
    at.set(String(e.eventId), millis(e));
    const activity = e.activityTaskStartedEventAttributes;
    if (activity)
      figures.activityWaitMs = Math.max(figures.activityWaitMs, millis(e) - at.get(String(activity.scheduledEventId))!);
    const started = e.workflowTaskStartedEventAttributes;
    if (started) figures.workflowTaskQueueMs += millis(e) - at.get(String(started.scheduledEventId))!;
    const completed = e.workflowTaskCompletedEventAttributes;
    if (completed) figures.workflowTaskWorkerMs += millis(e) - at.get(String(completed.startedEventId))!;
  }
  return figures;
}

async function runSmall(fanout: FanoutClient, client: Client, round: string, extra: object): Promise<Small> {
  const started = performance.now();
  const { targets: small, targetOptions } = targets(`b${round}-`, SMALL);
  const cid = await fanout.invoke(small, ['done'], { targetOptions, ...extra });
  const result = await withinDeadline(`B ${round}`, fanout.result(cid));
  const seconds = (performance.now() - started) / 1000;
  if (result.counts.ok !== SMALL) throw new Error(`B ${round}: ${result.counts.ok} of ${SMALL} ok`);
  return { seconds, ...whereTimeWent(await client.workflow.getHandle(cid).fetchHistory()) };
}

async function smallRuns(fanout: FanoutClient, client: Client, label: string, extra: object): Promise<Small[]> {
  const runs: Small[] = [];
  for (let round = 0; round < ROUNDS; round++) runs.push(await runSmall(fanout, client, `${label}${round}`, extra));
  return runs;
}

interface Loaded {
  /** B's runs. */
  runs: Small[];
  /** A's targets in flight when B's first run started. */
  aInFlight: number;
  /** A's targets settled while B's runs ran, and whether A was still running after them. */
  aSettledMeanwhile: number;
  aStillRunning: boolean;
}

/** Starts A, waits until most of its window is in flight, runs B ROUNDS times, then terminates A. */
async function underLoad(server: Server, fanout: FanoutClient, label: string, a: object, b: object): Promise<Loaded> {
  const { targets: wide, targetOptions } = targets(`a${label}-`, WIDE);
  const cid: FanoutCid = await fanout.invoke(wide, ['done'], { targetOptions, maxConcurrency: WIDE_CONCURRENCY, ...a });
  let before: FanoutProgress = await fanout.progress(cid);
  const waitUntil = Date.now() + 120_000;
  while (before.running < LOADED && Date.now() < waitUntil) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    before = await fanout.progress(cid);
  }
  const runs = await smallRuns(fanout, server.env.client, label, b);
  const after = await fanout.progress(cid);
  await server.env.client.workflow.getHandle(cid).terminate('bench: B measured');
  return {
    runs,
    aInFlight: before.running,
    aSettledMeanwhile: after.settled - before.settled,
    aStillRunning: after.state === 'running',
  };
}

interface RateLimit {
  wallSeconds: number;
  received: number;
  busiestSecond: number;
  busiestAfterFirstSecond: number;
  firstSecond: number;
  averagePerSecond: number;
  averageAfterFirstSecond: number;
}

async function rateLimit(fanout: FanoutClient): Promise<RateLimit> {
  received.length = 0;
  const started = performance.now();
  const cids = await Promise.all(
    Array.from({ length: LIMITED_FANOUTS }, (_, i) => {
      const { targets: limited, targetOptions } = targets(`r${i}-`, LIMITED_WIDTH, 'limited');
      return fanout.invoke(limited, ['done'], { targetOptions, source: `r${i}` });
    }),
  );
  for (const cid of cids) await withinDeadline('rate limit', fanout.result(cid));
  const wallSeconds = (performance.now() - started) / 1000;
  const times = [...received].sort((x, y) => x - y);
  const spanSeconds = (times[times.length - 1] - times[0]) / 1000;
  const later = times.filter((t) => t >= times[0] + 1000);
  return {
    wallSeconds,
    received: times.length,
    busiestSecond: busiestSecond(times),
    busiestAfterFirstSecond: busiestSecond(later),
    firstSecond: times.length - later.length,
    averagePerSecond: times.length / spanSeconds,
    averageAfterFirstSecond: later.length / (spanSeconds - 1),
  };
}

async function startServer(scratch: string, fairness: boolean): Promise<Server> {
  const store = new LocalBlobStore(path.join(scratch, fairness ? 'store-fair' : 'store-fifo'));
  const env = await startDevServer({ dataConverter: fanoutDataConverter(store), fairness });
  return { env, store };
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const machine = describeMachine();
  console.log(JSON.stringify(machine));
  console.log(
    `${WORKERS} fan-out workers in this process, each on its own connection, options ${JSON.stringify(WORKER_OPTIONS)}, ` +
      `one task queue per case; targets call a ${SERVICE_MS} ms service, one activity each (no batching); B: ${SMALL} ` +
      `targets, median of ${ROUNDS}; A: ${WIDE} targets, maxConcurrency ${WIDE_CONCURRENCY}, B starts once ` +
      `${LOADED} of A's are in flight; rate limit: ${LIMITED_FANOUTS} fan-outs of ${LIMITED_WIDTH} targets of a ` +
      `service limited to ${PER_SECOND}/s`,
  );
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'fanout-bench-fairness-'));
  const workflowBundle = await bundleFanoutWorkflows();
  const started = Date.now();
  try {
    // Fairness on: the dev server as the project starts it.
    let server = await startServer(scratch, true);
    let idle: Small[];
    let fair: Loaded;
    let priority: Loaded | undefined;
    let batched: Loaded | undefined;
    let limits: RateLimit | undefined;
    const loaded = (label: string, a: object, b: object) =>
      inCase(server, label, workflowBundle, (fanout) => underLoad(server, fanout, label, a, b));
    // B alone, then beside A of another source, on the server now running.
    const idleThenLoaded = (label: string) =>
      inCase(server, label, workflowBundle, async (fanout): Promise<[Small[], Loaded]> => [
        await smallRuns(fanout, server.env.client, 'idle', { source: 'B' }),
        await underLoad(server, fanout, label, { source: 'A' }, { source: 'B' }),
      ]);
    try {
      [idle, fair] = await idleThenLoaded('fair');
      if (CASES.has('priority'))
        priority = await loaded('priority', { source: 'same', priority: 3 }, { source: 'same', priority: 1 });
      if (CASES.has('batched'))
        batched = await loaded('batched', { source: 'A', batching: { maxTargets: BATCH } }, { source: 'B' });
      if (CASES.has('rate')) limits = await inCase(server, 'limits', workflowBundle, rateLimit);
    } finally {
      await server.env.teardown();
    }
    // Fairness off: first come first served.
    let fifoIdle: Small[] | undefined;
    let fifo: Loaded | undefined;
    if (CASES.has('fifo')) {
      server = await startServer(scratch, false);
      try {
        [fifoIdle, fifo] = await idleThenLoaded('fifo');
      } finally {
        await server.env.teardown();
      }
    }

    const wall = (runs: Small[]): number => median(runs.map((run) => run.seconds));
    const runWall = (runs: Small[]): number => median(runs.map((run) => run.runSeconds));
    const of = (runs: Small[], key: Exclude<keyof Small, 'seconds' | 'runSeconds'>): string =>
      fixed(median(runs.map((run) => run[key])), 0);
    const idleMedian = wall(idle);
    const fifoIdleMedian = fifoIdle ? wall(fifoIdle) : undefined;
    const row = (what: string, runs: Small[], against: number | undefined, loaded?: Loaded): string[] => [
      what,
      `${fixed(wall(runs), 2)} s`,
      runs.map((run) => run.seconds.toFixed(2)).join(', '),
      against === undefined ? '—' : `${fixed(wall(runs) / against, 2)}×`,
      `${fixed(runWall(runs), 2)} s`,
      against === undefined ? '—' : `${fixed(runWall(runs) / runWall(runs === fifo?.runs ? fifoIdle! : idle), 2)}×`,
      of(runs, 'activityWaitMs'),
      of(runs, 'workflowTaskQueueMs'),
      of(runs, 'workflowTaskWorkerMs'),
      loaded ? String(loaded.aInFlight) : '—',
      loaded ? `${loaded.aSettledMeanwhile}${loaded.aStillRunning ? '' : ' (A ended)'}` : '—',
    ];
    console.log(
      formatTable(
        [
          'B, 10 targets',
          'wall (median)',
          'runs (s)',
          'of idle',
          'run by its history',
          'of idle',
          'longest activity wait (ms)',
          'workflow tasks queued (ms)',
          'workflow tasks in worker (ms)',
          "A's in flight",
          "A's settled meanwhile",
        ],
        [
          row('idle, fairness on', idle, undefined),
          row('beside A, fairness on', fair.runs, idleMedian, fair),
          ...(fifoIdle && fifo
            ? [
                row('idle, fairness off', fifoIdle, undefined),
                row('beside A, fairness off (first come first served)', fifo.runs, fifoIdleMedian, fifo),
              ]
            : []),
          ...(priority ? [row('priority 1 behind A at 3, one source', priority.runs, idleMedian, priority)] : []),
          ...(batched ? [row(`beside A batched ${BATCH} a task, fairness on`, batched.runs, idleMedian, batched)] : []),
        ],
      ),
    );
    if (limits)
      console.log(
        formatTable(
          [
            'rate limit',
            'received',
            'wall',
            'first second',
            'busiest second',
            'busiest after the first',
            'average',
            'average after the first',
          ],
          [
            [
              `${PER_SECOND}/s, ${LIMITED_FANOUTS} × ${LIMITED_WIDTH} targets`,
              String(limits.received),
              `${limits.wallSeconds.toFixed(1)} s`,
              String(limits.firstSecond),
              String(limits.busiestSecond),
              String(limits.busiestAfterFirstSecond),
              `${limits.averagePerSecond.toFixed(1)}/s`,
              `${limits.averageAfterFirstSecond.toFixed(1)}/s`,
            ],
          ],
        ),
      );
    console.log(`whole run ${((Date.now() - started) / 1000).toFixed(0)} s`);
    const round3 = (value: number): number => Math.round(value * 1000) / 1000;
    console.log(
      JSON.stringify({
        date: machine.date,
        wide: WIDE,
        wideConcurrency: WIDE_CONCURRENCY,
        workerOptions: WORKER_OPTIONS,
        serviceMs: SERVICE_MS,
        idleSeconds: round3(idleMedian),
        fairSeconds: round3(wall(fair.runs)),
        fairRatio: round3(wall(fair.runs) / idleMedian),
        idleRunSeconds: round3(runWall(idle)),
        fairRunSeconds: round3(runWall(fair.runs)),
        fairRunRatio: round3(runWall(fair.runs) / runWall(idle)),
        ...(fifo && fifoIdleMedian !== undefined
          ? {
              fifoIdleSeconds: round3(fifoIdleMedian),
              fifoSeconds: round3(wall(fifo.runs)),
              fifoRatio: round3(wall(fifo.runs) / fifoIdleMedian),
            }
          : {}),
        ...(priority
          ? { prioritySeconds: round3(wall(priority.runs)), priorityRatio: round3(wall(priority.runs) / idleMedian) }
          : {}),
        ...(batched
          ? {
              batch: BATCH,
              batchedSeconds: round3(wall(batched.runs)),
              batchedRatio: round3(wall(batched.runs) / idleMedian),
              batchedRunRatio: round3(runWall(batched.runs) / runWall(idle)),
            }
          : {}),
        ...(limits
          ? {
              perSecond: PER_SECOND,
              rateReceived: limits.received,
              rateFirstSecond: limits.firstSecond,
              rateBusiestSecond: limits.busiestSecond,
              rateBusiestAfterFirstSecond: limits.busiestAfterFirstSecond,
              rateAverage: round3(limits.averagePerSecond),
              rateAverageAfterFirstSecond: round3(limits.averageAfterFirstSecond),
            }
          : {}),
        wholeRunSeconds: Math.round((Date.now() - started) / 1000),
      }),
    );
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
