/**
 * Side-by-side fan-out benchmark (issue 19), alternating in one run on ONE official Temporal dev server in memory,
 * for each width of 50 ms targets and a window of min(width, 1,000):
 *   A  this project's fan-out (FanoutClient.invoke, one no-op final callback, no target callbacks);
 *   B  the bare-Temporal floor: a minimal workflow running the same targets as plain activities, then one more
 *      (the final callback's share);
 *   C  the same floor with local activities as targets (the last activity plain, as the fan-out's callbacks are);
 *   D  BullMQ FlowProducer on a private Redis (one parent, N children, the parent reads the children's values);
 *   E  this project's fan-out with local targets (`targetOptions.local`), otherwise as A;
 *   F  this project's fan-out with batched targets (`batching: { maxTargets: 100 }`), otherwise as A.
 * Per run: wall time, CPU ms per target of this process (the worker) and of the server process (Temporal's dev
 * server for A-C, E and F, redis-server for D), peak RSS of each, history events per target (over every execution: a
 * sharded fan-out's shards too) and workflow tasks force-closed. Prints a table of medians per width and the medians
 * of the pair ratios A/B, A/C, A/D, E/C, E/D, F/D, F/A; its last line is one JSON object. A run that passes RUN_DEADLINE_MS is
 * stopped and the bench fails.
 *   npm run bench        BENCH_WIDTHS=100,1000,5000 (default)  BENCH_ROUNDS=3 (default)  BENCH_CONTENDERS=A,B,C,D,E,F
 *                        BENCH_WORKER_OPTIONS='{"maxConcurrentActivityTaskPolls":5}' (both Temporal workers)
 */
import os from 'node:os';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { FanoutClient } from '../src/client';
import { createFanoutWorker } from '../src/worker/create-worker';
import { bundleFanoutWorkflows } from '../src/worker/workflow-bundle';
import { startDevServer } from '../src/local/temporal-servers';
import { startBullmqFlow } from './bullmq-flow';
import { bundleFloorWorkflows, createFloorWorker, runFloor } from './floor';
import { describeMachine } from './machine';
import { findChildPids } from './proc';
import { startRedis } from './redis-server';
import type { RunFigures } from './sampler';
import { measureRun } from './sampler';
import { median, medianPairRatio } from './stats';
import { fixed, formatTable } from './table';
import { fanoutExecutionIds, historyTotals } from './workflow-tasks';
import {
  BENCH_FINAL,
  BENCH_SERVICE,
  BENCH_WORKER_OPTIONS,
  RUN_DEADLINE_MS,
  TARGET_MS,
  benchRegistry,
  windowFor,
  withinDeadline,
} from './workload';

const WIDTHS = (process.env.BENCH_WIDTHS ?? '100,1000,5000').split(',').map(Number);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const WARMUP_WIDTH = 500;

const CONTENDERS = {
  A: 'A fan-out (this project)',
  B: 'B bare Temporal, activities',
  C: 'C bare Temporal, local activities',
  D: 'D BullMQ FlowProducer, Redis',
  E: 'E fan-out, local targets (this project)',
  F: 'F fan-out, batched targets (this project)',
} as const;
/** F's batches: at most this many targets per `fanout.runBatch` activity. */
const F_BATCH_TARGETS = 100;
type Contender = keyof typeof CONTENDERS;
const ORDER = (process.env.BENCH_CONTENDERS ?? 'A,B,C,D,E,F').split(',').map((name) => {
  if (!Object.hasOwn(CONTENDERS, name)) throw new Error(`BENCH_CONTENDERS: no contender ${name}; they are A to F`);
  return name as Contender;
});
const RATIOS = (
  [
    ['A', 'B'],
    ['A', 'C'],
    ['A', 'D'],
    ['E', 'C'],
    ['E', 'D'],
    ['F', 'D'],
    ['F', 'A'],
  ] as const
).filter(([one, other]) => ORDER.includes(one) && ORDER.includes(other));

interface Run extends RunFigures {
  /** Over every execution of the run (a sharded fan-out's shards too). */
  eventsPerTarget?: number;
  /** Workflow tasks the server closed while the worker held them (more than 100 events buffered meanwhile). */
  forceClosedTasks?: number;
}

