/**
 * Several fan-out workers on one task queue, each on a connection of its own, as separate worker processes would
 * be (one process may not register two workers of one task queue on a shared connection): for tests and benchmarks
 * of what must hold across workers (limits per service, fairness between fan-outs).
 */
import { NativeConnection } from '@temporalio/worker';
import type { FanoutWorkerOptions } from '../worker/create-worker';
import { createFanoutWorker } from '../worker/create-worker';
import type { FanoutWorker } from '../worker/fanout-worker';

export interface WorkersApart {
  workers: FanoutWorker[];
  /** Shuts them down, waits for what they run, closes their connections. */
  stop(): Promise<void>;
}

/** Starts `count` workers with `options`, connected to the Temporal at `address`; they run until `stop`. */
export async function startWorkersApart(
  count: number,
  address: string,
  options: Omit<FanoutWorkerOptions, 'connection'>,
): Promise<WorkersApart> {
  const connections = await Promise.all(Array.from({ length: count }, () => NativeConnection.connect({ address })));
  const workers = await Promise.all(connections.map((connection) => createFanoutWorker({ ...options, connection })));
  const runs = workers.map((worker) => worker.run());
  return {
    workers,
    async stop() {
      for (const worker of workers) worker.shutdown();
      await Promise.all(runs);
      await Promise.all(connections.map((connection) => connection.close()));
    },
  };
}
