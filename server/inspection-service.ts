/**
 * WorkflowService handlers that read: system and namespace info, history (with long poll and close-event
 * filter), describe, list and count, and queries (dispatched to a worker as query tasks).
 */
import { randomUUID } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { ServiceError, invalidArgument } from './errors';
import { appendEncodedField, encodeMessage, protoType } from './proto';
import type { PendingQuery, Run } from './run';
import { retryPolicyProto } from './run-activities';
import type { Store } from './store';
import { msToProto } from './time';
import { decodeToken } from './tokens';
import { INDEXED_VALUE_TYPE, executionInfo, listRuns, searchAttributeTypes, statusEnum } from './visibility';
import type { Handlers } from './workflow-service';

const HISTORY_LONG_POLL_MS = 20_000;
const QUERY_TIMEOUT_MS = 30_000;
const DEFAULT_PAGE_SIZE = 1000;

export const SERVER_VERSION = '1.27.0';

export function inspectionHandlers(store: Store): Handlers {
  const queries = new Map<string, PendingQuery>();

  function namespaceDescription(name: string) {
    return {
      namespaceInfo: {
        name,
        state: 'NAMESPACE_STATE_REGISTERED',
        id: `embedded-${name}`,
        description: 'embedded server namespace',
      },
      config: {
        workflowExecutionRetentionTtl: msToProto(24 * 3600 * 1000),
        historyArchivalState: 'ARCHIVAL_STATE_DISABLED',
        visibilityArchivalState: 'ARCHIVAL_STATE_DISABLED',
      },
      isGlobalNamespace: false,
    };
  }

  function pageToken(offset: number, runId: string): Buffer {
    return Buffer.from(JSON.stringify({ offset, runId }));
  }

  function readPageToken(token: unknown): { offset: number; runId?: string } {
    if (!token || !(token as Uint8Array).length) return { offset: 0 };
    try {
      const parsed = JSON.parse(Buffer.from(token as Uint8Array).toString()) as { offset: number; runId?: string };
      if (typeof parsed.offset !== 'number' || parsed.offset < 0) throw new Error();
      return parsed;
    } catch {
      throw invalidArgument('Invalid NextPageToken.');
    }
  }

  function encodeHistoryResponse(run: Run, from: number, to: number, nextPageToken?: Buffer): Buffer {
    const type = protoType('temporal.api.workflowservice.v1.GetWorkflowExecutionHistoryResponse');
    return appendEncodedField(encodeMessage(type, { nextPageToken }), 1, run.history.encodeRange(from, to));
  }

  return {
    GetSystemInfo() {
      return {
        serverVersion: SERVER_VERSION,
        capabilities: {
          signalAndQueryHeader: true,
          internalErrorDifferentiation: true,
          activityFailureIncludeHeartbeat: true,
          supportsSchedules: false,
          encodedFailureAttributes: true,
          upsertMemo: true,
          eagerWorkflowStart: true,
          sdkMetadata: true,
          countGroupByExecutionStatus: false,
        },
      };
    },
    GetClusterInfo() {
      return {
        clusterName: 'embedded',
        serverVersion: SERVER_VERSION,
        historyShardCount: 1,
        persistenceStore: 'memory',
        visibilityStore: 'memory',
      };
    },
    DescribeNamespace(request) {
      const name = (request.namespace as string) || '';
      store.checkNamespace(name);
      return namespaceDescription(name);
    },
    ListNamespaces() {
      return { namespaces: [...store.namespaces].map(namespaceDescription) };
    },
    GetSearchAttributes() {
      const keys: Record<string, string> = {};
      for (const [name, type] of searchAttributeTypes(store)) keys[name] = INDEXED_VALUE_TYPE[type];
      for (const name of ['WorkflowId', 'RunId', 'WorkflowType', 'TaskQueue'])
        keys[name] = 'INDEXED_VALUE_TYPE_KEYWORD';
      for (const name of ['StartTime', 'CloseTime', 'ExecutionTime']) keys[name] = 'INDEXED_VALUE_TYPE_DATETIME';
      keys.ExecutionStatus = 'INDEXED_VALUE_TYPE_KEYWORD';
      return { keys };
    },

    async GetWorkflowExecutionHistory(request) {
      const namespace = store.checkNamespace(request.namespace);
      const execution = request.execution as { workflowId?: string; runId?: string };
      const token = readPageToken(request.nextPageToken);
      const run = store.getRun(namespace, {
        workflowId: execution?.workflowId,
        runId: execution?.runId || token.runId,
      });
      const closeOnly = request.historyEventFilterType === 'HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT';
      if (closeOnly) {
        if (run.isOpen && request.waitNewEvent) await run.waitForClose(HISTORY_LONG_POLL_MS);
        if (run.isOpen) return { nextPageToken: pageToken(0, run.runId) };
        return encodeHistoryResponse(run, run.history.length - 1, run.history.length);
      }
      if (request.waitNewEvent && token.offset >= run.history.length && run.isOpen) {
        await run.waitForEvent(HISTORY_LONG_POLL_MS);
      }
      const pageSize =
        (request.maximumPageSize as number) > 0 ? (request.maximumPageSize as number) : DEFAULT_PAGE_SIZE;
      const from = Math.min(token.offset, run.history.length);
      const to = Math.min(from + pageSize, run.history.length);
      const more = to < run.history.length || (request.waitNewEvent && run.isOpen);
      return encodeHistoryResponse(run, from, to, more ? pageToken(to, run.runId) : undefined);
    },

    DescribeWorkflowExecution(request) {
      const namespace = store.checkNamespace(request.namespace);
      const run = store.getRun(namespace, request.execution as never);
      return {
        executionConfig: {
          taskQueue: { name: run.info.taskQueue, kind: 'TASK_QUEUE_KIND_NORMAL' },
          workflowExecutionTimeout: run.info.executionTimeoutMs ? msToProto(run.info.executionTimeoutMs) : undefined,
          workflowRunTimeout: run.info.runTimeoutMs ? msToProto(run.info.runTimeoutMs) : undefined,
          defaultWorkflowTaskTimeout: msToProto(run.info.workflowTaskTimeoutMs),
          userMetadata: run.info.userMetadata ?? undefined,
        },
        workflowExecutionInfo: executionInfo(run, searchAttributeTypes(store)),
        pendingActivities: [...run.activities.values()].map((a) => ({
          activityId: a.activityId,
          activityType: { name: a.activityType },
          state: a.cancelRequested
            ? 'PENDING_ACTIVITY_STATE_CANCEL_REQUESTED'
            : a.state === 'started'
              ? 'PENDING_ACTIVITY_STATE_STARTED'
              : 'PENDING_ACTIVITY_STATE_SCHEDULED',
          heartbeatDetails: a.heartbeatDetails ?? undefined,
          lastHeartbeatTime: a.lastHeartbeatTime ? msToProto(a.lastHeartbeatTime) : undefined,
          lastStartedTime: a.lastStartedTime ? msToProto(a.lastStartedTime) : undefined,
          attempt: a.attempt,
          maximumAttempts: a.retry.maximumAttempts,
          scheduledTime: msToProto(a.attemptScheduledTime),
          expirationTime: msToProto(a.scheduledTime + a.scheduleToCloseMs),
          lastFailure: a.lastFailure ?? undefined,
          lastWorkerIdentity: a.lastWorkerIdentity,
          nextAttemptScheduleTime: a.nextAttemptTime ? msToProto(a.nextAttemptTime) : undefined,
          activityOptions: {
            taskQueue: { name: a.taskQueue },
            scheduleToCloseTimeout: msToProto(a.scheduleToCloseMs),
            scheduleToStartTimeout: msToProto(a.scheduleToStartMs),
            startToCloseTimeout: msToProto(a.startToCloseMs),
            heartbeatTimeout: a.heartbeatMs ? msToProto(a.heartbeatMs) : undefined,
            retryPolicy: retryPolicyProto(a.retry),
          },
        })),
        pendingChildren: [...run.children.values()].map((c) => ({
          workflowId: c.workflowId,
          runId: c.runId,
          workflowTypeName: c.workflowType,
          initiatedId: c.initiatedEventId,
          parentClosePolicy: c.parentClosePolicy,
        })),
        pendingWorkflowTask: run.wt
          ? {
              state:
                run.wt.state === 'started'
                  ? 'PENDING_WORKFLOW_TASK_STATE_STARTED'
                  : 'PENDING_WORKFLOW_TASK_STATE_SCHEDULED',
              attempt: run.wt.attempt,
              scheduledTime: run.history.events[run.wt.scheduledEventId - 1].eventTime,
            }
          : undefined,
        workflowExtendedInfo: {
          executionExpirationTime: run.info.executionExpirationTime
            ? msToProto(run.info.executionExpirationTime)
            : undefined,
          cancelRequested: run.cancelRequested,
          originalStartTime: msToProto(run.startTime),
        },
      };
    },

    ListWorkflowExecutions(request) {
      const namespace = store.checkNamespace(request.namespace);
      const runs = listRuns(store, namespace, request.query as string);
      const pageSize = (request.pageSize as number) > 0 ? (request.pageSize as number) : DEFAULT_PAGE_SIZE;
      const { offset } = readPageToken(request.nextPageToken);
      const page = runs.slice(offset, offset + pageSize);
      const next = offset + pageSize < runs.length ? pageToken(offset + pageSize, '') : undefined;
      const types = searchAttributeTypes(store);
      return { executions: page.map((r) => executionInfo(r, types)), nextPageToken: next };
    },
    ScanWorkflowExecutions(request, call) {
      return this.ListWorkflowExecutions(request, call);
    },
    CountWorkflowExecutions(request) {
      const namespace = store.checkNamespace(request.namespace);
      return { count: listRuns(store, namespace, request.query as string).length };
    },

    QueryWorkflow(request) {
      const namespace = store.checkNamespace(request.namespace);
      const run = store.getRun(namespace, request.execution as never);
      const query = request.query as Record<string, unknown> | undefined;
      if (!query?.queryType) throw invalidArgument('QueryType is not set on request.');
      const condition = request.queryRejectCondition as string | undefined;
      if (
        (condition === 'QUERY_REJECT_CONDITION_NOT_OPEN' && !run.isOpen) ||
        (condition === 'QUERY_REJECT_CONDITION_NOT_COMPLETED_CLEANLY' && !run.isOpen && run.status !== 'Completed')
      ) {
        return { queryRejected: { status: statusEnum(run) } };
      }
      return new Promise((resolve, reject) => {
        const id = randomUUID();
        const timer = setTimeout(() => {
          queries.delete(id);
          reject(new ServiceError(status.DEADLINE_EXCEEDED, 'query timed out: no worker answered'));
        }, QUERY_TIMEOUT_MS);
        const pending: PendingQuery = {
          id,
          query,
          resolve: (value) => {
            clearTimeout(timer);
            resolve(value);
          },
          reject: (error) => {
            clearTimeout(timer);
            reject(error);
          },
        };
        queries.set(id, pending);
        run.dispatchQuery(pending);
      });
    },

    RespondQueryTaskCompleted(request) {
      const token = decodeToken(request.taskToken);
      if (token.k !== 'q') throw invalidArgument('Task token is not a query task token.');
      const pending = queries.get(token.id);
      if (!pending) throw new ServiceError(status.NOT_FOUND, 'query not found or already timed out');
      queries.delete(token.id);
      if (request.completedType === 'QUERY_RESULT_TYPE_ANSWERED') {
        pending.resolve({ queryResult: request.queryResult ?? undefined });
      } else {
        const message = (request.errorMessage as string) || 'query failed';
        pending.reject(
          new ServiceError(status.INVALID_ARGUMENT, message, {
            type: 'temporal.api.errordetails.v1.QueryFailedFailure',
            value: { failure: request.failure ?? { message } },
          }),
        );
      }
      return {};
    },
  };
}
