/**
 * Fan-out benchmark on the official Temporal dev server (in memory), one worker in this process:
 * for widths of 50 ms targets, the wall time of a whole fan-out (invoke → result), the floor (the same target
 * functions under an in-process Promise.all), their ratio, history events per target, and the worker's RSS.
 * Prints figures; asserts nothing.   npm run bench   (BENCH_WIDTHS=10,100 and BENCH_MAX_CONCURRENCY=500 to choose)
 */
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { FanoutClient } from '../src/client';
import type { FanoutResult } from '../src/contracts';
import { MAX_CONCURRENCY_LIMIT } from '../src/contracts';
import { Registry, defineCallback, defineService } from '../src/registry';
import { createFanoutWorker } from '../src/worker/create-worker';
import { bundleFanoutWorkflows } from '../src/local/local-temporal';
import { startDevServer } from '../src/local/temporal-servers';

const WIDTHS = (process.env.BENCH_WIDTHS ?? '10,100,1000,5000').split(',').map(Number);
const TARGET_MS = 50;
const MAX_CONCURRENCY = Number(process.env.BENCH_MAX_CONCURRENCY ?? MAX_CONCURRENCY_LIMIT);

const target = async (n: number): Promise<number> => {
  await new Promise((resolve) => setTimeout(resolve, TARGET_MS));
  return n;
};

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const env = await startDevServer();
  const workflowBundle = await bundleFanoutWorkflows();
  const registry = new Registry(
    [defineService({ name: 'bench.target', handler: target })],
    [defineCallback({ name: 'bench.noop', handler: async () => undefined })],
  );
  const worker = await createFanoutWorker({
    connection: env.nativeConnection,
    registry,
    workflowBundle,
    workerOptions: { maxConcurrentActivityTaskExecutions: MAX_CONCURRENCY_LIMIT, maxConcurrentActivityTaskPolls: 10 },
  });
  const fanout = new FanoutClient({ client: env.client, registry });

  console.log(
    `fan-out of ${TARGET_MS} ms targets, one final callback, no target callbacks; maxConcurrency = min(width, ${MAX_CONCURRENCY})`,
  );
  console.log(
    'width | fan-out wall | Promise.all floor | ratio | goal (1.5 × floor + 1 s) | history events / target | worker RSS',
  );
  await worker.runUntil(async () => {
    // Warm-up (JIT, workflow sandbox, connections): figures below are steady state, not first-run cost.
    const warmup = Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`w${i}`, i]));
    const warmupOptions = Object.fromEntries(Object.keys(warmup).map((name) => [name, { service: 'bench.target' }]));
    await fanout.result(await fanout.invoke(warmup, ['bench.noop'], { targetOptions: warmupOptions }));
    for (const width of WIDTHS) {
      const names = Array.from({ length: width }, (_, i) => `t${i}`);
      const targets = Object.fromEntries(names.map((name, i) => [name, i]));
      const targetOptions = Object.fromEntries(names.map((name) => [name, { service: 'bench.target' }]));

      const floorStart = performance.now();
      await Promise.all(names.map((_, i) => target(i)));
      const floorMs = performance.now() - floorStart;

      const start = performance.now();
      const cid = await fanout.invoke(targets, ['bench.noop'], {
        targetOptions,
        maxConcurrency: Math.min(width, MAX_CONCURRENCY),
      });
      const result = await fanout.result<FanoutResult>(cid);
      const wallMs = performance.now() - start;
      const okCount = Object.values(result.targets).filter((s) => s === 'ok').length;
      if (okCount !== width) throw new Error(`width ${width}: only ${okCount} targets ok`);
      const events = (await env.client.workflow.getHandle(cid).fetchHistory()).events?.length ?? 0;
      const goalMs = 1.5 * floorMs + 1000;
      const rss = (process.memoryUsage().rss / 2 ** 20).toFixed(0);
      console.log(
        `${String(width).padStart(5)} | ${(wallMs / 1000).toFixed(2).padStart(9)} s | ${(floorMs / 1000).toFixed(2).padStart(14)} s | ${(wallMs / floorMs).toFixed(1).padStart(5)} | ${(goalMs / 1000).toFixed(2)} s ${wallMs <= goalMs ? 'met' : 'missed'} | ${(events / width).toFixed(2).padStart(6)} (${events} events) | ${rss} MiB`,
      );
    }
  });
  await env.teardown();
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
