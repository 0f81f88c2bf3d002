/**
 * The work every contender does, and the one set of worker settings the Temporal contenders share: a 50 ms target
 * function, a window of min(width, 1,000) targets in flight.
 */
import type { WorkerOptions } from '@temporalio/worker';

export const TARGET_MS = 50;

/** A run that has not finished by then is stopped and the bench fails, saying which: a bench never hangs. */
export const RUN_DEADLINE_MS = 5 * 60_000;

export async function target(n: number): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, TARGET_MS));
  return n;
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
