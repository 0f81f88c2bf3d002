/**
 * `npm run bench:rate-window`: what a service limited to N a second receives in its busiest one-second window, on
 * the official dev server as `startDevServer` starts it (new matcher, fairness on, one partition), with two fan-out
 * workers in this process (each on a connection of its own) and three fan-outs started at once. Measured for issue
 * 32, to compare ways of keeping every one-second window at N against the sustained rate each leaves:
 *   - server N: `limits: { perSecond: N }` as the library sets it (maxTaskQueueActivitiesPerSecond N);
 *   - server N/2: the server's limit set to half the rate (its bucket then holds N/2, so burst + refill is N);
 *   - server N, workers N/2 each: the server's limit plus `maxActivitiesPerSecond` N/2 on each of the two workers
 *     (a per-worker limit: it holds across workers only while exactly two serve the queue);
 *   - window limiter N: `limits: { perSecond: N, burst: false }`, each call on a lease of the service's window
 *     limiter workflow (the server dispatches the targets at once; the leases space the calls).
 * Each case runs a first wave (WAVE fan-outs of WIDTH targets), waits IDLE_MS with the queue empty, then a second
 * wave of SECOND_WIDTH targets each, since the server's bucket fills again while idle. A benchmark: it asserts nothing.
 *   npm run bench:rate-window   BENCH_RATE_PER_SECOND=20 (default)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import type { WorkerOptions, WorkflowBundleOption } from '@temporalio/worker';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { FanoutClient } from '../src/client';
import { startDevServer } from '../src/local/temporal-servers';
import { Registry, defineCallback, defineService } from '../src/registry';
import type { ServiceLimits } from '../src/registry';
import { LocalBlobStore } from '../src/store/local-store';
import { fanoutDataConverter } from '../src/store/payload-driver';
import { startWorkersApart } from '../src/testing/workers-apart';
import { bundleFanoutWorkflows } from '../src/worker/workflow-bundle';
import { describeMachine } from './machine';
import { busiestSecond } from './stats';
import { fixed, formatTable } from './table';

const N = Number(process.env.BENCH_RATE_PER_SECOND ?? 20);
const WORKERS = 2;
const WAVE = 3;
const WIDTH = 100;
const SECOND_WIDTH = 20;
const IDLE_MS = 3000;

interface Case {
  name: string;
  /** The service's limits: `perSecond` alone is the rate the server is asked for. */
  limits: ServiceLimits;
  workerOptions: Partial<WorkerOptions>;
}

const CASES: Case[] = [
  { name: 'server N', limits: { perSecond: N }, workerOptions: {} },
  { name: 'server N/2', limits: { perSecond: N / 2 }, workerOptions: {} },
  {
    name: 'server N, workers N/2 each',
    limits: { perSecond: N },
    workerOptions: { maxActivitiesPerSecond: N / WORKERS },
  },
  { name: 'window limiter N', limits: { perSecond: N, burst: false }, workerOptions: {} },
];

interface Wave {
  received: number;
  /** The busiest one-second window of the targets' ActivityTaskStarted times: when the server dispatched them. */
  busiestSecondAtServer: number;
  busiestSecond: number;
  firstSecond: number;
  busiestAfterFirstSecond: number;
  /** Calls after the first second over the time they took: the sustained rate once the burst is spent. */
  sustainedPerSecond: number;
}

/** An event's time in ms: an ActivityTaskStarted event's is when the server dispatched the task. */
function millis(e: temporal.api.history.v1.IHistoryEvent): number {
  return Number(e.eventTime!.seconds) * 1000 + (e.eventTime!.nanos ?? 0) / 1e6;
}

function measure(times: number[], atServer: number[]): Wave {
  const sorted = [...times].sort((a, b) => a - b);
  const later = sorted.filter((t) => t >= sorted[0] + 1000);
  const laterSpan = (later[later.length - 1] - later[0]) / 1000;
  return {
    received: sorted.length,
    busiestSecondAtServer: busiestSecond([...atServer].sort((a, b) => a - b)),
    busiestSecond: busiestSecond(sorted),
    firstSecond: sorted.length - later.length,
    busiestAfterFirstSecond: busiestSecond(later),
    sustainedPerSecond: (later.length - 1) / laterSpan,
  };
}

