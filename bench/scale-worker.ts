/**
 * The worker process of `npm run bench:scale`, as a production worker runs: its own process, the workflow bundle
 * loaded from a file built beforehand (no webpack here), records in the bench's local store. Runs until SIGTERM.
 * BENCH_SCALE_MEMLOG=1 prints its memory (RSS, V8 heap, external) every 10 s.
 */
import { NativeConnection, Runtime, DefaultLogger } from '@temporalio/worker';
import { LocalBlobStore } from '../src/store/local-store';
import { createFanoutWorker } from '../src/worker/create-worker';
import { scaleRegistry } from './scale-registry';

const MIB = 2 ** 20;

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: this process is started by bench/scale.ts`);
  return value;
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const connection = await NativeConnection.connect({ address: required('BENCH_TEMPORAL_ADDRESS') });
  const worker = await createFanoutWorker({
    connection,
    registry: scaleRegistry(Number(required('BENCH_RESPONSE_BYTES'))),
    store: new LocalBlobStore(required('BENCH_STORE_DIR')),
    workflowBundle: { codePath: required('BENCH_WORKFLOW_BUNDLE') },
    maxConcurrentActivityTaskExecutions: Number(required('BENCH_MAX_CONCURRENCY')),
    maxConcurrentActivityTaskPolls: 10,
  });
  if (process.env.BENCH_SCALE_MEMLOG) {
    setInterval(() => {
      const m = process.memoryUsage();
      console.log(
        `  worker memory: rss ${Math.round(m.rss / MIB)} MiB, heap ${Math.round(m.heapUsed / MIB)}/${Math.round(m.heapTotal / MIB)} MiB, ` +
          `external ${Math.round(m.external / MIB)} MiB, array buffers ${Math.round(m.arrayBuffers / MIB)} MiB`,
      );
    }, 10_000).unref();
  }
  await worker.run(); // the SDK's runtime shuts the worker down on SIGTERM
  await connection.close();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
