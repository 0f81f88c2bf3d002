/**
 * WorkflowService handlers for starting, signalling, cancelling and terminating executions, and for the
 * worker side: polling and responding to workflow and activity tasks. Reads live in inspection-service.ts.
 */
import type * as grpc from '@grpc/grpc-js';
import { invalidArgument, notFound } from './errors';
import type { Matching } from './matching';
import type { Payloads } from './payloads';
import { payloadsSize } from './payloads';
import type { Run } from './run';
import {
  activityById,
  activityForToken,
  cancelActivity,
  completeActivity,
  failActivity,
  heartbeat,
} from './run-activities';
import type { Store } from './store';
import { decodeToken } from './tokens';
import { appendEncodedField, encodeMessage, protoType } from './proto';

type Request = Record<string, unknown>;
type Call = grpc.ServerUnaryCall<unknown, unknown>;
export type Handlers = Record<string, (request: Request, call: Call) => Promise<unknown> | unknown>;

export function workflowHandlers(store: Store, matching: Matching): Handlers {
  const blobLimit = () => store.ctx.limits.blobSizeBytes;

  function checkPayloads(payloads: unknown): void {
    if (payloadsSize(payloads as Payloads) > blobLimit()) {
      throw invalidArgument(`Blob data size exceeds limit of ${blobLimit()} bytes.`);
    }
  }

  function openRun(request: Request, executionField = 'workflowExecution'): Run {
    const namespace = store.checkNamespace(request.namespace);
    const run = store.getRun(namespace, request[executionField] as never);
    if (!run.isOpen) throw notFound('workflow execution already completed');
    return run;
  }

  function runForToken(token: { ns: string; wid: string; rid: string }): Run {
    const run = store.getRun(token.ns, { workflowId: token.wid, runId: token.rid });
    return run;
  }

  function activityTarget(request: Request) {
    if (request.taskToken && (request.taskToken as Uint8Array).length) {
      const token = decodeToken(request.taskToken);
      if (token.k !== 'a') throw invalidArgument('Task token is not an activity task token.');
      const run = runForToken(token);
      return { run, activity: activityForToken(run, token) };
    }
    throw invalidArgument('Task token not set on request.');
  }

  function activityTargetById(request: Request) {
    const namespace = store.checkNamespace(request.namespace);
    if (!request.activityId) throw invalidArgument('ActivityId is not set on request.');
    const run = store.getRun(namespace, { workflowId: request.workflowId as string, runId: request.runId as string });
    return { run, activity: activityById(run, request.activityId as string) };
  }

  return {
    StartWorkflowExecution(request) {
      const { run, started } = store.start(request);
      const response = { runId: run.runId, started, status: started ? 'WORKFLOW_EXECUTION_STATUS_RUNNING' : undefined };
      const eagerTask = started && request.requestEagerExecution ? run.startEagerly(request.identity as string) : null;
      if (!eagerTask) return response;
      const type = protoType('temporal.api.workflowservice.v1.StartWorkflowExecutionResponse');
      return appendEncodedField(encodeMessage(type, response), 2, eagerTask); // field 2: eagerWorkflowTask
    },

    SignalWithStartWorkflowExecution(request) {
      checkPayloads(request.signalInput);
      const namespace = store.checkNamespace(request.namespace);
      if (!request.signalName) throw invalidArgument('SignalName is not set on request.');
      const current = store.currentRun(namespace, request.workflowId as string);
      let run = current?.isOpen ? current : undefined;
      let started = false;
      if (!run) {
        run = store.start({ ...request, workflowIdConflictPolicy: 'WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING' }).run;
        started = true;
      }
      run.signal(request.signalName as string, request.signalInput, request.identity as string, request.header);
      return { runId: run.runId, started };
    },

    SignalWorkflowExecution(request) {
      checkPayloads(request.input);
      if (!request.signalName) throw invalidArgument('SignalName is not set on request.');
      const run = openRun(request);
      run.signal(request.signalName as string, request.input, request.identity as string, request.header);
      return {};
    },

    RequestCancelWorkflowExecution(request) {
      const run = openRun(request);
      run.requestCancel(request.identity as string, request.reason as string);
      return {};
    },

    TerminateWorkflowExecution(request) {
      const run = openRun(request);
      run.terminate(request.reason as string, request.details, request.identity as string);
      return {};
    },

    async PollWorkflowTaskQueue(request, call) {
      const namespace = store.checkNamespace(request.namespace);
      const taskQueue = request.taskQueue as { name?: string; kind?: string } | undefined;
      if (!taskQueue?.name) throw invalidArgument('TaskQueue is not set on request.');
      const context = { identity: request.identity as string };
      return (await matching.poll('workflow', namespace, taskQueue.name, context, call)) ?? {};
    },

    RespondWorkflowTaskCompleted(request) {
      const token = decodeToken(request.taskToken);
      if (token.k === 'q') throw invalidArgument('A query task is answered with RespondQueryTaskCompleted.');
      const run = runForToken(token);
      run.completeWorkflowTask(token as { sid: number; att: number }, request);
      return {};
    },

    RespondWorkflowTaskFailed(request) {
      const token = decodeToken(request.taskToken);
      if (token.k !== 'w') throw invalidArgument('Task token is not a workflow task token.');
      runForToken(token).failWorkflowTask(token, request);
      return {};
    },

    async PollActivityTaskQueue(request, call) {
      const namespace = store.checkNamespace(request.namespace);
      const taskQueue = request.taskQueue as { name?: string } | undefined;
      if (!taskQueue?.name) throw invalidArgument('TaskQueue is not set on request.');
      return (
        (await matching.poll('activity', namespace, taskQueue.name, { identity: request.identity as string }, call)) ??
        {}
      );
    },

    RespondActivityTaskCompleted(request) {
      const { run, activity } = activityTarget(request);
      completeActivity(run, activity, request.result as Payloads, request.identity as string);
      return {};
    },
    RespondActivityTaskCompletedById(request) {
      const { run, activity } = activityTargetById(request);
      completeActivity(run, activity, request.result as Payloads, request.identity as string);
      return {};
    },
    RespondActivityTaskFailed(request) {
      const { run, activity } = activityTarget(request);
      failActivity(run, activity, failureOf(request), request.identity as string, request.lastHeartbeatDetails);
      return {};
    },
    RespondActivityTaskFailedById(request) {
      const { run, activity } = activityTargetById(request);
      failActivity(run, activity, failureOf(request), request.identity as string, request.lastHeartbeatDetails);
      return {};
    },
    RespondActivityTaskCanceled(request) {
      const { run, activity } = activityTarget(request);
      cancelActivity(run, activity, request.details, request.identity as string);
      return {};
    },
    RespondActivityTaskCanceledById(request) {
      const { run, activity } = activityTargetById(request);
      cancelActivity(run, activity, request.details, request.identity as string);
      return {};
    },
    RecordActivityTaskHeartbeat(request) {
      checkPayloads(request.details);
      const { run, activity } = activityTarget(request);
      return heartbeat(run, activity, request.details);
    },
    RecordActivityTaskHeartbeatById(request) {
      checkPayloads(request.details);
      const { run, activity } = activityTargetById(request);
      return heartbeat(run, activity, request.details);
    },

    ShutdownWorker(request) {
      if (request.stickyTaskQueue) store.stickyQueueGone(request.stickyTaskQueue as string);
      // Answer every held poll at once so the worker's pollers drain; other workers simply poll again.
      matching.releaseAll();
      return {};
    },
    ResetStickyTaskQueue() {
      return {};
    },
  };
}

function failureOf(request: Request): Record<string, unknown> {
  return (
    (request.failure as Record<string, unknown>) ?? {
      message: 'activity failed without a failure',
      applicationFailureInfo: {},
    }
  );
}
