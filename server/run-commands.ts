/**
 * Workflow task commands: validated all together first (limits, sizes, ids, search attributes), so a bad task
 * fails whole with the real server's cause, then applied in order, each writing its event.
 */
import { payloadsSize, decodeJsonPayload } from './payloads';
import type { Payload, Payloads } from './payloads';
import type { Run, ChildState } from './run';
import { normaliseActivityAttributes, requestCancelActivity, scheduleActivity } from './run-activities';
import { positiveMs } from './time';
import type { DecodedMessage } from './run-updates';
import { applyMessage } from './run-updates';

type Attributes = Record<string, unknown>;
type Command = Record<string, unknown>;

export interface InvalidCommands {
  cause: string;
  message: string;
}

const CAUSE = 'WORKFLOW_TASK_FAILED_CAUSE_';

function attributesOf(command: Command): Attributes {
  const key = Object.keys(command).find((k) => k.endsWith('CommandAttributes'));
  return (key ? command[key] : {}) as Attributes;
}

/** Payloads a command carries, for the blob size limit. */
function commandPayloads(attrs: Attributes): (Payloads | undefined)[] {
  return [attrs.input, attrs.result, attrs.details, attrs.lastCompletionResult] as (Payloads | undefined)[];
}

export function validateCommands(run: Run, commands: Command[]): InvalidCommands | undefined {
  const { limits, hooks } = run.ctx;
  let activities = run.activities.size;
  let children = [...run.children.values()].length;
  let signals = 0;
  let cancels = 0;
  const activityIds = new Set([...run.activities.values()].map((a) => a.activityId));
  const timerIds = new Set(run.timers.keys());
  for (const command of commands) {
    const attrs = attributesOf(command);
    for (const payloads of commandPayloads(attrs)) {
      if (payloadsSize(payloads) > limits.blobSizeBytes) {
        return {
          cause: CAUSE + 'PAYLOADS_TOO_LARGE',
          message: `${command.commandType}: payload size exceeds limit of ${limits.blobSizeBytes} bytes.`,
        };
      }
    }
    switch (command.commandType) {
      case 'COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK': {
        const id = attrs.activityId as string;
        if (!id || !(attrs.activityType as Attributes)?.name) {
          return {
            cause: CAUSE + 'BAD_SCHEDULE_ACTIVITY_ATTRIBUTES',
            message: 'ActivityId and ActivityType are required.',
          };
        }
        if (activityIds.has(id))
          return { cause: CAUSE + 'SCHEDULE_ACTIVITY_DUPLICATE_ID', message: `Activity ID ${id} is already in use.` };
        activityIds.add(id);
        if (++activities > limits.numPendingActivities) {
          return {
            cause: CAUSE + 'PENDING_ACTIVITIES_LIMIT_EXCEEDED',
            message: `the number of pending activities, ${activities - 1}, has reached the per-workflow limit of ${limits.numPendingActivities}`,
          };
        }
        break;
      }
      case 'COMMAND_TYPE_START_TIMER': {
        const id = attrs.timerId as string;
        if (!id) return { cause: CAUSE + 'BAD_START_TIMER_ATTRIBUTES', message: 'TimerId is not set.' };
        if (timerIds.has(id))
          return { cause: CAUSE + 'START_TIMER_DUPLICATE_ID', message: `Timer ID ${id} is already in use.` };
        timerIds.add(id);
        break;
      }
      case 'COMMAND_TYPE_START_CHILD_WORKFLOW_EXECUTION':
        if (!attrs.workflowId || !(attrs.workflowType as Attributes)?.name) {
          return {
            cause: CAUSE + 'BAD_START_CHILD_EXECUTION_ATTRIBUTES',
            message: 'WorkflowId and WorkflowType are required.',
          };
        }
        if (++children > limits.numPendingChildExecutions) {
          return {
            cause: CAUSE + 'PENDING_CHILD_WORKFLOWS_LIMIT_EXCEEDED',
            message: `the number of pending child workflow executions, ${children - 1}, has reached the per-workflow limit of ${limits.numPendingChildExecutions}`,
          };
        }
        break;
      case 'COMMAND_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION':
        if (++signals > limits.numPendingSignals) {
          return {
            cause: CAUSE + 'PENDING_SIGNALS_LIMIT_EXCEEDED',
            message: `the number of pending signals, ${signals - 1}, has reached the per-workflow limit of ${limits.numPendingSignals}`,
          };
        }
        break;
      case 'COMMAND_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION':
        if (++cancels > limits.numPendingCancelRequests) {
          return {
            cause: CAUSE + 'PENDING_REQUEST_CANCEL_LIMIT_EXCEEDED',
            message: `the number of pending requests to cancel external workflows, ${cancels - 1}, has reached the per-workflow limit of ${limits.numPendingCancelRequests}`,
          };
        }
        break;
      case 'COMMAND_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES': {
        const fields = (attrs.searchAttributes as Attributes | undefined)?.indexedFields as
          Record<string, Payload> | undefined;
        const problem = hooks.validateSearchAttributes(run.namespace, fields);
        if (problem) return { cause: CAUSE + 'BAD_SEARCH_ATTRIBUTES', message: problem };
        break;
      }
      default:
        break;
    }
  }
  return undefined;
}

