/**
 * WorkflowService handlers for updates: UpdateWorkflowExecution with wait stages, PollWorkflowExecutionUpdate,
 * and ExecuteMultiOperation for update-with-start (errors wrapped in MultiOperationExecutionFailure).
 */
import { status } from '@grpc/grpc-js';
import { ServiceError, invalidArgument, notFound } from './errors';
import { encodeMessage, protoType } from './proto';
import type { Run } from './run';
import { STAGES, admitUpdate, findUpdate, stageOf, waitForStage } from './run-updates';
import type { UpdateState } from './run-updates';
import type { Store } from './store';
import type { Handlers } from './workflow-service';

type Request = Record<string, unknown>;

const UPDATE_LONG_POLL_MS = 20_000;

function requestedStage(request: Request): number {
  const stage = ((request.waitPolicy as Request | undefined)?.lifecycleStage as string) ?? STAGES[1];
  return Math.max(1, STAGES.indexOf(stage as (typeof STAGES)[number]));
}

async function respond(run: Run, update: UpdateState, stage: number): Promise<Record<string, unknown>> {
  await waitForStage(update, stage, UPDATE_LONG_POLL_MS);
  if (update.state === 'aborted') throw notFound('workflow execution already completed');
  const reached = stageOf(update);
  return {
    updateRef: { workflowExecution: run.execution, updateId: update.updateId },
    outcome: update.outcome,
    stage: STAGES[reached],
  };
}

export function updateHandlers(store: Store): Handlers {
  function admit(request: Request): { run: Run; update: UpdateState } {
    const namespace = store.checkNamespace(request.namespace);
    const run = store.getRun(namespace, request.workflowExecution as never);
    if (!run.isOpen) throw notFound('workflow execution already completed');
    const inner = request.request as Request | undefined;
    const meta = inner?.meta as Request | undefined;
    if (!meta?.updateId) throw invalidArgument('Update ID is not set on request.');
    if (!(inner?.input as Request | undefined)?.name) throw invalidArgument('Update name is not set on request.');
    return { run, update: admitUpdate(run, inner!) };
  }

  return {
    async UpdateWorkflowExecution(request) {
      const { run, update } = admit(request);
      return respond(run, update, requestedStage(request));
    },

    async PollWorkflowExecutionUpdate(request) {
      const namespace = store.checkNamespace(request.namespace);
      const ref = request.updateRef as Request | undefined;
      const run = store.getRun(namespace, ref?.workflowExecution as never);
      return respond(run, findUpdate(run, ref?.updateId as string), requestedStage(request));
    },

    async ExecuteMultiOperation(request) {
      const namespace = store.checkNamespace(request.namespace);
      const operations = (request.operations ?? []) as Request[];
      const start = operations[0]?.startWorkflow as Request | undefined;
      const update = operations[1]?.updateWorkflow as Request | undefined;
      if (operations.length !== 2 || !start || !update) {
        throw invalidArgument('ExecuteMultiOperation supports exactly [startWorkflow, updateWorkflow].');
      }
      let started;
      try {
        started = store.start({ ...start, namespace });
      } catch (error) {
        throw multiOperationFailure(error, 0);
      }
      const { run } = started;
      try {
        const { update: state } = admit({ ...update, namespace, workflowExecution: { workflowId: run.workflowId } });
        const updateResponse = await respond(run, state, Math.max(2, requestedStage(update)));
        return {
          responses: [
            {
              startWorkflow: {
                runId: run.runId,
                started: started.started,
                status: 'WORKFLOW_EXECUTION_STATUS_RUNNING',
              },
            },
            { updateWorkflow: updateResponse },
          ],
        };
      } catch (error) {
        throw multiOperationFailure(error, 1);
      }
    },
  };
}

/** The real server's shape: the failing operation's status, and "aborted" for the other one. */
function multiOperationFailure(error: unknown, failedIndex: number): ServiceError {
  const inner = error instanceof ServiceError ? error : new ServiceError(status.INTERNAL, String(error));
  const aborted = {
    code: status.ABORTED,
    message: 'Operation was aborted.',
    details: [
      {
        type_url: 'type.googleapis.com/temporal.api.failure.v1.MultiOperationExecutionAborted',
        value: Buffer.alloc(0),
      },
    ],
  };
  const failed = {
    code: inner.code,
    message: inner.message,
    details: inner.detail
      ? [
          {
            type_url: `type.googleapis.com/${inner.detail.type}`,
            value: encodeMessage(protoType(inner.detail.type), inner.detail.value),
          },
        ]
      : [],
  };
  return new ServiceError(inner.code, inner.message, {
    type: 'temporal.api.errordetails.v1.MultiOperationExecutionFailure',
    value: { statuses: failedIndex === 0 ? [failed, aborted] : [aborted, failed] },
  });
}
