/**
 * Test environment for the fan-out application: the official time-skipping test server with the search attributes
 * the workflows use, the workflow bundle built once per test file, and a helper that runs code while a real
 * fan-out worker polls.
 */
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { afterAll, beforeAll } from 'vitest';
import { FanoutClient } from '../../src/client';
import { FANOUT_TASK_QUEUE } from '../../src/contracts';
import type { Registry } from '../../src/registry';
import type { FanoutWorkerOptions } from '../../src/worker/create-worker';
import { createFanoutWorker } from '../../src/worker/create-worker';
import type { FanoutTestEnv } from './temporal-env';
import { bundle, createTimeSkippingEnv } from './temporal-env';

export async function createFanoutTestEnv(): Promise<FanoutTestEnv> {
  return createTimeSkippingEnv();
}

export async function fanoutBundle(): Promise<WorkflowBundleWithSourceMap> {
  return bundle();
}

/**
 * One environment (the time-skipping test server unless `createEnv` says otherwise) and the workflow bundle for a
 * whole test file: made before its tests and handed to `use`, torn down after them.
 */
export function fanoutTestFile(
  use: (env: FanoutTestEnv, workflowBundle: WorkflowBundleWithSourceMap) => void,
  createEnv: () => Promise<FanoutTestEnv> = createFanoutTestEnv,
): void {
  let env: FanoutTestEnv | undefined;
  beforeAll(async () => {
    env = await createEnv();
    use(env, await fanoutBundle());
  }, 120_000);
  afterAll(async () => {
    await env?.teardown();
  });
}

export interface FanoutHarness {
  env: FanoutTestEnv;
  /** The file's bundle; undefined when `workerOptions.workflowBundle` names another (a file built ahead of time). */
  workflowBundle: WorkflowBundleWithSourceMap | undefined;
  taskQueue?: string;
  maxCachedWorkflows?: number;
  /** Anything else the worker needs (more activity slots, say). */
  workerOptions?: Partial<FanoutWorkerOptions>;
}

/** Runs `fn` with a FanoutClient while a real worker serving `registry` polls the task queue. */
export async function withFanoutWorker<T>(
  harness: FanoutHarness,
  registry: Registry,
  fn: (client: FanoutClient) => Promise<T>,
): Promise<T> {
  const taskQueue = harness.taskQueue ?? FANOUT_TASK_QUEUE;
  const { store } = harness.env;
  const worker = await createFanoutWorker({
    store,
    connection: harness.env.nativeConnection,
    registry,
    taskQueue,
    workflowBundle: harness.workflowBundle,
    ...harness.workerOptions,
    ...(harness.maxCachedWorkflows !== undefined ? { maxCachedWorkflows: harness.maxCachedWorkflows } : {}),
  });
  const client = new FanoutClient({ client: harness.env.client, registry, taskQueue, store });
  return worker.runUntil(fn(client));
}
