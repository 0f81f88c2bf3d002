/**
 * Wires a fan-out worker: the registry's services and callbacks become activities beside the app's own, the
 * fan-out workflows come from a workflows module (the app's own, re-exporting them, or this package's), and the
 * app's data converter gains the fan-out's External Storage. Anything else is the SDK's WorkerOptions, as given.
 */
import type { DataConverter } from '@temporalio/common';
import type { NativeConnection, WorkerOptions, WorkflowBundleOption } from '@temporalio/worker';
import { Worker } from '@temporalio/worker';
import { createActivities } from '../activities';
import { FANOUT_TASK_QUEUE, hasServiceTaskQueue, serviceTaskQueue } from '../contracts';
import { Registry, RegistryError } from '../registry';
import type { BlobStore } from '../store/blob-store';
import { defaultBlobStore } from '../store/default-store';
import { withFanoutStorage } from '../store/payload-driver';
import { RecordStore } from '../store/records';
import { checkWorkflowBundle } from './bundle-check';
import { FanoutWorker } from './fanout-worker';
import { countPayloadsOffloaded } from './metrics';
import { FANOUT_WORKFLOWS_PATH, bundleFanoutWorkflows } from './workflow-bundle';

export interface FanoutWorkerOptions extends Omit<
  WorkerOptions,
  'connection' | 'taskQueue' | 'activities' | 'workflowsPath' | 'workflowBundle' | 'dataConverter'
> {
  connection: NativeConnection;
  registry: Registry;
  /** Default: FANOUT_TASK_QUEUE. Clients must start fan-outs on the same one. */
  taskQueue?: string;
  /** The app's own activities, served beside the fan-out's; a name both use is refused. */
  activities?: object;
  /**
   * The app's workflows module, which must `export * from 'temporal-fanout/workflows'` beside its own workflows
   * (workflow services among them). Default: the fan-out workflows alone.
   */
  workflowsPath?: string;
  /** A bundle built ahead of time (`writeWorkflowBundle`), in memory or as `{ codePath }`: no webpack at start. */
  workflowBundle?: WorkflowBundleOption;
  /** The app's data converter (payload, failure converters, codecs); the fan-out adds its External Storage. */
  dataConverter?: DataConverter;
  /** Where records and large payloads live; the client must use the same. Default: `defaultBlobStore()`. */
  store?: BlobStore;
}

export async function createFanoutWorker(options: FanoutWorkerOptions): Promise<FanoutWorker> {
  const {
    registry,
    taskQueue,
    activities,
    workflowsPath,
    workflowBundle,
    dataConverter,
    store = defaultBlobStore(),
    ...workerOptions
  } = options;
  if (!Registry.is(registry)) throw new RegistryError('registry: expected a Registry of temporal-fanout');
  const allActivities = mergeActivities(
    activities ?? {},
    createActivities({ registry, records: new RecordStore(store), taskQueue: taskQueue ?? FANOUT_TASK_QUEUE }),
  );
  // Bundled here rather than by Worker.create, with the options it would use, so the bundle can be checked first.
  const bundle =
    workflowBundle ??
    (await bundleFanoutWorkflows(workflowsPath ?? FANOUT_WORKFLOWS_PATH, {
      workflowInterceptorModules: workerOptions.interceptors?.workflowModules,
      payloadConverterPath: dataConverter?.payloadConverterPath,
      failureConverterPath: dataConverter?.failureConverterPath,
      ...workerOptions.bundlerOptions,
      plugins: workerOptions.plugins,
    }));
  if (workflowBundle) checkWorkflowBundle(workflowBundle);
  // What went into the bundle stays out of Worker.create, which would warn that it ignores it.
  const { bundlerOptions: _bundlerOptions, interceptors, ...rest } = workerOptions;
  const queue = taskQueue ?? FANOUT_TASK_QUEUE;
  const converter = withFanoutStorage(dataConverter, store, countPayloadsOffloaded);
  const shared = {
    ...rest,
    ...(interceptors ? { interceptors: { ...interceptors, workflowModules: undefined } } : {}),
    // A batch heartbeats every second and hears of its cancellation (a stopped fan-out) only in a heartbeat's
    // answer: sent at most this often, cancellation reaches it within about a second, not 80% of its timeout.
    maxHeartbeatThrottleInterval: rest.maxHeartbeatThrottleInterval ?? '1 second',
    dataConverter: converter,
  };
  const worker = await Worker.create({
    ...shared,
    taskQueue: queue,
    activities: allActivities,
    workflowBundle: bundle,
  });
  // A service limited to so many targets a second is served on its own task queue, whose dispatch rate the server
  // keeps to the limit across all workers (each worker asks for the same rate).
  const serviceWorkers = await Promise.all(
    rateLimitedServices(registry).map(({ name, perSecond }) =>
      Worker.create({
        ...shared,
        taskQueue: serviceTaskQueue(queue, name),
        activities: { [name]: allActivities[name] },
        maxTaskQueueActivitiesPerSecond: perSecond,
      }),
    ),
  );
  return new FanoutWorker(worker, serviceWorkers);
}

function rateLimitedServices(registry: Registry): { name: string; perSecond: number }[] {
  return [...registry.services.values()].flatMap((service) =>
    // Without a burst, its window limiter keeps the rate: its targets run on the fan-out's task queue.
    service.kind === 'activity' && hasServiceTaskQueue(service)
      ? [{ name: service.name, perSecond: service.limits!.perSecond! }]
      : [],
  );
}

function mergeActivities(own: object, fanout: Record<string, unknown>): Record<string, unknown> {
  const clashes = Object.keys(own).filter((name) => Object.hasOwn(fanout, name));
  if (clashes.length)
    throw new RegistryError(
      `activities named like the registry's services, callbacks or the fan-out's own: ${clashes.join(', ')}`,
    );
  return Object.assign(Object.create(null) as Record<string, unknown>, own, fanout);
}
