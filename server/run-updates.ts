/**
 * Workflow updates over the message protocol: an admitted update rides the next workflow task as a Request
 * message (sequenced after all events, like the real server); the worker answers with Acceptance, Rejection and
 * Response messages. Accepted and completed updates write events where their PROTOCOL_MESSAGE command stands;
 * rejections write nothing. Callers wait for a lifecycle stage.
 */
import { notFound } from './errors';
import { encodeMessage, decodeMessage, protoType } from './proto';
import type { Run } from './run';

type Attributes = Record<string, unknown>;

export const STAGES = [
  'UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_UNSPECIFIED',
  'UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ADMITTED',
  'UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ACCEPTED',
  'UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_COMPLETED',
] as const;

const TYPE_PREFIX = 'type.googleapis.com/';

export interface UpdateState {
  updateId: string;
  request: Attributes;
  state: 'admitted' | 'sent' | 'accepted' | 'completed' | 'aborted';
  outcome?: Attributes;
  acceptedEventId?: number;
  waiters: (() => void)[];
}

/** The stage an update has reached: accepted counts as completed once an outcome exists (rejection included). */
export function stageOf(update: UpdateState): number {
  if (update.outcome) return 3;
  if (update.state === 'accepted') return 2;
  return 1;
}

function notify(update: UpdateState): void {
  for (const waiter of update.waiters.splice(0)) waiter();
}

export function admitUpdate(run: Run, request: Attributes): UpdateState {
  const meta = (request.meta ?? {}) as Attributes;
  const updateId = meta.updateId as string;
  const existing = run.updates.get(updateId);
  if (existing) return existing;
  const update: UpdateState = { updateId, request, state: 'admitted', waiters: [] };
  run.updates.set(updateId, update);
  // Updates need a workflow task to reach the worker; one in flight carries them on its successor.
  if (!run.wt) run.scheduleWorkflowTask();
  return update;
}

/** Waits until the update reaches `stage` (1-3), the run closes, or the timeout passes. */
export function waitForStage(update: UpdateState, stage: number, timeoutMs: number): Promise<void> {
  if (stageOf(update) >= stage || update.state === 'aborted') return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    timer.unref?.();
    const check = () => {
      if (stageOf(update) >= stage || update.state === 'aborted') {
        clearTimeout(timer);
        resolve();
      } else {
        update.waiters.push(check);
      }
    };
    update.waiters.push(check);
  });
}

/** Request messages for the workflow task being started: every admitted update goes out now. */
export function requestMessages(run: Run, startedEventId: number): Attributes[] {
  const messages: Attributes[] = [];
  for (const update of run.updates.values()) {
    if (update.state !== 'admitted') continue;
    update.state = 'sent';
    messages.push({
      id: `${update.updateId}/request`,
      protocolInstanceId: update.updateId,
      eventId: startedEventId - 1,
      body: {
        type_url: TYPE_PREFIX + 'temporal.api.update.v1.Request',
        value: encodeMessage(protoType('temporal.api.update.v1.Request'), update.request),
      },
    });
  }
  return messages;
}

/** The task that carried these updates ended without an answer: they go out again with the next one. */
export function resendUnanswered(run: Run): boolean {
  let any = false;
  for (const update of run.updates.values()) {
    if (update.state === 'sent') {
      update.state = 'admitted';
      any = true;
    }
  }
  return any;
}

export interface DecodedMessage {
  id: string;
  updateId: string;
  kind: 'Acceptance' | 'Rejection' | 'Response' | 'Unknown';
  body: Attributes;
}

export function decodeMessages(messages: Attributes[] | undefined): Map<string, DecodedMessage> {
  const decoded = new Map<string, DecodedMessage>();
  for (const message of messages ?? []) {
    const body = (message.body ?? {}) as { type_url?: string; value?: Uint8Array };
    const typeName = (body.type_url ?? '').replace(TYPE_PREFIX, '');
    const kind = typeName.split('.').pop() as DecodedMessage['kind'];
    const known = ['Acceptance', 'Rejection', 'Response'].includes(kind);
    decoded.set(message.id as string, {
      id: message.id as string,
      updateId: message.protocolInstanceId as string,
      kind: known ? kind : 'Unknown',
      body: known && body.value ? decodeMessage(protoType(typeName), body.value) : {},
    });
  }
  return decoded;
}

/** Applies one message at its command's place (accept/complete), writing the real server's events. */
export function applyMessage(run: Run, message: DecodedMessage): void {
  const update = run.updates.get(message.updateId);
  if (!update) return;
  if (message.kind === 'Acceptance') {
    const event = run.write('WorkflowExecutionUpdateAccepted', {
      protocolInstanceId: update.updateId,
      acceptedRequestMessageId: message.body.acceptedRequestMessageId,
      acceptedRequestSequencingEventId: message.body.acceptedRequestSequencingEventId,
      acceptedRequest: message.body.acceptedRequest ?? update.request,
    });
    update.state = 'accepted';
    update.acceptedEventId = event.eventId;
  } else if (message.kind === 'Response') {
    run.write('WorkflowExecutionUpdateCompleted', {
      meta: message.body.meta,
      acceptedEventId: update.acceptedEventId,
      outcome: message.body.outcome,
    });
    update.state = 'completed';
    update.outcome = message.body.outcome as Attributes;
  } else if (message.kind === 'Rejection') {
    update.state = 'completed';
    update.outcome = { failure: message.body.failure };
  }
  notify(update);
}

/** The run closed: updates still waiting can never complete. */
export function abortUpdates(run: Run): void {
  for (const update of run.updates.values()) {
    if (update.state === 'admitted' || update.state === 'sent' || update.state === 'accepted') {
      update.state = 'aborted';
      notify(update);
    }
  }
}

export function findUpdate(run: Run, updateId: string): UpdateState {
  const update = run.updates.get(updateId);
  if (!update) throw notFound(`update ${updateId} not found`);
  return update;
}
