/**
 * `temporal-fanout/worker`: a worker that serves the fan-out beside an app's own activities and workflows, the
 * workflow bundle built ahead of time, and the connection settings read as the Temporal CLI reads them.
 */
export { createFanoutWorker } from './create-worker';
export { FanoutWorker } from './fanout-worker';
export type { FanoutWorkerOptions } from './create-worker';
export {
  FANOUT_WORKFLOWS_PATH,
  bundleFanoutWorkflows,
  workflowBundleFromEnv,
  writeWorkflowBundle,
} from './workflow-bundle';
export { WorkflowBundleError, checkWorkflowBundle } from './bundle-check';
export { temporalSettings } from './connection';
export type { TemporalConnectSettings } from './connection';
export { TracingConfigError, startTracing, tracingConfigured, tracingWorkflowModules } from '../tracing';
export type { FanoutTracing, TracingOptions } from '../tracing';