export function applyCommands(
  run: Run,
  commands: Command[],
  completedEventId: number,
  messages: Map<string, DecodedMessage>,
): void {
  for (const command of commands) {
    if (!run.isOpen) return;
    const attrs = attributesOf(command);
    const metadata = command.userMetadata ?? undefined;
    const common = { workflowTaskCompletedEventId: completedEventId };
    switch (command.commandType) {
      case 'COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK': {
        const normalised = normaliseActivityAttributes(run, attrs);
        const event = run.write('ActivityTaskScheduled', { ...normalised, ...common }, metadata);
        scheduleActivity(run, normalised, event.eventId);
        break;
      }
      case 'COMMAND_TYPE_REQUEST_CANCEL_ACTIVITY_TASK': {
        const scheduledEventId = attrs.scheduledEventId as number;
        run.write('ActivityTaskCancelRequested', { scheduledEventId, ...common });
        const activity = run.activities.get(scheduledEventId);
        if (activity) requestCancelActivity(run, activity);
        break;
      }
      case 'COMMAND_TYPE_START_TIMER':
        startTimer(run, attrs, common, metadata);
        break;
      case 'COMMAND_TYPE_CANCEL_TIMER': {
        const timer = run.timers.get(attrs.timerId as string);
        if (timer) {
          run.ctx.clock.cancel(timer.timer);
          run.timers.delete(attrs.timerId as string);
          run.write('TimerCanceled', { timerId: attrs.timerId, startedEventId: timer.startedEventId, ...common });
        }
        break;
      }
      case 'COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION':
        run.close('Completed', 'WorkflowExecutionCompleted', { result: attrs.result ?? undefined, ...common });
        break;
      case 'COMMAND_TYPE_FAIL_WORKFLOW_EXECUTION':
        run.close('Failed', 'WorkflowExecutionFailed', {
          failure: attrs.failure ?? undefined,
          retryState: 'RETRY_STATE_RETRY_POLICY_NOT_SET',
          ...common,
        });
        break;
      case 'COMMAND_TYPE_CANCEL_WORKFLOW_EXECUTION':
        run.close('Canceled', 'WorkflowExecutionCanceled', { details: attrs.details ?? undefined, ...common });
        break;
      case 'COMMAND_TYPE_CONTINUE_AS_NEW_WORKFLOW_EXECUTION':
        run.ctx.hooks.continueAsNew(run, { ...attrs, ...common });
        break;
      case 'COMMAND_TYPE_START_CHILD_WORKFLOW_EXECUTION':
        startChild(run, attrs, common, metadata);
        break;
      case 'COMMAND_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION': {
        const event = run.write('SignalExternalWorkflowExecutionInitiated', {
          namespace: attrs.namespace || run.namespace,
          workflowExecution: attrs.execution,
          signalName: attrs.signalName,
          input: attrs.input ?? undefined,
          control: attrs.control,
          childWorkflowOnly: attrs.childWorkflowOnly,
          header: attrs.header ?? undefined,
          ...common,
        });
        run.ctx.hooks.signalExternal(run, event.eventId, { ...attrs, ...common });
        break;
      }
      case 'COMMAND_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION': {
        const event = run.write('RequestCancelExternalWorkflowExecutionInitiated', {
          namespace: attrs.namespace || run.namespace,
          workflowExecution: { workflowId: attrs.workflowId, runId: attrs.runId || undefined },
          control: attrs.control,
          childWorkflowOnly: attrs.childWorkflowOnly,
          reason: attrs.reason,
          ...common,
        });
        run.ctx.hooks.cancelExternal(run, event.eventId, { ...attrs, ...common });
        break;
      }
      case 'COMMAND_TYPE_RECORD_MARKER':
        run.write(
          'MarkerRecorded',
          {
            markerName: attrs.markerName,
            details: attrs.details ?? undefined,
            header: attrs.header ?? undefined,
            failure: attrs.failure ?? undefined,
            ...common,
          },
          metadata,
        );
        break;
      case 'COMMAND_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES': {
        const fields = ((attrs.searchAttributes as Attributes | undefined)?.indexedFields ?? {}) as Record<
          string,
          Payload
        >;
        for (const [name, payload] of Object.entries(fields)) {
          // An upsert of null (or empty data) removes the attribute, as on the real server.
          if (!payload?.data?.length || decodeJsonPayload(payload) === null) delete run.searchAttributes[name];
          else run.searchAttributes[name] = payload;
        }
        run.write('UpsertWorkflowSearchAttributes', { searchAttributes: { indexedFields: fields }, ...common });
        break;
      }
      case 'COMMAND_TYPE_MODIFY_WORKFLOW_PROPERTIES': {
        const fields = ((attrs.upsertedMemo as Attributes | undefined)?.fields ?? {}) as Record<string, Payload>;
        for (const [name, payload] of Object.entries(fields)) {
          if (!payload?.data?.length) delete run.memo[name];
          else run.memo[name] = payload;
        }
        run.write('WorkflowPropertiesModified', { upsertedMemo: { fields }, ...common });
        break;
      }
      case 'COMMAND_TYPE_PROTOCOL_MESSAGE': {
        const message = messages.get(attrs.messageId as string);
        if (message) {
          messages.delete(message.id);
          applyMessage(run, message);
        }
        break;
      }
      default:
        // Nexus operations are not supported by the embedded server.
        break;
    }
  }
}

