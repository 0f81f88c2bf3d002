/**
 * Visibility: what Describe and List return about runs, and the list filter applied over all runs of a namespace.
 */
import { invalidArgument } from './errors';
import { decodeJsonPayload } from './payloads';
import type { Run } from './run';
import { PREDEFINED_SEARCH_ATTRIBUTES } from './store';
import type { Store } from './store';
import { msToProto } from './time';
import type { SearchAttributeType, VisibilityRecord } from './visibility-query';
import { compileVisibilityQuery, InvalidVisibilityQueryError, sortValue } from './visibility-query';

const STATUS_ENUM: Record<string, string> = {
  Running: 'WORKFLOW_EXECUTION_STATUS_RUNNING',
  Completed: 'WORKFLOW_EXECUTION_STATUS_COMPLETED',
  Failed: 'WORKFLOW_EXECUTION_STATUS_FAILED',
  Canceled: 'WORKFLOW_EXECUTION_STATUS_CANCELED',
  Terminated: 'WORKFLOW_EXECUTION_STATUS_TERMINATED',
  ContinuedAsNew: 'WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW',
  TimedOut: 'WORKFLOW_EXECUTION_STATUS_TIMED_OUT',
};

export const INDEXED_VALUE_TYPE: Record<SearchAttributeType, string> = {
  Keyword: 'INDEXED_VALUE_TYPE_KEYWORD',
  Text: 'INDEXED_VALUE_TYPE_TEXT',
  Int: 'INDEXED_VALUE_TYPE_INT',
  Double: 'INDEXED_VALUE_TYPE_DOUBLE',
  Bool: 'INDEXED_VALUE_TYPE_BOOL',
  Datetime: 'INDEXED_VALUE_TYPE_DATETIME',
  KeywordList: 'INDEXED_VALUE_TYPE_KEYWORD_LIST',
};

export function statusEnum(run: Run): string {
  return STATUS_ENUM[run.status];
}

/**
 * Search attributes as the real server returns them: each payload carries its registered type in metadata,
 * even when the workflow upserted it without one, so clients can decode typed search attributes.
 */
function typedSearchAttributes(run: Run, types: ReadonlyMap<string, SearchAttributeType>): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const [name, payload] of Object.entries(run.searchAttributes)) {
    const type = types.get(name);
    fields[name] =
      type && !payload.metadata?.type
        ? { ...payload, metadata: { ...payload.metadata, type: Buffer.from(type) } }
        : payload;
  }
  return fields;
}

export function executionInfo(run: Run, types: ReadonlyMap<string, SearchAttributeType>): Record<string, unknown> {
  const parent = run.info.parent;
  return {
    execution: run.execution,
    type: { name: run.info.workflowType },
    startTime: msToProto(run.startTime),
    closeTime: run.closeTime !== undefined ? msToProto(run.closeTime) : undefined,
    status: statusEnum(run),
    historyLength: run.history.length,
    historySizeBytes: run.history.bytes,
    parentNamespaceId: parent?.namespace,
    parentExecution: parent ? { workflowId: parent.workflowId, runId: parent.runId } : undefined,
    executionTime: msToProto(run.startTime + (run.info.firstWorkflowTaskBackoffMs ?? 0)),
    memo: { fields: run.memo },
    searchAttributes: { indexedFields: typedSearchAttributes(run, types) },
    taskQueue: run.info.taskQueue,
    stateTransitionCount: run.history.length,
    executionDuration: run.closeTime !== undefined ? msToProto(run.closeTime - run.startTime) : undefined,
    rootExecution: run.info.rootExecution,
    firstRunId: run.info.firstRunId,
  };
}

function record(run: Run): VisibilityRecord {
  const searchAttributes: Record<string, unknown> = {};
  for (const [name, payload] of Object.entries(run.searchAttributes))
    searchAttributes[name] = decodeJsonPayload(payload);
  return {
    workflowId: run.workflowId,
    runId: run.runId,
    workflowType: run.info.workflowType,
    executionStatus: run.status,
    startTime: new Date(run.startTime),
    executionTime: new Date(run.startTime + (run.info.firstWorkflowTaskBackoffMs ?? 0)),
    closeTime: run.closeTime !== undefined ? new Date(run.closeTime) : undefined,
    taskQueue: run.info.taskQueue,
    searchAttributes,
  };
}

export function searchAttributeTypes(store: Store): Map<string, SearchAttributeType> {
  const types = new Map<string, SearchAttributeType>(Object.entries(PREDEFINED_SEARCH_ATTRIBUTES));
  for (const [name, type] of store.searchAttributes) types.set(name, type);
  return types;
}

/** Runs of a namespace matching a list filter, newest first, as the real server orders them by default. */
export function listRuns(store: Store, namespace: string, query: string): Run[] {
  let compiled;
  try {
    compiled = compileVisibilityQuery(query ?? '', searchAttributeTypes(store));
  } catch (error) {
    if (error instanceof InvalidVisibilityQueryError) throw invalidArgument(error.message);
    throw error;
  }
  const runs = store
    .allRuns(namespace)
    .map((run) => ({ run, record: record(run) }))
    .filter(({ record }) => compiled.matches(record));
  const orderBy = compiled.orderBy ?? { field: 'StartTime', desc: true };
  runs.sort((a, b) => {
    const x = sortValue(a.record, orderBy.field);
    const y = sortValue(b.record, orderBy.field);
    if (x === y) return 0;
    if (x === undefined) return 1; // missing values last, either way
    if (y === undefined) return -1;
    return (x < y ? -1 : 1) * (orderBy.desc ? -1 : 1);
  });
  return runs.map(({ run }) => run);
}
