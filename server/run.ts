/**
 * One workflow run: its history and mutable state, and the workflow task lifecycle. Commands live in
 * run-commands.ts and activities in run-activities.ts; cross-run effects (children, external signals and
 * cancels, continue-as-new, parent notification) go through RunHooks, implemented by the store.
 */
import type { Clock, Timer } from './clock';
import { notFound } from './errors';
import type { HistoryEvent } from './history';
import { HistoryLog, eventAttributes } from './history';
import type { Limits } from './limits';
import type { Matching } from './matching';
import type { Payload, Payloads } from './payloads';
import { appendEncodedField, encodeMessage, protoType } from './proto';
import { msToProto, positiveMs } from './time';
import { encodeToken } from './tokens';
import type { ActivityState } from './run-activities';
import { dropActivities } from './run-activities';
import { applyCommands, validateCommands } from './run-commands';
import type { UpdateState } from './run-updates';
import { abortUpdates, applyMessage, decodeMessages, requestMessages, resendUnanswered } from './run-updates';

export type RunStatus = 'Running' | 'Completed' | 'Failed' | 'Canceled' | 'Terminated' | 'ContinuedAsNew' | 'TimedOut';

export interface ParentInfo {
  namespace: string;
  workflowId: string;
  runId: string;
  initiatedEventId: number;
}

export interface StartInfo {
  namespace: string;
  workflowId: string;
  runId: string;
  firstRunId: string;
  workflowType: string;
  taskQueue: string;
  input?: Payloads | null;
  header?: unknown;
  memo: Record<string, Payload>;
  searchAttributes: Record<string, Payload>;
  userMetadata?: unknown;
  executionTimeoutMs?: number;
  runTimeoutMs?: number;
  workflowTaskTimeoutMs: number;
  executionExpirationTime?: number;
  retryPolicy?: Record<string, unknown> | null;
  attempt: number;
  identity?: string;
  requestId: string;
  parent?: ParentInfo;
  rootExecution?: { workflowId: string; runId: string };
  continuedExecutionRunId?: string;
  initiator?: string;
  continuedFailure?: unknown;
  lastCompletionResult?: Payloads | null;
  firstWorkflowTaskBackoffMs?: number;
  priority?: unknown;
}

export interface ChildState {
  initiatedEventId: number;
  namespace: string;
  workflowId: string;
  workflowType: string;
  runId?: string;
  startedEventId?: number;
  parentClosePolicy: string;
}

export interface RunHooks {
  startChild(parent: Run, child: ChildState, attributes: Record<string, unknown>): void;
  signalExternal(from: Run, initiatedEventId: number, attributes: Record<string, unknown>): void;
  cancelExternal(from: Run, initiatedEventId: number, attributes: Record<string, unknown>): void;
  continueAsNew(run: Run, attributes: Record<string, unknown>): string;
  runClosed(run: Run): void;
  validateSearchAttributes(namespace: string, fields: Record<string, Payload> | undefined): string | undefined;
}

export interface RunContext {
  deadStickyQueues: Set<string>; // sticky queues of workers that shut down
  clock: Clock;
  matching: Matching;
  limits: Limits;
  hooks: RunHooks;
}

interface WorkflowTask {
  scheduledEventId: number;
  stickyQueue?: string; // set while the task waits on a worker's sticky queue
  stickyTimeout?: Timer;
  startedEventId?: number;
  attempt: number;
  state: 'scheduled' | 'started';
  timeout?: Timer;
}

export interface PendingQuery {
  id: string;
  query: Record<string, unknown>;
  resolve: (response: Record<string, unknown>) => void;
  reject: (error: Error) => void;
}

