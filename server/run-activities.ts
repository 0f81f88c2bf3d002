/**
 * Activities of a run: scheduling with the server's default timeouts and retry policy, dispatch, heartbeats,
 * server-side retries with backoff, the four timeouts, cancellation, and the events each outcome writes.
 * As on the real server, ActivityTaskStarted is written only when an attempt ends, carrying attempt and lastFailure.
 */
import type { Timer } from './clock';
import { notFound } from './errors';
import type { PollContext } from './matching';
import type { Payloads } from './payloads';
import { payloadsSize } from './payloads';
import type { Run } from './run';
import { msToProto, positiveMs, protoToMs } from './time';
import { encodeToken } from './tokens';

const FOREVER_MS = 10 * 365 * 24 * 3600 * 1000;

export interface RetryPolicy {
  initialIntervalMs: number;
  backoffCoefficient: number;
  maximumIntervalMs: number;
  maximumAttempts: number;
  nonRetryableErrorTypes: string[];
}

export interface ActivityState {
  scheduledEventId: number;
  activityId: string;
  activityType: string;
  taskQueue: string;
  input?: Payloads;
  header?: unknown;
  scheduleToCloseMs: number;
  scheduleToStartMs: number;
  startToCloseMs: number;
  heartbeatMs?: number;
  retry: RetryPolicy;
  attempt: number;
  state: 'scheduled' | 'started' | 'backoff';
  scheduledTime: number;
  attemptScheduledTime: number;
  startedTime?: number;
  cancelRequested: boolean;
  lastFailure?: Record<string, unknown>;
  heartbeatDetails?: unknown;
  lastHeartbeatTime?: number;
  lastStartedTime?: number;
  lastWorkerIdentity?: string;
  nextAttemptTime?: number;
  outstanding: boolean;
  timers: {
    scheduleToClose?: Timer;
    scheduleToStart?: Timer;
    startToClose?: Timer;
    heartbeat?: Timer;
    backoff?: Timer;
  };
  priority?: unknown;
}

type Attributes = Record<string, unknown>;

/** Fills timeouts and retry policy the way the real server does before writing ActivityTaskScheduled. */
export function normaliseActivityAttributes(run: Run, attrs: Attributes): Attributes {
  const runRemaining = run.info.runTimeoutMs ?? run.info.executionTimeoutMs ?? FOREVER_MS;
  let scheduleToClose = positiveMs(attrs.scheduleToCloseTimeout as never);
  let startToClose = positiveMs(attrs.startToCloseTimeout as never);
  let scheduleToStart = positiveMs(attrs.scheduleToStartTimeout as never);
  scheduleToClose = Math.min(scheduleToClose ?? runRemaining, runRemaining);
  startToClose = Math.min(startToClose ?? scheduleToClose, scheduleToClose);
  scheduleToStart = Math.min(scheduleToStart ?? scheduleToClose, scheduleToClose);
  const heartbeat = positiveMs(attrs.heartbeatTimeout as never);
  const given = (attrs.retryPolicy ?? {}) as Attributes;
  const initial = positiveMs(given.initialInterval as never) ?? 1000;
  return {
    ...attrs,
    taskQueue:
      attrs.taskQueue && (attrs.taskQueue as Attributes).name
        ? attrs.taskQueue
        : { name: run.info.taskQueue, kind: 'TASK_QUEUE_KIND_NORMAL' },
    scheduleToCloseTimeout: msToProto(scheduleToClose),
    scheduleToStartTimeout: msToProto(scheduleToStart),
    startToCloseTimeout: msToProto(startToClose),
    heartbeatTimeout: heartbeat ? msToProto(Math.min(heartbeat, startToClose)) : undefined,
    retryPolicy: {
      initialInterval: msToProto(initial),
      backoffCoefficient: (given.backoffCoefficient as number) || 2,
      maximumInterval: msToProto(positiveMs(given.maximumInterval as never) ?? 100 * initial),
      maximumAttempts: (given.maximumAttempts as number) ?? 0,
      nonRetryableErrorTypes: (given.nonRetryableErrorTypes as string[]) ?? [],
    },
  };
}

