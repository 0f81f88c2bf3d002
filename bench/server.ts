/**
 * Benchmark of the embedded server through the real SDK, on one worker: start-up time of the executable,
 * workflows per second, and activity tasks per second. Prints figures; asserts nothing.
 *   npm run bench:server
 * BENCH_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the server process.
 */
import path from 'node:path';
import { spawn } from 'node:child_process';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { quietLogger } from '../src/worker/quiet-logger';
import * as activities from './server-activities';
import { activityBatch, bare } from './server-workflows';

const SERVER = path.resolve(__dirname, '../server/main.js');
const WORKFLOWS = Number(process.env.BENCH_WORKFLOWS ?? 1000);
const ACTIVITY_WORKFLOWS = Number(process.env.BENCH_ACTIVITY_WORKFLOWS ?? 20);
const ACTIVITIES_PER_WORKFLOW = Number(process.env.BENCH_ACTIVITIES_PER_WORKFLOW ?? 500);

async function startServer(port: number): Promise<{ readyMs: number; stop: () => void }> {
  const started = process.hrtime.bigint();
  const child = spawn(
    process.execPath,
    [...(process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean), SERVER, String(port)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (data: Buffer) => data.toString().includes('listening') && resolve());
    child.on('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  // Ready means a client can talk to it, not just that it printed a line.
  const connection = await Connection.connect({ address: `127.0.0.1:${port}` });
  await connection.workflowService.getSystemInfo({});
  const readyMs = Number(process.hrtime.bigint() - started) / 1e6;
  await connection.close();
  return { readyMs, stop: () => child.kill('SIGTERM') };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function main(): Promise<void> {
  Runtime.install({
    logger: quietLogger,
  });
  const startups: number[] = [];
  for (let i = 0; i < 5; i++) {
    const server = await startServer(21000 + i);
    startups.push(server.readyMs);
    server.stop();
  }
  console.log(`start-up (spawn to first answered RPC), median of 5: ${median(startups).toFixed(0)} ms`);

  const port = 21100;
  const server = await startServer(port);
  const address = `127.0.0.1:${port}`;
  const workflowBundle = await bundleWorkflowCode({
    workflowsPath: require.resolve('./server-workflows'),
    logger: quietLogger,
  });
  const nativeConnection = await NativeConnection.connect({ address });
  const client = new Client({ connection: await Connection.connect({ address }) });
  const worker = await Worker.create({
    connection: nativeConnection,
    taskQueue: 'bench',
    workflowBundle,
    activities,
    maxConcurrentActivityTaskExecutions: 500,
    maxConcurrentWorkflowTaskExecutions: 100,
    maxConcurrentActivityTaskPolls: 10,
  });
  await worker.runUntil(async () => {
    const rss = () => `${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`;
    let t = Date.now();
    const handles = await Promise.all(
      Array.from({ length: WORKFLOWS }, (_, i) =>
        client.workflow.start(bare, { taskQueue: 'bench', workflowId: `bare-${i}` }),
      ),
    );
    await Promise.all(handles.map((h) => h.result()));
    let seconds = (Date.now() - t) / 1000;
    console.log(
      `workflows: ${WORKFLOWS} bare workflows in ${seconds.toFixed(2)} s = ${(WORKFLOWS / seconds).toFixed(0)} workflows/s (worker RSS ${rss()})`,
    );

    t = Date.now();
    const batches = await Promise.all(
      Array.from({ length: ACTIVITY_WORKFLOWS }, (_, i) =>
        client.workflow.start(activityBatch, {
          taskQueue: 'bench',
          workflowId: `batch-${i}`,
          args: [ACTIVITIES_PER_WORKFLOW],
        }),
      ),
    );
    await Promise.all(batches.map((h) => h.result()));
    seconds = (Date.now() - t) / 1000;
    const total = ACTIVITY_WORKFLOWS * ACTIVITIES_PER_WORKFLOW;
    console.log(
      `activities: ${total} activity tasks in ${seconds.toFixed(2)} s = ${(total / seconds).toFixed(0)} activity tasks/s (worker RSS ${rss()})`,
    );
  });
  await nativeConnection.close();
  server.stop();
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
