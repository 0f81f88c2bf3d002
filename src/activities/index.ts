/**
 * All activities of a fan-out worker, built from its registry and result store: one per service, one per
 * callback, the catalog the workflows check names against at start, the one that stores records the workflows
 * built themselves, the one that writes the results out as files, and the two that run batched targets.
 */
import type { Catalog, StoredRecord } from '../contracts';
import { DESCRIBE_CATALOG, FANOUT_TASK_QUEUE, LOAD_TARGETS, SAVE_RECORDS, WRITE_RESULTS } from '../contracts';
import type { Registry } from '../registry';
import type { BuiltinActivities } from './builtin';
import type { RecordStore } from '../store/records';
import { mapLimit } from '../store/records';
import { readStagedTargets } from '../store/staged-targets';
import { countRecordsWritten } from '../worker/metrics';
import { createBatchActivities } from './batch';
import { BatchProgressReporter } from './batch-progress';
import { createCallbackActivities } from './callbacks';
import { createResultsActivity } from './results';
import { createServiceActivities } from './services';

export interface FanoutActivityDeps {
  registry: Registry;
  records: RecordStore;
  /** The fan-out's task queue, where concurrency-limited services' limiter workflows run. */
  taskQueue?: string;
}

export function createActivities({
  registry,
  records,
  taskQueue = FANOUT_TASK_QUEUE,
}: FanoutActivityDeps): Record<string, (...args: never[]) => Promise<unknown>> {
  // Null prototype: the worker takes own entries only, and so does anyone looking an activity up by name.
  const builtin: BuiltinActivities = {
    [DESCRIBE_CATALOG]: async (): Promise<Catalog> => registry.catalog(),
    [SAVE_RECORDS]: async (cid: string, batch: [number, StoredRecord][]): Promise<void> => {
      await mapLimit(batch, 16, ([index, stored]) => records.put(cid, index, stored));
      countRecordsWritten('workflow', batch.length);
    },
    [LOAD_TARGETS]: (staged) => readStagedTargets(records.blobs, staged),
    [WRITE_RESULTS]: createResultsActivity(records),
  };
  return Object.assign(Object.create(null) as Record<string, (...args: never[]) => Promise<unknown>>, {
    ...createServiceActivities(registry, records, taskQueue),
    ...createCallbackActivities(registry, records),
    ...builtin,
    ...createBatchActivities(registry, records, new BatchProgressReporter()),
  });
}