export function scheduleActivity(run: Run, attrs: Attributes, scheduledEventId: number): void {
  const retry = attrs.retryPolicy as Attributes;
  const now = run.ctx.clock.now();
  const activity: ActivityState = {
    scheduledEventId,
    activityId: attrs.activityId as string,
    activityType: (attrs.activityType as Attributes).name as string,
    taskQueue: (attrs.taskQueue as Attributes).name as string,
    input: attrs.input as Payloads | undefined,
    header: attrs.header,
    scheduleToCloseMs: protoToMs(attrs.scheduleToCloseTimeout as never)!,
    scheduleToStartMs: protoToMs(attrs.scheduleToStartTimeout as never)!,
    startToCloseMs: protoToMs(attrs.startToCloseTimeout as never)!,
    heartbeatMs: positiveMs(attrs.heartbeatTimeout as never),
    retry: {
      initialIntervalMs: protoToMs(retry.initialInterval as never)!,
      backoffCoefficient: retry.backoffCoefficient as number,
      maximumIntervalMs: protoToMs(retry.maximumInterval as never)!,
      maximumAttempts: retry.maximumAttempts as number,
      nonRetryableErrorTypes: retry.nonRetryableErrorTypes as string[],
    },
    attempt: 1,
    state: 'scheduled',
    scheduledTime: now,
    attemptScheduledTime: now,
    cancelRequested: false,
    outstanding: false,
    timers: {},
    priority: attrs.priority,
  };
  run.activities.set(scheduledEventId, activity);
  activity.timers.scheduleToClose = run.ctx.clock.schedule(activity.scheduleToCloseMs, () =>
    timeOut(run, activity, 'TIMEOUT_TYPE_SCHEDULE_TO_CLOSE'),
  );
  dispatch(run, activity);
}

function setOutstanding(run: Run, activity: ActivityState, outstanding: boolean): void {
  if (activity.outstanding === outstanding) return;
  activity.outstanding = outstanding;
  run.ctx.clock.addOutstanding(outstanding ? 1 : -1);
}

function dispatch(run: Run, activity: ActivityState): void {
  activity.state = 'scheduled';
  activity.attemptScheduledTime = run.ctx.clock.now();
  setOutstanding(run, activity, true);
  const attempt = activity.attempt;
  activity.timers.scheduleToStart = run.ctx.clock.schedule(activity.scheduleToStartMs, () => {
    if (activity.attempt === attempt && activity.state === 'scheduled')
      timeOut(run, activity, 'TIMEOUT_TYPE_SCHEDULE_TO_START');
  });
  run.ctx.matching.add('activity', run.namespace, activity.taskQueue, (poll) => start(run, activity, attempt, poll));
}

function start(run: Run, activity: ActivityState, attempt: number, poll: PollContext): unknown | null {
  if (!run.isOpen || run.activities.get(activity.scheduledEventId) !== activity) return null;
  if (activity.attempt !== attempt || activity.state !== 'scheduled') return null;
  const clock = run.ctx.clock;
  clock.cancel(activity.timers.scheduleToStart);
  activity.state = 'started';
  activity.startedTime = clock.now();
  activity.lastStartedTime = activity.startedTime;
  activity.lastWorkerIdentity = poll.identity;
  activity.timers.startToClose = clock.schedule(activity.startToCloseMs, () => {
    if (activity.attempt === attempt && activity.state === 'started')
      timeOut(run, activity, 'TIMEOUT_TYPE_START_TO_CLOSE');
  });
  armHeartbeatTimer(run, activity);
  return {
    taskToken: encodeToken({
      k: 'a',
      ns: run.namespace,
      wid: run.workflowId,
      rid: run.runId,
      sid: activity.scheduledEventId,
      att: attempt,
    }),
    workflowNamespace: run.namespace,
    workflowType: { name: run.info.workflowType },
    workflowExecution: run.execution,
    activityType: { name: activity.activityType },
    activityId: activity.activityId,
    header: activity.header ?? undefined,
    input: activity.input ?? undefined,
    heartbeatDetails: activity.heartbeatDetails ?? undefined,
    scheduledTime: msToProto(activity.scheduledTime),
    currentAttemptScheduledTime: msToProto(activity.attemptScheduledTime),
    startedTime: msToProto(activity.startedTime),
    attempt,
    scheduleToCloseTimeout: msToProto(activity.scheduleToCloseMs),
    startToCloseTimeout: msToProto(activity.startToCloseMs),
    heartbeatTimeout: activity.heartbeatMs ? msToProto(activity.heartbeatMs) : undefined,
    retryPolicy: retryPolicyProto(activity.retry),
    priority: activity.priority ?? undefined,
  };
}

function armHeartbeatTimer(run: Run, activity: ActivityState): void {
  if (!activity.heartbeatMs) return;
  run.ctx.clock.cancel(activity.timers.heartbeat);
  const attempt = activity.attempt;
  activity.timers.heartbeat = run.ctx.clock.schedule(activity.heartbeatMs, () => {
    if (activity.attempt === attempt && activity.state === 'started') timeOut(run, activity, 'TIMEOUT_TYPE_HEARTBEAT');
  });
}