type Medians = { [K in keyof Run]: number | undefined };

function medians(runs: Run[]): Medians {
  const of = (key: keyof Run): number | undefined =>
    runs.every((run) => run[key] !== undefined) ? median(runs.map((run) => run[key]!)) : undefined;
  return {
    wallSeconds: of('wallSeconds'),
    workerCpuMsPerTarget: of('workerCpuMsPerTarget'),
    serverCpuMsPerTarget: of('serverCpuMsPerTarget'),
    workerPeakRssMiB: of('workerPeakRssMiB'),
    serverPeakRssMiB: of('serverPeakRssMiB'),
    eventsPerTarget: of('eventsPerTarget'),
    forceClosedTasks: of('forceClosedTasks'),
  };
}

const round3 = (value: number | undefined): number | null =>
  value === undefined ? null : Math.round(value * 1000) / 1000;

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const machine = describeMachine({ redis: true });
  const env = await startDevServer();
  const [temporalPid] = findChildPids(process.pid, /^temporal$/);
  if (temporalPid === undefined)
    throw new Error('cannot find the dev server process (a `temporal` child of this process)');
  const redis = await startRedis();
  const bullmq = await startBullmqFlow(redis.port);

  const registry = benchRegistry();
  const fanoutWorker = await createFanoutWorker({
    connection: env.nativeConnection,
    registry,
    workflowBundle: await bundleFanoutWorkflows(),
    ...BENCH_WORKER_OPTIONS,
  });
  const floorWorker = await createFloorWorker(env.nativeConnection, await bundleFloorWorkflows());
  const fanout = new FanoutClient({ client: env.client, registry });

  const historyFigures = async (
    workflowIds: string[],
    width: number,
  ): Promise<Pick<Run, 'eventsPerTarget' | 'forceClosedTasks'>> => {
    const { events, forceClosed } = await historyTotals(env.client, workflowIds);
    return { eventsPerTarget: events / width, forceClosedTasks: forceClosed };
  };

  const runOnce = async (contender: Contender, width: number): Promise<Run> => {
    const window = windowFor(width);
    switch (contender) {
      case 'A':
      case 'E':
      case 'F': {
        const names = Array.from({ length: width }, (_, i) => `t${i}`);
        const targets = Object.fromEntries(names.map((name, i) => [name, i]));
        const local = contender === 'E';
        const batching = contender === 'F' ? { maxTargets: F_BATCH_TARGETS } : undefined;
        const targetOptions = Object.fromEntries(names.map((name) => [name, { service: BENCH_SERVICE, local }]));
        const { figures, value: cid } = await measureRun(temporalPid, width, async () => {
          const cid = await fanout.invoke(targets, [BENCH_FINAL], {
            targetOptions,
            maxConcurrency: window,
            ...(batching && { batching }),
          });
          const result = await withinDeadline(fanout.result(cid), `${contender} at ${width}`, () =>
            env.client.workflow.getHandle(cid).terminate('the bench run passed its deadline'),
          );
          const ok = Object.values(result.targets).filter((status) => status === 'ok').length;
          if (ok !== width) throw new Error(`fan-out ${width}: only ${ok} targets ok`);
          return cid;
        });
        return {
          ...figures,
          ...(await historyFigures(fanoutExecutionIds(cid, width, 0, window, batching?.maxTargets), width)),
        };
      }
      case 'B':
      case 'C': {
        const kind = contender === 'B' ? 'plain' : 'local';
        const { figures, value: workflowId } = await measureRun(temporalPid, width, () =>
          runFloor(env.client, kind, width, window, RUN_DEADLINE_MS),
        );
        return { ...figures, ...(await historyFigures([workflowId], width)) };
      }
      case 'D':
        return (
          await measureRun(redis.pid, width, () => withinDeadline(bullmq.run(width), `D at ${width}`, async () => {}))
        ).figures;
    }
  };

  console.log(
    `${TARGET_MS} ms targets, window min(width, 1000), ${ROUNDS} rounds alternating ${ORDER.join(' ')}; ` +
      `one dev server in memory (${machine.temporalCli}), ${machine.redis ?? 'redis-server'}, BullMQ ${machine.bullmq}; ` +
      `${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGiB} GiB, Node ${machine.node}; ` +
      `load average ${machine.loadAverage.join(' ')}; worker options ${JSON.stringify(BENCH_WORKER_OPTIONS)}`,
  );
  const figures: Record<number, Record<Contender, Run[]>> = {};
  try {
    await fanoutWorker.runUntil(() =>
      floorWorker.runUntil(async () => {
        // Warm-up (JIT, workflow sandboxes, connections, Redis scripts): the figures are steady state.
        for (const contender of ORDER) await runOnce(contender, WARMUP_WIDTH);
        for (const width of WIDTHS) {
          const runs: Record<Contender, Run[]> = { A: [], B: [], C: [], D: [], E: [], F: [] };
          figures[width] = runs;
          for (let round = 1; round <= ROUNDS; round++) {
            for (const contender of ORDER) {
              const run = await runOnce(contender, width);
              runs[contender].push(run);
              console.log(
                `  width ${width} round ${round} ${contender}: ${run.wallSeconds.toFixed(2)} s, ` +
                  `CPU ${run.workerCpuMsPerTarget.toFixed(2)} + ${run.serverCpuMsPerTarget.toFixed(2)} ms/target` +
                  (run.forceClosedTasks ? `, ${run.forceClosedTasks} workflow tasks force-closed` : ''),
              );
            }
          }
          printWidth(width, runs);
        }
      }),
    );
  } finally {
    await bullmq.close();
    await redis.stop();
    await env.teardown();
  }

  const summary = {
    bench: 'fanout',
    ...machine,
    targetMs: TARGET_MS,
    rounds: ROUNDS,
    workerOptions: BENCH_WORKER_OPTIONS,
    loadAverageAtEnd: os.loadavg().map((load) => Math.round(load * 100) / 100),
    widths: Object.fromEntries(
      Object.entries(figures).map(([width, runs]) => [
        width,
        {
          ...Object.fromEntries(
            ORDER.map((contender) => {
              const m = medians(runs[contender]);
              return [
                contender,
                {
                  name: CONTENDERS[contender],
                  median: Object.fromEntries(Object.entries(m).map(([key, value]) => [key, round3(value)])),
                  wallSecondsRuns: runs[contender].map((run) => round3(run.wallSeconds)),
                },
              ];
            }),
          ),
          ratios: Object.fromEntries(
            RATIOS.map(([one, other]) => [
              `${one}/${other}`,
              round3(
                medianPairRatio(
                  runs[one].map((run) => run.wallSeconds),
                  runs[other].map((run) => run.wallSeconds),
                ),
              ),
            ]),
          ),
        },
      ]),
    ),
  };
  console.log(JSON.stringify(summary));
}

