/**
 * A worker process of `npm run bench:metrics`: contender A's worker (bench/workload.ts), started as the `worker`
 * command starts one — metrics exported on FANOUT_METRICS_ADDRESS when it is set (installWorkerRuntime, before
 * the first connection), none otherwise — on a task queue of its own, records in the bench's local store, the
 * workflow bundle loaded from a file. Runs until SIGTERM.
 */
import { NativeConnection } from '@temporalio/worker';
import { LocalBlobStore } from '../src/store/local-store';
import { createFanoutWorker } from '../src/worker/create-worker';
import { installWorkerRuntime } from '../src/worker/telemetry';
import { BENCH_WORKER_OPTIONS, benchRegistry } from './workload';

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: this process is started by bench/metrics-overhead.ts`);
  return value;
}

async function main(): Promise<void> {
  installWorkerRuntime();
  const connection = await NativeConnection.connect({ address: required('BENCH_TEMPORAL_ADDRESS') });
  const worker = await createFanoutWorker({
    connection,
    registry: benchRegistry(),
    store: new LocalBlobStore(required('BENCH_STORE_DIR')),
    taskQueue: required('BENCH_TASK_QUEUE'),
    workflowBundle: { codePath: required('BENCH_WORKFLOW_BUNDLE') },
    ...BENCH_WORKER_OPTIONS,
  });
  await worker.run(); // the SDK's runtime shuts the worker down on SIGTERM
  await connection.close();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