export function retryPolicyProto(retry: RetryPolicy): Attributes {
  return {
    initialInterval: msToProto(retry.initialIntervalMs),
    backoffCoefficient: retry.backoffCoefficient,
    maximumInterval: msToProto(retry.maximumIntervalMs),
    maximumAttempts: retry.maximumAttempts,
    nonRetryableErrorTypes: retry.nonRetryableErrorTypes,
  };
}

/** The activity a token names, if it is still the current, started attempt. */
export function activityForToken(run: Run, token: { sid: number; att: number }): ActivityState {
  const activity = run.isOpen ? run.activities.get(token.sid) : undefined;
  if (!activity || activity.attempt !== token.att || activity.state !== 'started') {
    throw notFound('invalid activityID or activity already timed out or invoking workflow is completed');
  }
  return activity;
}

export function activityById(run: Run, activityId: string): ActivityState {
  const activity = run.isOpen ? [...run.activities.values()].find((a) => a.activityId === activityId) : undefined;
  if (!activity || activity.state !== 'started') {
    throw notFound('invalid activityID or activity already timed out or invoking workflow is completed');
  }
  return activity;
}

export function heartbeat(run: Run, activity: ActivityState, details: unknown): { cancelRequested: boolean } {
  activity.heartbeatDetails = details ?? activity.heartbeatDetails;
  activity.lastHeartbeatTime = run.ctx.clock.now();
  armHeartbeatTimer(run, activity);
  return { cancelRequested: activity.cancelRequested };
}

function finish(run: Run, activity: ActivityState): void {
  const clock = run.ctx.clock;
  for (const timer of Object.values(activity.timers)) clock.cancel(timer);
  activity.timers = {};
  setOutstanding(run, activity, false);
  run.activities.delete(activity.scheduledEventId);
}

/** Writes ActivityTaskStarted for the attempt that ends now, then the outcome event. */
function writeOutcome(run: Run, activity: ActivityState, started: boolean, type: string, attributes: Attributes): void {
  const attempt = activity.attempt;
  const lastFailure = activity.lastFailure;
  const identity = activity.lastWorkerIdentity;
  run.external(() => {
    let startedEventId = 0;
    if (started) {
      startedEventId = run.write('ActivityTaskStarted', {
        scheduledEventId: activity.scheduledEventId,
        identity,
        attempt,
        lastFailure: lastFailure ?? undefined,
      }).eventId;
    }
    run.write(type, { ...attributes, scheduledEventId: activity.scheduledEventId, startedEventId });
  });
}

export function completeActivity(
  run: Run,
  activity: ActivityState,
  result: Payloads | undefined,
  identity?: string,
): void {
  if (payloadsSize(result) > run.ctx.limits.blobSizeBytes) {
    // The real server turns an oversize result into a non-retryable failure rather than losing the attempt.
    failActivity(run, activity, serverFailure('Complete result exceeds size limit.', true), identity);
    return;
  }
  finish(run, activity);
  writeOutcome(run, activity, true, 'ActivityTaskCompleted', { result: result ?? undefined, identity });
}

export function cancelActivity(run: Run, activity: ActivityState, details: unknown, identity?: string): void {
  finish(run, activity);
  writeOutcome(run, activity, true, 'ActivityTaskCanceled', {
    details: details ?? undefined,
    latestCancelRequestedEventId: 0,
    identity,
  });
}

export function failActivity(
  run: Run,
  activity: ActivityState,
  failure: Attributes,
  identity?: string,
  lastHeartbeatDetails?: unknown,
): void {
  if (lastHeartbeatDetails) activity.heartbeatDetails = lastHeartbeatDetails;
  const { retryState, delayMs } = nextRetry(run, activity, failure);
  if (retryState === 'RETRY_STATE_IN_PROGRESS') {
    retryLater(run, activity, failure, delayMs!);
    return;
  }
  finish(run, activity);
  writeOutcome(run, activity, true, 'ActivityTaskFailed', { failure, identity, retryState });
}

const TIMEOUT_NAMES: Record<string, string> = {
  TIMEOUT_TYPE_START_TO_CLOSE: 'StartToClose',
  TIMEOUT_TYPE_SCHEDULE_TO_START: 'ScheduleToStart',
  TIMEOUT_TYPE_SCHEDULE_TO_CLOSE: 'ScheduleToClose',
  TIMEOUT_TYPE_HEARTBEAT: 'Heartbeat',
};

