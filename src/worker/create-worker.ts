/**
 * Wires a fan-out worker: the registry's services and callbacks become activities, the fan-out workflows (and
 * any workflow services) come from a workflows module, bundled once or given pre-bundled.
 */
import path from 'node:path';
import type { NativeConnection, WorkerOptions, WorkflowBundleOption } from '@temporalio/worker';
import { Worker } from '@temporalio/worker';
import { createActivities } from '../activities';
import { FANOUT_TASK_QUEUE } from '../contracts';
import type { Registry } from '../registry';
import type { BlobStore } from '../store/blob-store';
import { defaultBlobStore } from '../store/default-store';
import { fanoutDataConverter } from '../store/payload-driver';
import { RecordStore } from '../store/records';

/** A folder path: webpack finds index.ts from source (tests) or index.js when compiled. */
export const DEFAULT_WORKFLOWS_PATH = path.join(__dirname, '..', 'workflows');

export interface FanoutWorkerOptions {
  connection: NativeConnection;
  registry: Registry;
  namespace?: string;
  taskQueue?: string;
  /**
   * A pre-built bundle, in memory or as a file (`{ codePath }`, what a production worker loads: no webpack in the
   * worker process); otherwise `workflowsPath` is bundled.
   */
  workflowBundle?: WorkflowBundleOption;
  /** A module exporting the fan-out workflows and your workflow services; defaults to this package's. */
  workflowsPath?: string;
  /** Where records and large payloads live; the client must use the same. Default: `defaultBlobStore()`. */
  store?: BlobStore;
  /** Anything else for Worker.create (cache size, concurrency, interceptors). */
  workerOptions?: Partial<WorkerOptions>;
}

export async function createFanoutWorker(options: FanoutWorkerOptions): Promise<Worker> {
  const store = options.store ?? defaultBlobStore();
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace ?? 'default',
    taskQueue: options.taskQueue ?? FANOUT_TASK_QUEUE,
    activities: createActivities({ registry: options.registry, records: new RecordStore(store) }),
    dataConverter: fanoutDataConverter(store),
    ...(options.workflowBundle
      ? { workflowBundle: options.workflowBundle }
      : { workflowsPath: options.workflowsPath ?? DEFAULT_WORKFLOWS_PATH }),
    ...options.workerOptions,
  });
}