function startTimer(run: Run, attrs: Attributes, common: Attributes, metadata: unknown): void {
  const timerId = attrs.timerId as string;
  const delayMs = positiveMs(attrs.startToFireTimeout as never) ?? 0;
  const event = run.write(
    'TimerStarted',
    { timerId, startToFireTimeout: attrs.startToFireTimeout, ...common },
    metadata,
  );
  const entry = {
    startedEventId: event.eventId,
    timer: run.ctx.clock.schedule(delayMs, () => {
      if (run.timers.get(timerId) !== entry) return;
      // The timer stays pending until its event is written: a CancelTimer in the meantime still finds it.
      run.external(() => {
        if (run.timers.get(timerId) !== entry) return;
        run.timers.delete(timerId);
        run.write('TimerFired', { timerId, startedEventId: event.eventId });
      });
    }),
  };
  run.timers.set(timerId, entry);
}

function startChild(run: Run, attrs: Attributes, common: Attributes, metadata: unknown): void {
  const namespace = (attrs.namespace as string) || run.namespace;
  const parentClosePolicy = (attrs.parentClosePolicy as string) || 'PARENT_CLOSE_POLICY_TERMINATE';
  const event = run.write(
    'StartChildWorkflowExecutionInitiated',
    {
      ...attrs,
      namespace,
      taskQueue: (attrs.taskQueue as Attributes)?.name
        ? attrs.taskQueue
        : { name: run.info.taskQueue, kind: 'TASK_QUEUE_KIND_NORMAL' },
      parentClosePolicy,
      ...common,
    },
    metadata,
  );
  const child: ChildState = {
    initiatedEventId: event.eventId,
    namespace,
    workflowId: attrs.workflowId as string,
    workflowType: (attrs.workflowType as Attributes).name as string,
    parentClosePolicy,
  };
  run.children.set(event.eventId, child);
  run.ctx.hooks.startChild(run, child, { ...attrs, namespace, userMetadata: metadata });
}
