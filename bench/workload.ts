/**
 * The work every contender does, and the one set of worker settings the Temporal contenders share: a 50 ms target
 * function, a window of min(width, 1,000) targets in flight.
 */
import type { WorkerOptions } from '@temporalio/worker';
import { MAX_CONCURRENCY_LIMIT } from '../src/contracts';

export const TARGET_MS = 50;

export async function target(n: number): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, TARGET_MS));
  return n;
}

export function windowFor(width: number): number {
  return Math.min(width, MAX_CONCURRENCY_LIMIT);
}

/** The same for the fan-out worker and the floor worker, so that A, B and C differ only in their workflows. */
export const BENCH_WORKER_OPTIONS: Partial<WorkerOptions> = {
  maxConcurrentActivityTaskExecutions: MAX_CONCURRENCY_LIMIT,
  maxConcurrentLocalActivityExecutions: MAX_CONCURRENCY_LIMIT,
  maxConcurrentActivityTaskPolls: 10,
};