export class Run {
  readonly history = new HistoryLog();
  status: RunStatus = 'Running';
  readonly startTime: number;
  closeTime?: number;
  newRunId?: string; // set when continued as new
  wt?: WorkflowTask;
  private buffered: (() => void)[] = [];
  private applyingCommands = false;
  private lastCompletedStartedEventId = 0;
  /** The worker that completed the last task caches this run: later tasks go to its sticky queue, with new events only. */
  private sticky?: { queue: string; scheduleToStartMs: number };
  readonly activities = new Map<number, ActivityState>();
  readonly timers = new Map<string, { startedEventId: number; timer: Timer }>();
  readonly children = new Map<number, ChildState>();
  readonly searchAttributes: Record<string, Payload>;
  readonly memo: Record<string, Payload>;
  cancelRequested = false;
  private readonly historyWaiters = new Set<() => void>();
  readonly queriesAfterTask: PendingQuery[] = [];
  readonly updates = new Map<string, UpdateState>();
  private runTimer?: Timer;
  lastWorkerIdentity?: string;

  constructor(
    readonly info: StartInfo,
    readonly ctx: RunContext,
  ) {
    this.startTime = ctx.clock.now();
    this.searchAttributes = { ...info.searchAttributes };
    this.memo = { ...info.memo };
    this.write(
      'WorkflowExecutionStarted',
      {
        workflowType: { name: info.workflowType },
        taskQueue: { name: info.taskQueue, kind: 'TASK_QUEUE_KIND_NORMAL' },
        input: info.input ?? undefined,
        header: info.header ?? undefined,
        workflowExecutionTimeout: info.executionTimeoutMs ? msToProto(info.executionTimeoutMs) : undefined,
        workflowRunTimeout: info.runTimeoutMs ? msToProto(info.runTimeoutMs) : undefined,
        workflowTaskTimeout: msToProto(info.workflowTaskTimeoutMs),
        continuedExecutionRunId: info.continuedExecutionRunId,
        initiator: info.initiator,
        continuedFailure: info.continuedFailure ?? undefined,
        lastCompletionResult: info.lastCompletionResult ?? undefined,
        originalExecutionRunId: info.runId,
        identity: info.identity,
        firstExecutionRunId: info.firstRunId,
        retryPolicy: info.retryPolicy ?? undefined,
        attempt: info.attempt,
        workflowExecutionExpirationTime: info.executionExpirationTime
          ? msToProto(info.executionExpirationTime)
          : undefined,
        firstWorkflowTaskBackoff: info.firstWorkflowTaskBackoffMs
          ? msToProto(info.firstWorkflowTaskBackoffMs)
          : undefined,
        memo: Object.keys(info.memo).length ? { fields: info.memo } : undefined,
        searchAttributes: Object.keys(info.searchAttributes).length
          ? { indexedFields: info.searchAttributes }
          : undefined,
        parentWorkflowNamespace: info.parent?.namespace,
        parentWorkflowExecution: info.parent
          ? { workflowId: info.parent.workflowId, runId: info.parent.runId }
          : undefined,
        parentInitiatedEventId: info.parent?.initiatedEventId,
        rootWorkflowExecution: info.rootExecution,
        workflowId: info.workflowId,
        priority: info.priority ?? undefined,
      },
      info.userMetadata,
    );
    const runDeadline = Math.min(
      info.runTimeoutMs ? this.startTime + info.runTimeoutMs : Infinity,
      info.executionExpirationTime ?? Infinity,
    );
    if (Number.isFinite(runDeadline)) {
      this.runTimer = ctx.clock.schedule(runDeadline - this.startTime, () => this.timeOut());
    }
    if (info.firstWorkflowTaskBackoffMs) {
      ctx.clock.schedule(info.firstWorkflowTaskBackoffMs, () => this.scheduleWorkflowTask());
    } else {
      this.scheduleWorkflowTask();
    }
  }

  get namespace(): string {
    return this.info.namespace;
  }
  get workflowId(): string {
    return this.info.workflowId;
  }
  get runId(): string {
    return this.info.runId;
  }
  get isOpen(): boolean {
    return this.status === 'Running';
  }
  get execution(): { workflowId: string; runId: string } {
    return { workflowId: this.workflowId, runId: this.runId };
  }

