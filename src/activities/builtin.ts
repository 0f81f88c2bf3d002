/**
 * The signatures of the activities workflows call by name, for typed proxies on the workflow side and a checked
 * implementation on the worker side. Types only here: workflow code imports this module and must load nothing.
 */
import type {
  Catalog,
  PlannedTarget,
  ResultsManifest,
  StagedTargets,
  StoredRecord,
  WriteResultsInput,
} from '../contracts';
import type { DESCRIBE_CATALOG, LOAD_TARGETS, SAVE_RECORDS, WRITE_RESULTS } from '../constants';
import type { BatchActivities } from './batch';
import type { CallbackActivity } from './callbacks';
import type { ServiceActivity } from './services';

/**
 * The worker's own activities: its catalog (a local activity), the store of records workflows built, and the
 * loading of targets streamed into the store, and the results written out as files.
 */
export type BuiltinActivities = Record<typeof DESCRIBE_CATALOG, () => Promise<Catalog>> &
  Record<typeof SAVE_RECORDS, (cid: string, records: [number, StoredRecord][]) => Promise<void>> &
  Record<typeof LOAD_TARGETS, (staged: StagedTargets) => Promise<PlannedTarget[]>> &
  Record<typeof WRITE_RESULTS, (input: WriteResultsInput) => Promise<ResultsManifest>>;

/** The worker's activities that run batched targets. */
export type { BatchActivities };

/** One activity per registered service, named after it. */
export type ServiceActivities = Record<string, ServiceActivity>;

/** One activity per registered callback, named after it. */
export type CallbackActivities = Record<string, CallbackActivity>;
