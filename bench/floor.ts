/**
 * Running the bare-Temporal floor: its workflows bundled separately, a worker of its own task queue with the bench's
 * worker settings, and one floor run (plain or local activities) from start to result.
 */
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { NativeConnection, WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { Worker, bundleWorkflowCode } from '@temporalio/worker';
import { quietLogger } from '../src/worker/quiet-logger';
import type { FloorActivities } from './floor-workflows';
import { BENCH_WORKER_OPTIONS, target } from './workload';

export const FLOOR_TASK_QUEUE = 'bench-floor';

export type FloorKind = 'plain' | 'local';

const WORKFLOW_TYPES: Record<FloorKind, string> = {
  plain: 'floorPlainActivities',
  local: 'floorLocalActivities',
};

const activities: FloorActivities = {
  target,
  final: async () => undefined,
};

export async function bundleFloorWorkflows(): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({ workflowsPath: require.resolve('./floor-workflows'), logger: quietLogger });
}

export async function createFloorWorker(
  connection: NativeConnection,
  workflowBundle: WorkflowBundleWithSourceMap,
): Promise<Worker> {
  return Worker.create({
    connection,
    namespace: 'default',
    taskQueue: FLOOR_TASK_QUEUE,
    workflowBundle,
    activities,
    ...BENCH_WORKER_OPTIONS,
  });
}

/**
 * Starts one floor workflow and waits for its result; returns its workflow id (for its history). The server times
 * it out after `timeoutMs`, failing the wait.
 */
export async function runFloor(
  client: Client,
  kind: FloorKind,
  width: number,
  window: number,
  timeoutMs: number,
): Promise<string> {
  const workflowId = `bench-floor-${kind}-${width}-${randomUUID()}`;
  const count = await client.workflow.execute(WORKFLOW_TYPES[kind], {
    taskQueue: FLOOR_TASK_QUEUE,
    workflowId,
    args: [width, window],
    workflowExecutionTimeout: timeoutMs,
  });
  if (count !== width) throw new Error(`floor ${kind} ${width}: ${String(count)} targets done`);
  return workflowId;
}