function printWidth(width: number, runs: Record<Contender, Run[]>): void {
  const a = median(runs.A.map((run) => run.wallSeconds));
  const rows = ORDER.map((contender) => {
    const m = medians(runs[contender]);
    return [
      CONTENDERS[contender],
      fixed(m.wallSeconds, 2),
      fixed(m.wallSeconds === undefined ? undefined : a / m.wallSeconds, 2),
      fixed(m.workerCpuMsPerTarget, 2),
      fixed(m.serverCpuMsPerTarget, 2),
      fixed(m.workerPeakRssMiB, 0),
      fixed(m.serverPeakRssMiB, 0),
      fixed(m.eventsPerTarget, 2),
      fixed(m.forceClosedTasks, 0),
    ];
  });
  console.log(
    `\nwidth ${width}: medians of ${runs[ORDER[0]].length} rounds (server = Temporal dev server for A-C, E and F, Redis for D)`,
  );
  console.log(
    formatTable(
      [
        'contender',
        'wall s',
        'A ÷ this',
        'worker CPU ms/target',
        'server CPU ms/target',
        'worker peak RSS MiB',
        'server peak RSS MiB',
        'events/target',
        'force-closed tasks',
      ],
      rows,
    ),
  );
  const ratio = (one: Contender, other: Contender): string =>
    `${one}/${other} ${medianPairRatio(
      runs[one].map((run) => run.wallSeconds),
      runs[other].map((run) => run.wallSeconds),
    ).toFixed(2)}`;
  console.log(`median of pair ratios: ${RATIOS.map(([one, other]) => ratio(one, other)).join('  ')}\n`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
