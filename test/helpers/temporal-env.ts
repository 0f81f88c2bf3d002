/**
 * The one way tests reach Temporal: the official time-skipping test server (for tests that skip time) or the
 * official CLI dev server (for everything that needs visibility, the Web UI or real time), both with the fan-out
 * search attributes; the cache settings every workflow test runs under; bundling and replay; a runtime logger that
 * leaves out the warnings of failures a test causes on purpose.
 */
import path from 'node:path';
import { inspect } from 'node:util';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { bundleFanoutWorkflows } from '../../src/worker/workflow-bundle';

export const CACHE_MODES = [
  { label: 'default cache', maxCachedWorkflows: undefined },
  { label: 'maxCachedWorkflows: 0', maxCachedWorkflows: 0 },
] as const;

/**
 * Installs this test process's Temporal runtime (call it at the top of a test file, before anything starts a worker)
 * with a logger that leaves out the worker's "Activity failed" warning for failures of type `failureType`, which the
 * file causes on purpose by the thousand; every other entry is written to stderr as usual.
 */
export function installRuntimeQuietOn(failureType: string): void {
  Runtime.install({
    logger: new DefaultLogger('WARN', ({ level, message, meta }) => {
      const error = meta?.error;
      if (message === 'Activity failed' && error instanceof ApplicationFailure && error.type === failureType) return;
      process.stderr.write(`[${level}] ${message}${meta === undefined ? '' : ` ${inspect(meta)}`}\n`);
    }),
  });
}

export { createDevServerEnv, createTimeSkippingEnv, tempStore } from '../../src/testing';
export type { FanoutTestEnv } from '../../src/testing';

/** The tests' workflows module: the fan-out workflows, the example workflow service and test-only ones. */
export const TEST_WORKFLOWS_PATH = path.join(__dirname, '..', 'workflows');

export async function bundle(workflowsPath = TEST_WORKFLOWS_PATH): Promise<WorkflowBundleWithSourceMap> {
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
