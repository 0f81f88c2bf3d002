/**
 * `npm run bench:concurrency-limit`: a service limited to C calls at once (`limits: { concurrency: C }`) under many
 * short calls, on the official dev server as `startDevServer` starts it, with two fan-out workers in this process
 * (each on a connection of its own) and three fan-outs started at once. Every call takes a lease from the service's
 * limiter workflow (an update) and gives it back (a signal), so the limiter's history grows by several events a call
 * and it hands over to new runs (continue-as-new) as it grows. Prints the calls that succeeded, the most at once at
 * the receiver, the wall time, the leases granted a second and how many runs the limiter went through.
 * A benchmark: it asserts nothing, but a run whose fan-outs do not finish within the deadline says so and fails.
 *   npm run bench:concurrency-limit   BENCH_LIMIT_CONCURRENCY=5 BENCH_LIMIT_WIDTH=500 BENCH_LIMIT_CALL_MS=10
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { FanoutClient } from '../src/client';
import { limiterWorkflowId } from '../src/constants';
import { startDevServer } from '../src/local/temporal-servers';
import { Registry, defineCallback, defineService } from '../src/registry';
import { LocalBlobStore } from '../src/store/local-store';
import { fanoutDataConverter } from '../src/store/payload-driver';
import { startWorkersApart } from '../src/testing/workers-apart';
import { bundleFanoutWorkflows } from '../src/worker/workflow-bundle';
import { describeMachine } from './machine';
import { fixed, formatTable } from './table';

const CONCURRENCY = Number(process.env.BENCH_LIMIT_CONCURRENCY ?? 5);
const WIDTH = Number(process.env.BENCH_LIMIT_WIDTH ?? 500);
const CALL_MS = Number(process.env.BENCH_LIMIT_CALL_MS ?? 10);
const FANOUTS = 3;
const WORKERS = 2;
const DEADLINE_MS = 10 * 60_000;
const SERVICE = 'narrow';

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  console.log(JSON.stringify(describeMachine()));
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'fanout-bench-concurrency-'));
  const store = new LocalBlobStore(path.join(scratch, 'store'));
  const env = await startDevServer({ dataConverter: fanoutDataConverter(store) });
  const running = { now: 0, peak: 0 };
  const registry = new Registry(
    [
      defineService({
        name: SERVICE,
        limits: { concurrency: CONCURRENCY },
        handler: async () => {
          running.now++;
          running.peak = Math.max(running.peak, running.now);
          await new Promise((resolve) => setTimeout(resolve, CALL_MS));
          running.now--;
          return 'ok';
        },
      }),
    ],
    [defineCallback({ name: 'done', handler: async () => undefined })],
  );
  const taskQueue = 'concurrency-limit';
  const workers = await startWorkersApart(WORKERS, env.connection.options.address, {
    registry,
    store,
    taskQueue,
    workflowBundle: await bundleFanoutWorkflows(),
  });
  const fanout = new FanoutClient({ client: env.client, registry, store, taskQueue });
  try {
    const started = Date.now();
    const cids = await Promise.all(
      Array.from({ length: FANOUTS }, (_, f) => {
        const ids = Array.from({ length: WIDTH }, (_, i) => `f${f}-${i}`);
        return fanout.invoke(Object.fromEntries(ids.map((id) => [id, null])), ['done'], {
          targetOptions: Object.fromEntries(ids.map((id) => [id, { service: SERVICE }])),
          source: `source-${f}`,
        });
      }),
    );
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`the fan-outs did not finish within ${DEADLINE_MS / 1000} s: the limiter stalled?`)),
        DEADLINE_MS,
      );
    });
    const outcomes = await Promise.race([Promise.all(cids.map((cid) => fanout.result(cid))), deadline]);
    clearTimeout(timer);
    const seconds = (Date.now() - started) / 1000;
    const ok = outcomes.reduce((sum, outcome) => sum + outcome.counts.ok, 0);
    // The limiter's runs: its first, and each continue-as-new after it.
    let runs = 0;
    for await (const _ of env.client.workflow.list({ query: `WorkflowId = '${limiterWorkflowId(SERVICE)}'` })) runs++;
    const calls = FANOUTS * WIDTH;
    console.log(
      formatTable(
        ['calls', 'ok', 'at most at once', 'limit', 'wall', 'leases/s', 'limiter runs'],
        [
          [
            String(calls),
            String(ok),
            String(running.peak),
            String(CONCURRENCY),
            `${fixed(seconds, 1)} s`,
            fixed(calls / seconds, 1),
            String(runs),
          ],
        ],
      ),
    );
    console.log(JSON.stringify({ calls, ok, peak: running.peak, concurrency: CONCURRENCY, seconds, runs }));
  } finally {
    await workers.stop();
    await env.teardown();
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