  write(type: string, attributes: Record<string, unknown>, userMetadata?: unknown): HistoryEvent {
    const event = this.history.append(type, attributes, this.ctx.clock.now(), userMetadata);
    for (const waiter of this.historyWaiters) waiter();
    this.historyWaiters.clear();
    return event;
  }

  /** Waits for the next event (or close), for long-polling history readers. */
  waitForEvent(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      const waiter = () => done();
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.historyWaiters.add(waiter);
      timer.unref?.();
    });
  }

  /** Waits until the run closes, or the timeout passes. */
  async waitForClose(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.isOpen && Date.now() < deadline) await this.waitForEvent(deadline - Date.now());
  }

  /**
   * Events from outside a workflow task (activity results, signals, timers, children) are written at once,
   * unless a workflow task is in flight: then they are buffered and written after it, as the real server does.
   */
  external(writeEvents: () => void): void {
    if (!this.isOpen) return;
    if (this.wt?.state === 'started' || this.applyingCommands) {
      this.buffered.push(writeEvents);
      return;
    }
    writeEvents();
    this.scheduleWorkflowTask();
  }

  private flushBuffered(): boolean {
    const buffered = this.buffered;
    this.buffered = [];
    for (const writeEvents of buffered) if (this.isOpen) writeEvents();
    return buffered.length > 0;
  }

  get hasBufferedEvents(): boolean {
    return this.buffered.length > 0;
  }

  scheduleWorkflowTask(attempt = 1): void {
    if (!this.isOpen || this.wt) return;
    const scheduled = this.write('WorkflowTaskScheduled', {
      taskQueue: { name: this.info.taskQueue, kind: 'TASK_QUEUE_KIND_NORMAL' },
      startToCloseTimeout: msToProto(this.info.workflowTaskTimeoutMs),
      attempt,
    });
    const wt: WorkflowTask = { scheduledEventId: scheduled.eventId, attempt, state: 'scheduled' };
    this.wt = wt;
    this.ctx.clock.addOutstanding(1);
    const sticky = attempt === 1 ? this.sticky : undefined;
    if (sticky && !this.ctx.deadStickyQueues.has(sticky.queue)) {
      wt.stickyQueue = sticky.queue;
      this.ctx.matching.add('workflow', this.namespace, sticky.queue, (poll) => this.startWorkflowTask(wt, poll, true));
      // Not picked up in time (worker busy or gone): the task moves to the normal queue with full history.
      wt.stickyTimeout = this.ctx.clock.schedule(sticky.scheduleToStartMs, () => this.unstick(wt));
      return;
    }
    const dispatch = () => this.dispatchToNormalQueue(wt);
    // A task that keeps failing is retried with backoff, like the real server, so a workflow whose commands the
    // server refuses does not spin. The task stays outstanding meanwhile: time skipping must not race it.
    const backoffMs = attempt > 2 ? Math.min(1000 * 2 ** (attempt - 3), 60_000) : 0;
    if (backoffMs > 0) this.ctx.clock.schedule(backoffMs, dispatch);
    else dispatch();
  }

  private dispatchToNormalQueue(wt: WorkflowTask): void {
    this.ctx.matching.add('workflow', this.namespace, this.info.taskQueue, (poll) =>
      this.startWorkflowTask(wt, poll, false),
    );
  }

  /** Moves a task waiting on a sticky queue to the normal queue and forgets the stickiness. */
  unstick(wt: WorkflowTask | undefined = this.wt): void {
    if (!wt || this.wt !== wt || wt.state !== 'scheduled' || !wt.stickyQueue) return;
    this.ctx.clock.cancel(wt.stickyTimeout);
    wt.stickyQueue = undefined;
    this.sticky = undefined;
    this.dispatchToNormalQueue(wt);
  }

  get stickyQueue(): string | undefined {
    return this.wt?.stickyQueue;
  }

  /** Eager workflow start: the first task goes back inline in the start response, to the starting worker. */
  startEagerly(identity: string | undefined): Buffer | null {
    const wt = this.wt;
    if (!wt || wt.state !== 'scheduled' || wt.attempt !== 1) return null;
    return this.startWorkflowTask(wt, { identity }, false) as Buffer | null;
  }

  private startWorkflowTask(
    wt: WorkflowTask,
    poll: { identity?: string; requestId?: string },
    viaSticky: boolean,
  ): unknown | null {
    if (!this.isOpen || this.wt !== wt || wt.state !== 'scheduled') return null;
    if (viaSticky !== (wt.stickyQueue !== undefined)) return null; // moved between queues meanwhile
    this.ctx.clock.cancel(wt.stickyTimeout);
    const historyCount = this.history.length + 1;
    const started = this.write('WorkflowTaskStarted', {
      scheduledEventId: wt.scheduledEventId,
      identity: poll.identity,
      requestId: poll.requestId,
      historySizeBytes: this.history.bytes,
      suggestContinueAsNew: historyCount >= this.ctx.limits.historyCountSuggestContinueAsNew,
    });
    wt.state = 'started';
    wt.startedEventId = started.eventId;
    this.lastWorkerIdentity = poll.identity;
    wt.timeout = this.ctx.clock.schedule(this.info.workflowTaskTimeoutMs, () => this.timeOutWorkflowTask(wt));
    const base = {
      taskToken: encodeToken({
        k: 'w',
        ns: this.namespace,
        wid: this.workflowId,
        rid: this.runId,
        sid: wt.scheduledEventId,
        att: wt.attempt,
      }),
      workflowExecution: this.execution,
      workflowType: { name: this.info.workflowType },
      previousStartedEventId: this.lastCompletedStartedEventId,
      startedEventId: started.eventId,
      attempt: wt.attempt,
      workflowExecutionTaskQueue: { name: this.info.taskQueue, kind: 'TASK_QUEUE_KIND_NORMAL' },
      scheduledTime: this.history.events[wt.scheduledEventId - 1].eventTime,
      startedTime: started.eventTime,
      messages: requestMessages(this, started.eventId),
    };
    // A sticky task carries only what the caching worker has not seen: from the last WorkflowTaskCompleted on.
    return this.encodeWithHistory(base, this.history.length, viaSticky ? this.lastCompletedStartedEventId : 0);
  }

  /** A poll response with the full history spliced in (field 8 of PollWorkflowTaskQueueResponse). */
  encodeWithHistory(base: Record<string, unknown>, upTo = this.history.length, from = 0): Buffer {
    const type = protoType('temporal.api.workflowservice.v1.PollWorkflowTaskQueueResponse');
    return appendEncodedField(encodeMessage(type, base), 8, this.history.encodeRange(from, upTo));
  }

  currentWorkflowTask(token: { sid: number; att: number }): WorkflowTask {
    const wt = this.wt;
    if (
      !this.isOpen ||
      !wt ||
      wt.state !== 'started' ||
      wt.scheduledEventId !== token.sid ||
      wt.attempt !== token.att
    ) {
      throw notFound('Workflow task not found.');
    }
    return wt;
  }

  completeWorkflowTask(token: { sid: number; att: number }, request: Record<string, unknown>): void {
    const wt = this.currentWorkflowTask(token);
    const commands = (request.commands as Record<string, unknown>[] | undefined) ?? [];
    const closing = commands.some((c) => CLOSE_COMMANDS.has(c.commandType as string));
    const invalid = validateCommands(this, commands);
    this.endWorkflowTask(wt);
    if (invalid) {
      this.failWorkflowTaskWith(wt, invalid.cause, invalid.message, request.identity as string | undefined);
      return;
    }
    if (closing && this.hasBufferedEvents) {
      // New events arrived while the workflow decided to close: it must see them first.
      this.failWorkflowTaskWith(
        wt,
        'WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND',
        'Unhandled command.',
        request.identity as string | undefined,
      );
      return;
    }
    const completed = this.write('WorkflowTaskCompleted', {
      scheduledEventId: wt.scheduledEventId,
      startedEventId: wt.startedEventId,
      identity: request.identity,
      binaryChecksum: request.binaryChecksum,
      workerVersion: request.workerVersionStamp ?? undefined,
      sdkMetadata: request.sdkMetadata ?? undefined,
      meteringMetadata: request.meteringMetadata ?? undefined,
    });
    this.lastCompletedStartedEventId = wt.startedEventId!;
    const stickyAttributes = request.stickyAttributes as
      { workerTaskQueue?: { name?: string }; scheduleToStartTimeout?: never } | undefined;
    const stickyQueue = stickyAttributes?.workerTaskQueue?.name;
    this.sticky = stickyQueue
      ? { queue: stickyQueue, scheduleToStartMs: positiveMs(stickyAttributes!.scheduleToStartTimeout) ?? 5_000 }
      : undefined;
    const messages = decodeMessages(request.messages as Record<string, unknown>[] | undefined);
    this.applyingCommands = true;
    try {
      applyCommands(this, commands, completed.eventId, messages);
      // Messages no command placed (rejections) are processed after all commands, in arrival order.
      for (const message of messages.values()) if (this.isOpen) applyMessage(this, message);
    } finally {
      this.applyingCommands = false;
    }
    const updatesWaiting = [...this.updates.values()].some((u) => u.state === 'admitted');
    const hadBuffered = this.flushBuffered();
    if (this.isOpen && this.history.length > this.ctx.limits.historyCount) {
      this.terminate('Workflow history count exceeds limit.', undefined, 'history-service');
      return;
    }
    if (this.isOpen && this.history.bytes > this.ctx.limits.historySizeBytes) {
      this.terminate('Workflow history size exceeds limit.', undefined, 'history-service');
      return;
    }
    if (this.isOpen && (hadBuffered || updatesWaiting || request.forceCreateNewWorkflowTask))
      this.scheduleWorkflowTask();
    this.afterWorkflowTask();
  }

  failWorkflowTask(token: { sid: number; att: number }, request: Record<string, unknown>): void {
    const wt = this.currentWorkflowTask(token);
    this.endWorkflowTask(wt);
    this.sticky = undefined; // the worker lost or never had this run: full history from now on
    this.write('WorkflowTaskFailed', {
      scheduledEventId: wt.scheduledEventId,
      startedEventId: wt.startedEventId,
      cause: request.cause,
      failure: request.failure ?? undefined,
      identity: request.identity,
      binaryChecksum: request.binaryChecksum,
    });
    this.flushBuffered();
    this.scheduleWorkflowTask(wt.attempt + 1);
    this.afterWorkflowTask();
  }

  private failWorkflowTaskWith(wt: WorkflowTask, cause: string, message: string, identity?: string): void {
    this.sticky = undefined;
    this.write('WorkflowTaskFailed', {
      scheduledEventId: wt.scheduledEventId,
      startedEventId: wt.startedEventId,
      cause,
      failure: { message, source: 'embedded-server', serverFailureInfo: {} },
      identity,
    });
    this.flushBuffered();
    this.scheduleWorkflowTask(wt.attempt + 1);
    this.afterWorkflowTask();
  }

  private timeOutWorkflowTask(wt: WorkflowTask): void {
    if (this.wt !== wt || wt.state !== 'started' || !this.isOpen) return;
    this.endWorkflowTask(wt);
    this.sticky = undefined;
    this.write('WorkflowTaskTimedOut', {
      scheduledEventId: wt.scheduledEventId,
      startedEventId: wt.startedEventId,
      timeoutType: 'TIMEOUT_TYPE_START_TO_CLOSE',
    });
    this.flushBuffered();
    this.scheduleWorkflowTask(wt.attempt + 1);
    this.afterWorkflowTask();
  }

  private endWorkflowTask(wt: WorkflowTask): void {
    this.ctx.clock.cancel(wt.timeout);
    this.ctx.clock.cancel(wt.stickyTimeout);
    resendUnanswered(this); // updates it carried go out again unless its completion answers them
    if (this.wt === wt) {
      this.wt = undefined;
      this.ctx.clock.addOutstanding(-1);
    }
  }

  /** Queries that waited for the in-flight task go out now. */
  private afterWorkflowTask(): void {
    const waiting = this.queriesAfterTask.splice(0);
    for (const query of waiting) this.dispatchQuery(query);
  }

  dispatchQuery(query: PendingQuery): void {
    if (this.wt?.state === 'started') {
      this.queriesAfterTask.push(query);
      return;
    }
    const upTo = this.history.length;
    this.ctx.matching.add('workflow', this.namespace, this.info.taskQueue, () => {
      if (this.wt?.state === 'started') {
        this.queriesAfterTask.push(query);
        return null;
      }
      return this.encodeWithHistory(
        {
          taskToken: encodeToken({ k: 'q', id: query.id }),
          workflowExecution: this.execution,
          workflowType: { name: this.info.workflowType },
          previousStartedEventId: this.lastCompletedStartedEventId,
          startedEventId: this.lastCompletedStartedEventId,
          query: query.query,
          workflowExecutionTaskQueue: { name: this.info.taskQueue, kind: 'TASK_QUEUE_KIND_NORMAL' },
        },
        upTo,
      );
    });
  }

  signal(signalName: string, input: unknown, identity: string | undefined, header: unknown): void {
    this.external(() => {
      this.write('WorkflowExecutionSignaled', {
        signalName,
        input: input ?? undefined,
        identity,
        header: header ?? undefined,
      });
    });
  }

  requestCancel(
    identity: string | undefined,
    reason: string | undefined,
    external?: { initiatedEventId: number; execution: unknown },
  ): void {
    if (!this.isOpen || this.cancelRequested) return;
    this.cancelRequested = true;
    this.external(() => {
      this.write('WorkflowExecutionCancelRequested', {
        cause: reason,
        identity,
        externalInitiatedEventId: external?.initiatedEventId,
        externalWorkflowExecution: external?.execution,
      });
    });
  }

  terminate(reason: string | undefined, details: unknown, identity: string | undefined): void {
    if (!this.isOpen) return;
    if (this.wt) this.endWorkflowTask(this.wt);
    this.buffered = [];
    this.close('Terminated', 'WorkflowExecutionTerminated', { reason, details: details ?? undefined, identity });
  }

  private timeOut(): void {
    if (!this.isOpen) return;
    if (this.wt) this.endWorkflowTask(this.wt);
    this.buffered = [];
    this.close('TimedOut', 'WorkflowExecutionTimedOut', { retryState: 'RETRY_STATE_TIMEOUT' });
  }

  /** Writes the close event and releases everything the run held. */
  close(status: RunStatus, eventType: string, attributes: Record<string, unknown>): HistoryEvent {
    const event = this.write(eventType, attributes);
    this.status = status;
    this.closeTime = this.ctx.clock.now();
    this.ctx.clock.cancel(this.runTimer);
    if (this.wt) this.endWorkflowTask(this.wt);
    for (const { timer } of this.timers.values()) this.ctx.clock.cancel(timer);
    this.timers.clear();
    dropActivities(this);
    abortUpdates(this);
    this.ctx.hooks.runClosed(this);
    for (const waiter of this.historyWaiters) waiter();
    this.historyWaiters.clear();
    return event;
  }

  closeEvent(): HistoryEvent | undefined {
    return this.isOpen ? undefined : this.history.last();
  }

  closeAttributes(): Record<string, unknown> | undefined {
    const event = this.closeEvent();
    return event ? eventAttributes(event) : undefined;
  }
}

export const CLOSE_COMMANDS = new Set([
  'COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION',
  'COMMAND_TYPE_FAIL_WORKFLOW_EXECUTION',
  'COMMAND_TYPE_CANCEL_WORKFLOW_EXECUTION',
  'COMMAND_TYPE_CONTINUE_AS_NEW_WORKFLOW_EXECUTION',
]);
