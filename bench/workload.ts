/**
 * The work every contender does, and the one set of worker settings the Temporal contenders share: a 50 ms target
 * function (and the fan-out's registry of it), a window of min(width, 1,000) targets in flight, a deadline per run.
 */
import type { WorkerOptions } from '@temporalio/worker';
import { Registry, defineCallback, defineService } from '../src/registry';

export const TARGET_MS = 50;

/** A run that has not finished by then is stopped and the bench fails, saying which: a bench never hangs. */
export const RUN_DEADLINE_MS = 5 * 60_000;

export async function target(n: number): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, TARGET_MS));
  return n;
}

export const BENCH_SERVICE = 'bench.target';
export const BENCH_FINAL = 'bench.noop';

/** The fan-out contenders' registry: the 50 ms target as a service, and a no-op final callback. */
export function benchRegistry(): Registry {
  return new Registry(
    [defineService({ name: BENCH_SERVICE, handler: target })],
    [defineCallback({ name: BENCH_FINAL, handler: async () => undefined })],
  );
}

/**
 * The most targets in flight. Fixed here, not the fan-out's own cap (MAX_CONCURRENCY_LIMIT, since raised to 10,000):
 * a floor is one execution, and one execution cannot hold more than 2,000 pending activities.
 */
export const WINDOW = 1000;

export function windowFor(width: number): number {
  return Math.min(width, WINDOW);
}

/**
 * The same for the fan-out worker and the floor worker, so that A, B and C differ only in their workflows.
 * `BENCH_WORKER_OPTIONS` (JSON) overrides or adds options, to measure what a worker setting costs; null removes one.
 */
export const BENCH_WORKER_OPTIONS: Partial<WorkerOptions> = Object.fromEntries(
  Object.entries({
    maxConcurrentActivityTaskExecutions: WINDOW,
    maxConcurrentLocalActivityExecutions: WINDOW,
    maxConcurrentActivityTaskPolls: 10,
    ...(JSON.parse(process.env.BENCH_WORKER_OPTIONS ?? '{}') as Record<string, unknown>),
  }).filter(([, value]) => value !== null),
);

/** The run's value, or an error naming the run once RUN_DEADLINE_MS passed (after `stop` stopped it). */
export async function withinDeadline<T>(run: Promise<T>, name: string, stop: () => Promise<unknown>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      // Failing to stop it must not go unhandled: the run's own error is the one to report.
      void stop()
        .catch(() => undefined)
        .then(() => reject(new Error(`${name} did not finish within ${RUN_DEADLINE_MS / 60_000} minutes; stopped`)));
    }, RUN_DEADLINE_MS);
  });
  try {
    return await Promise.race([run, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
