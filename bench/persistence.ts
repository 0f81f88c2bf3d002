/**
 * The dev server's persistence choices, side by side: the bare-Temporal floor (plain activities, 50 ms targets,
 * window min(width, 1,000)) on three dev servers up at once, run alternately in one run: in memory, `--db-filename`
 * alone (SQLite's defaults), and `--db-filename` with DURABLE_SQLITE_PRAGMAS (WAL, synchronous=normal; the default
 * of startDevServer and `npm start`). Prints medians and pair ratios against in memory; last line one JSON object.
 *   npm run bench:persistence        BENCH_WIDTH=1000 (default)  BENCH_ROUNDS=3 (default)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import type { DevServerOptions } from '../src/local/temporal-servers';
import { startDevServer } from '../src/local/temporal-servers';
import { bundleFloorWorkflows, createFloorWorker, runFloor } from './floor';
import { describeMachine } from './machine';
import { findChildPids } from './proc';
import type { RunFigures } from './sampler';
import { measureRun } from './sampler';
import { median, medianPairRatio } from './stats';
import { fixed, formatTable } from './table';
import { RUN_DEADLINE_MS, TARGET_MS, windowFor } from './workload';

const WIDTH = Number(process.env.BENCH_WIDTH ?? 1000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const WARMUP_WIDTH = 500;

interface Variant {
  key: 'memory' | 'file' | 'fileWal';
  name: string;
  options(dir: string): DevServerOptions;
}

const VARIANTS: Variant[] = [
  { key: 'memory', name: 'in memory', options: () => ({}) },
  {
    key: 'file',
    name: '--db-filename alone',
    options: (dir) => ({ dbFilename: path.join(dir, 'alone.db'), sqlitePragmas: false }),
  },
  {
    key: 'fileWal',
    name: '--db-filename + WAL, synchronous=normal',
    options: (dir) => ({ dbFilename: path.join(dir, 'wal.db') }),
  },
];

interface Server {
  variant: Variant;
  env: TestWorkflowEnvironment;
  pid: number;
  worker: Worker;
  runs: RunFigures[];
}

/** Runs `body` while every worker polls. */
async function whileRunning(workers: Worker[], body: () => Promise<void>): Promise<void> {
  const [first, ...rest] = workers;
  if (!first) return body();
  await first.runUntil(() => whileRunning(rest, body));
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const machine = describeMachine();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-persistence-'));
  const bundle = await bundleFloorWorkflows();
  const servers: Server[] = [];
  try {
    for (const variant of VARIANTS) {
      const known = new Set(findChildPids(process.pid, /^temporal$/));
      const env = await startDevServer(variant.options(dir));
      const pid = findChildPids(process.pid, /^temporal$/).find((candidate) => !known.has(candidate));
      if (pid === undefined) throw new Error(`cannot find the dev server process (${variant.name})`);
      servers.push({ variant, env, pid, worker: await createFloorWorker(env.nativeConnection, bundle), runs: [] });
    }
    console.log(
      `bare-Temporal floor, plain activities: ${WIDTH} × ${TARGET_MS} ms targets, window ${windowFor(WIDTH)}, ` +
        `${ROUNDS} rounds alternating over three dev servers up at once (${machine.temporalCli}); ` +
        `${machine.cpus} × ${machine.cpuModel}, Node ${machine.node}; load average ${machine.loadAverage.join(' ')}`,
    );
    const once = async (server: Server, width: number): Promise<RunFigures> =>
      (
        await measureRun(server.pid, width, () =>
          runFloor(server.env.client, 'plain', width, windowFor(width), RUN_DEADLINE_MS),
        )
      ).figures;
    await whileRunning(
      servers.map((server) => server.worker),
      async () => {
        for (const server of servers) await once(server, WARMUP_WIDTH);
        for (let round = 1; round <= ROUNDS; round++) {
          for (const server of servers) {
            const run = await once(server, WIDTH);
            server.runs.push(run);
            console.log(
              `  round ${round} ${server.variant.name}: ${run.wallSeconds.toFixed(2)} s, ` +
                `CPU ${run.workerCpuMsPerTarget.toFixed(2)} + ${run.serverCpuMsPerTarget.toFixed(2)} ms/target`,
            );
          }
        }
      },
    );
  } finally {
    for (const server of servers) await server.env.teardown();
    fs.rmSync(dir, { recursive: true, force: true });
  }

  const memoryWalls = servers[0].runs.map((run) => run.wallSeconds);
  const rows = servers.map((server) => {
    const walls = server.runs.map((run) => run.wallSeconds);
    return {
      key: server.variant.key,
      name: server.variant.name,
      wallSeconds: median(walls),
      vsMemory: medianPairRatio(walls, memoryWalls),
      workerCpuMsPerTarget: median(server.runs.map((run) => run.workerCpuMsPerTarget)),
      serverCpuMsPerTarget: median(server.runs.map((run) => run.serverCpuMsPerTarget)),
      serverPeakRssMiB: median(server.runs.map((run) => run.serverPeakRssMiB)),
      wallSecondsRuns: walls,
    };
  });
  console.log(`\nwidth ${WIDTH}: medians of ${ROUNDS} rounds; × in memory is the median of pair ratios`);
  console.log(
    formatTable(
      [
        'dev server persistence',
        'wall s',
        '× in memory',
        'worker CPU ms/target',
        'server CPU ms/target',
        'server peak RSS MiB',
      ],
      rows.map((row) => [
        row.name,
        fixed(row.wallSeconds, 2),
        fixed(row.vsMemory, 2),
        fixed(row.workerCpuMsPerTarget, 2),
        fixed(row.serverCpuMsPerTarget, 2),
        fixed(row.serverPeakRssMiB, 0),
      ]),
    ),
  );
  const round3 = (value: number): number => Math.round(value * 1000) / 1000;
  console.log(
    JSON.stringify({
      bench: 'persistence',
      ...machine,
      targetMs: TARGET_MS,
      width: WIDTH,
      rounds: ROUNDS,
      loadAverageAtEnd: os.loadavg().map((load) => Math.round(load * 100) / 100),
      variants: Object.fromEntries(
        rows.map(({ key, wallSecondsRuns, ...row }) => [
          key,
          {
            ...Object.fromEntries(
              Object.entries(row).map(([name, value]) => [name, typeof value === 'number' ? round3(value) : value]),
            ),
            wallSecondsRuns: wallSecondsRuns.map(round3),
          },
        ]),
      ),
    }),
  );
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
