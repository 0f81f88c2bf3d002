/**
 * `temporal-fanout`: Zato's fan-out / fan-in, parallel execution and invoke/retry on Temporal — what an app needs
 * to define its services and callbacks and to start and follow fan-outs. The worker, the workflows, the HTTP API,
 * the S3 store, delivery callbacks and test servers have entry points of their own.
 */
export * from './client';
export * from './contracts';
export { Registry, RegistryError, RESERVED_PREFIX, defineCallback, defineService } from './registry';
export type {
  ActivityService,
  AnyCallbackDefinition,
  CallbackDefinition,
  CallbackKind,
  CallbackPayload,
  ServiceDefinition,
  WorkflowService,
} from './registry';
export {
  pauseUpdate,
  progressQuery,
  redrivePlanQuery,
  resumeUpdate,
  setMaxConcurrencyUpdate,
} from './workflows/definitions';
export type { BlobStore, ListPage } from './store/blob-store';
export { LocalBlobStore } from './store/local-store';
export { storeFromEnv } from './store/config';
export { defaultBlobStore } from './store/default-store';
export { fanoutDataConverter, withFanoutStorage } from './store/payload-driver';
export { RecordStore } from './store/records';
export type { RecordPage } from './store/records';
export { MissingPeerDependencyError } from './optional-peer';
export { ServiceBusyError } from './service-busy';
export { TracingConfigError, startTracing, tracingConfigured, tracingWorkflowModules } from './tracing';
export type { FanoutTracing, TracingOptions } from './tracing';