async function runCase(
  address: string,
  client: Client,
  store: LocalBlobStore,
  workflowBundle: WorkflowBundleOption,
  c: Case,
  index: number,
): Promise<{ first: Wave; second: Wave }> {
  const received: number[] = [];
  const registry = new Registry(
    [
      defineService({
        name: 'limited',
        limits: c.limits,
        handler: async () => {
          received.push(Date.now());
          return 'ok';
        },
      }),
    ],
    [defineCallback({ name: 'done', handler: async () => undefined })],
  );
  const taskQueue = `rate-${index}`;
  const workers = await startWorkersApart(WORKERS, address, {
    registry,
    store,
    taskQueue,
    workflowBundle,
    ...c.workerOptions,
  });
  const fanout = new FanoutClient({ client, registry, store, taskQueue });
  const wave = async (prefix: string, width: number): Promise<Wave> => {
    received.length = 0;
    const cids = await Promise.all(
      Array.from({ length: WAVE }, (_, f) => {
        const ids = Array.from({ length: width }, (_, i) => `${prefix}${f}-${i}`);
        return fanout.invoke(Object.fromEntries(ids.map((id) => [id, null])), ['done'], {
          targetOptions: Object.fromEntries(ids.map((id) => [id, { service: 'limited' }])),
          source: `${prefix}${f}`,
        });
      }),
    );
    for (const cid of cids) await fanout.result(cid);
    // Only the targets' activities: the fan-out's own (records, the final callback) run on the fan-out's queue.
    const scheduled = new Set<string>();
    const atServer: number[] = [];
    for (const cid of cids) {
      const history = await client.workflow.getHandle(cid).fetchHistory();
      for (const e of history.events ?? []) {
        const attributes = e.activityTaskScheduledEventAttributes;
        if (attributes?.activityType?.name === 'limited') scheduled.add(`${cid}:${String(e.eventId)}`);
        const started = e.activityTaskStartedEventAttributes;
        if (started && scheduled.has(`${cid}:${String(started.scheduledEventId)}`)) atServer.push(millis(e));
      }
    }
    return measure(received, atServer);
  };
  try {
    const first = await wave('a', WIDTH);
    await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
    const second = await wave('b', SECOND_WIDTH);
    return { first, second };
  } finally {
    await workers.stop();
  }
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  console.log(JSON.stringify(describeMachine()));
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'fanout-bench-rate-'));
  const store = new LocalBlobStore(path.join(scratch, 'store'));
  const env = await startDevServer({ dataConverter: fanoutDataConverter(store) });
  const workflowBundle = await bundleFanoutWorkflows();
  const results: { case: Case; first: Wave; second: Wave }[] = [];
  try {
    for (const [index, c] of CASES.entries()) {
      const { first, second } = await runCase(
        env.connection.options.address,
        env.client,
        store,
        workflowBundle,
        c,
        index,
      );
      results.push({ case: c, first, second });
    }
  } finally {
    await env.teardown();
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  console.log(
    formatTable(
      [
        `N = ${N}/s`,
        'busiest second',
        'at the server',
        'first second',
        'busiest after the first',
        'sustained',
        `after ${IDLE_MS / 1000} s idle: busiest (at the server)`,
      ],
      results.map(({ case: c, first, second }) => [
        c.name,
        String(first.busiestSecond),
        String(first.busiestSecondAtServer),
        String(first.firstSecond),
        String(first.busiestAfterFirstSecond),
        `${fixed(first.sustainedPerSecond, 1)}/s`,
        `${second.busiestSecond} (${second.busiestSecondAtServer})`,
      ]),
    ),
  );
  console.log(JSON.stringify({ perSecond: N, workers: WORKERS, fanouts: WAVE, width: WIDTH, results }));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
