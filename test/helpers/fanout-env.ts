/**
 * Test environment for the fan-out application: a time-skipping environment on the embedded server (or the
 * official downloaded test server with TEMPORAL_TEST_SERVER=download), the search attributes the workflows use,
 * the workflow bundle built once per test file, and a helper that runs code while a real fan-out worker polls.
 */
import { TestWorkflowEnvironment } from '@temporalio/testing';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { SearchAttributeType } from '@temporalio/common';
import { FanoutClient } from '../../src/client';
import { FANOUT_TASK_QUEUE, SEARCH_ATTRIBUTES } from '../../src/contracts';
import type { Registry } from '../../src/registry';
import { createFanoutWorker, DEFAULT_WORKFLOWS_PATH } from '../../src/worker/create-worker';
import { bundle, createTimeSkippingEnv } from './server-harness';

export const FANOUT_SEARCH_ATTRIBUTES = [
  { name: SEARCH_ATTRIBUTES.source, type: SearchAttributeType.KEYWORD },
  { name: SEARCH_ATTRIBUTES.state, type: SearchAttributeType.KEYWORD },
];

export async function createFanoutTestEnv(): Promise<TestWorkflowEnvironment> {
  if (process.env.TEMPORAL_TEST_SERVER === 'download') {
    // The official Java test server, downloaded: for users with internet. It registers attributes on the fly.
    return TestWorkflowEnvironment.createTimeSkipping();
  }
  return createTimeSkippingEnv(FANOUT_SEARCH_ATTRIBUTES);
}

export async function fanoutBundle(): Promise<WorkflowBundleWithSourceMap> {
  return bundle(DEFAULT_WORKFLOWS_PATH);
}

export interface FanoutHarness {
  env: TestWorkflowEnvironment;
  workflowBundle: WorkflowBundleWithSourceMap;
  taskQueue?: string;
  maxCachedWorkflows?: number;
}

/** Runs `fn` with a FanoutClient while a real worker serving `registry` polls the task queue. */
export async function withFanoutWorker<T>(
  harness: FanoutHarness,
  registry: Registry,
  fn: (client: FanoutClient) => Promise<T>,
): Promise<T> {
  const taskQueue = harness.taskQueue ?? FANOUT_TASK_QUEUE;
  const worker = await createFanoutWorker({
    connection: harness.env.nativeConnection,
    registry,
    taskQueue,
    workflowBundle: harness.workflowBundle,
    workerOptions: harness.maxCachedWorkflows !== undefined ? { maxCachedWorkflows: harness.maxCachedWorkflows } : {},
  });
  const client = new FanoutClient({ client: harness.env.client, registry, taskQueue });
  return worker.runUntil(fn(client));
}
