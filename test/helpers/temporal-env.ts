/**
 * The one way tests reach Temporal: the official time-skipping test server (for tests that skip time) or the
 * official CLI dev server (for everything that needs visibility, the Web UI or real time), both with the fan-out
 * search attributes; the cache settings every workflow test runs under; bundling and replay.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { Worker } from '@temporalio/worker';
import { bundleFanoutWorkflows } from '../../src/local/local-temporal';
import type { DevServerOptions } from '../../src/local/temporal-servers';
import { startDevServer, startTimeSkippingServer } from '../../src/local/temporal-servers';

export const CACHE_MODES = [
  { label: 'default cache', maxCachedWorkflows: undefined },
  { label: 'maxCachedWorkflows: 0', maxCachedWorkflows: 0 },
] as const;

export async function createTimeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  return startTimeSkippingServer();
}

export async function createDevServerEnv(options: DevServerOptions = {}): Promise<TestWorkflowEnvironment> {
  return startDevServer(options);
}

export async function bundle(workflowsPath?: string): Promise<WorkflowBundleWithSourceMap> {
  return bundleFanoutWorkflows(workflowsPath);
}

/** Replays every given workflow's history with Worker.runReplayHistory; throws on the first nondeterminism. */
export async function replayAll(
  env: TestWorkflowEnvironment,
  workflowBundle: WorkflowBundleWithSourceMap,
  workflowIds: string[],
): Promise<number> {
  for (const workflowId of workflowIds) {
    const history = await env.client.workflow.getHandle(workflowId).fetchHistory();
    await Worker.runReplayHistory({ workflowBundle }, history, workflowId);
  }
  return workflowIds.length;
}
