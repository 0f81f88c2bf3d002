/**
 * Harness for the embedded server's own tests: launches it through @temporalio/testing exactly as users do,
 * runs each scenario under both cache settings, and replays every history the scenarios produced.
 */
import path from 'node:path';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import type { SearchAttributeType } from '@temporalio/common';
import { TypedSearchAttributes } from '@temporalio/common';
import { quietLogger } from '../../src/worker/quiet-logger';

export const SERVER_PATH = path.resolve(__dirname, '../../dist/server/main.js');

export const CACHE_MODES = [
  { label: 'default cache', maxCachedWorkflows: undefined },
  { label: 'maxCachedWorkflows: 0', maxCachedWorkflows: 0 },
] as const;

export interface SearchAttributeSpec {
  name: string;
  type: SearchAttributeType;
}

export async function createTimeSkippingEnv(searchAttributes: SearchAttributeSpec[] = [], extraArgs: string[] = []) {
  // The time-skipping config has no searchAttributes option: pass them as the dev server's flags.
  const attributeArgs = searchAttributes.flatMap(({ name, type }) => [
    '--search-attribute',
    `${name}=${TypedSearchAttributes.toMetadataType(type)}`,
  ]);
  return TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: SERVER_PATH }, extraArgs: [...attributeArgs, ...extraArgs] },
  });
}

export async function createLocalEnv(searchAttributes: SearchAttributeSpec[] = [], extraArgs: string[] = []) {
  return TestWorkflowEnvironment.createLocal({
    server: { executable: { type: 'existing-path', path: SERVER_PATH }, searchAttributes, extraArgs },
  });
}

export async function bundle(workflowsPath: string): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({ workflowsPath, logger: quietLogger });
}

export interface WorkerOptions {
  env: TestWorkflowEnvironment;
  workflowBundle: WorkflowBundleWithSourceMap;
  activities?: object;
  taskQueue: string;
  maxCachedWorkflows?: number;
}

/** Runs `fn` while a real SDK Worker polls `taskQueue`. */
export async function withWorker<T>(options: WorkerOptions, fn: () => Promise<T>): Promise<T> {
  const worker = await Worker.create({
    connection: options.env.nativeConnection,
    namespace: options.env.namespace ?? 'default',
    taskQueue: options.taskQueue,
    workflowBundle: options.workflowBundle,
    activities: options.activities,
    ...(options.maxCachedWorkflows !== undefined ? { maxCachedWorkflows: options.maxCachedWorkflows } : {}),
  });
  return worker.runUntil(fn());
}

/** Replays every given workflow's history with Worker.runReplayHistory; throws on the first nondeterminism. */
export async function replayAll(
  env: TestWorkflowEnvironment,
  workflowBundle: WorkflowBundleWithSourceMap,
  workflowIds: string[],
): Promise<number> {
  let replayed = 0;
  for (const workflowId of workflowIds) {
    const history = await env.client.workflow.getHandle(workflowId).fetchHistory();
    await Worker.runReplayHistory({ workflowBundle }, history, workflowId);
    replayed++;
  }
  return replayed;
}
