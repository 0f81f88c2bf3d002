/**
 * A worker process of `npm run bench:observability`: contender A's worker (bench/workload.ts), started as the
 * `worker` command starts one — tracing when the OTEL_* variables ask for it (startTracing, its interceptors and
 * sink handed to the worker, the spans still buffered flushed on exit), metrics exported on FANOUT_METRICS_ADDRESS
 * when it is set (installWorkerRuntime, before the first connection), neither otherwise — on a task queue of its
 * own, records in the bench's local store, the workflow bundle loaded from a file. Runs until SIGTERM.
 */
import { NativeConnection } from '@temporalio/worker';
import { LocalBlobStore } from '../src/store/local-store';
import { bundleTraces, startTracing, tracingConfigured } from '../src/tracing';
import { createFanoutWorker } from '../src/worker/create-worker';
import { installWorkerRuntime } from '../src/worker/telemetry';
import { BENCH_WORKER_OPTIONS, benchRegistry } from './workload';

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: this process is started by bench/observability-overhead.ts`);
  return value;
}

async function main(): Promise<void> {
  const tracing = tracingConfigured() ? startTracing({ serviceName: 'bench-worker' }) : undefined;
  installWorkerRuntime();
  const workflowBundle = { codePath: required('BENCH_WORKFLOW_BUNDLE') };
  // A bundle without the workflow interceptors would trace activities only: a cost measured short, so refused.
  if (tracing && !bundleTraces(workflowBundle)) throw new Error('tracing on, but the bundle has no workflow tracing');
  const connection = await NativeConnection.connect({ address: required('BENCH_TEMPORAL_ADDRESS') });
  const worker = await createFanoutWorker({
    connection,
    registry: benchRegistry(),
    store: new LocalBlobStore(required('BENCH_STORE_DIR')),
    taskQueue: required('BENCH_TASK_QUEUE'),
    workflowBundle,
    ...BENCH_WORKER_OPTIONS,
    ...tracing?.worker,
  });
  await worker.run(); // the SDK's runtime shuts the worker down on SIGTERM
  await connection.close();
  await tracing?.shutdown();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