function timeOut(run: Run, activity: ActivityState, timeoutType: string): void {
  if (!run.isOpen || run.activities.get(activity.scheduledEventId) !== activity) return;
  const failure: Attributes = {
    message: `activity ${TIMEOUT_NAMES[timeoutType]} timeout`,
    source: 'Server',
    timeoutFailureInfo: { timeoutType, lastHeartbeatDetails: activity.heartbeatDetails ?? undefined },
  };
  const wasStarted = activity.state === 'started';
  if (timeoutType === 'TIMEOUT_TYPE_START_TO_CLOSE' || timeoutType === 'TIMEOUT_TYPE_HEARTBEAT') {
    const { retryState, delayMs } = nextRetry(run, activity, failure);
    if (retryState === 'RETRY_STATE_IN_PROGRESS') {
      retryLater(run, activity, failure, delayMs!);
      return;
    }
    finish(run, activity);
    writeOutcome(run, activity, wasStarted, 'ActivityTaskTimedOut', { failure, retryState });
    return;
  }
  if (activity.lastFailure && timeoutType === 'TIMEOUT_TYPE_SCHEDULE_TO_CLOSE') failure.cause = activity.lastFailure;
  finish(run, activity);
  writeOutcome(run, activity, wasStarted, 'ActivityTaskTimedOut', {
    failure,
    retryState:
      timeoutType === 'TIMEOUT_TYPE_SCHEDULE_TO_CLOSE' ? 'RETRY_STATE_TIMEOUT' : 'RETRY_STATE_NON_RETRYABLE_FAILURE',
  });
}

/** The server's retry decision: non-retryable flags and types, attempts, and the schedule-to-close budget. */
function nextRetry(run: Run, activity: ActivityState, failure: Attributes): { retryState: string; delayMs?: number } {
  const info = failure.applicationFailureInfo as Attributes | undefined;
  if (failure.canceledFailureInfo) return { retryState: 'RETRY_STATE_NON_RETRYABLE_FAILURE' };
  if ((failure.serverFailureInfo as Attributes | undefined)?.nonRetryable)
    return { retryState: 'RETRY_STATE_NON_RETRYABLE_FAILURE' };
  if (info?.nonRetryable) return { retryState: 'RETRY_STATE_NON_RETRYABLE_FAILURE' };
  if (info && activity.retry.nonRetryableErrorTypes.includes(info.type as string)) {
    return { retryState: 'RETRY_STATE_NON_RETRYABLE_FAILURE' };
  }
  if (activity.cancelRequested) return { retryState: 'RETRY_STATE_CANCEL_REQUESTED' };
  const { maximumAttempts, initialIntervalMs, backoffCoefficient, maximumIntervalMs } = activity.retry;
  if (maximumAttempts > 0 && activity.attempt >= maximumAttempts)
    return { retryState: 'RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED' };
  const explicit = positiveMs(info?.nextRetryDelay as never);
  const delayMs =
    explicit ?? Math.min(initialIntervalMs * backoffCoefficient ** (activity.attempt - 1), maximumIntervalMs);
  if (run.ctx.clock.now() + delayMs > activity.scheduledTime + activity.scheduleToCloseMs)
    return { retryState: 'RETRY_STATE_TIMEOUT' };
  return { retryState: 'RETRY_STATE_IN_PROGRESS', delayMs };
}

function retryLater(run: Run, activity: ActivityState, failure: Attributes, delayMs: number): void {
  const clock = run.ctx.clock;
  clock.cancel(activity.timers.startToClose);
  clock.cancel(activity.timers.heartbeat);
  clock.cancel(activity.timers.scheduleToStart);
  activity.lastFailure = failure;
  activity.attempt++;
  activity.state = 'backoff';
  activity.startedTime = undefined;
  activity.nextAttemptTime = clock.now() + delayMs;
  setOutstanding(run, activity, false); // a backoff is a timer to skip over, not work in progress
  activity.timers.backoff = clock.schedule(delayMs, () => {
    if (run.activities.get(activity.scheduledEventId) === activity && activity.state === 'backoff') {
      activity.nextAttemptTime = undefined;
      dispatch(run, activity);
    }
  });
}

/** RequestCancelActivityTask: an activity not running is cancelled at once; a running one is told on heartbeat. */
export function requestCancelActivity(run: Run, activity: ActivityState): void {
  activity.cancelRequested = true;
  if (activity.state !== 'started') {
    finish(run, activity);
    const attempt = activity.attempt;
    run.write('ActivityTaskCanceled', {
      scheduledEventId: activity.scheduledEventId,
      startedEventId: 0,
      latestCancelRequestedEventId: run.history.length,
      identity: attempt > 1 ? activity.lastWorkerIdentity : undefined,
    });
  }
}

/** The run closed: pending activities are dropped (workers then get NOT_FOUND). */
export function dropActivities(run: Run): void {
  for (const activity of [...run.activities.values()]) finish(run, activity);
}

export function serverFailure(message: string, nonRetryable: boolean): Attributes {
  return { message, source: 'Server', serverFailureInfo: { nonRetryable } };
}
