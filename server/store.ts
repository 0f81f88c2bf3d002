/**
 * All executions of all namespaces, and the cross-run rules: starting with id reuse and conflict policies,
 * request-id idempotency, children and parent close policies, external signals and cancels, continue-as-new.
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from './clock';
import { alreadyStarted, invalidArgument, namespaceNotFound, workflowNotFound } from './errors';
import type { Limits } from './limits';
import type { Matching } from './matching';
import type { Payload, Payloads } from './payloads';
import { payloadsSize, payloadSize } from './payloads';
import type { ChildState, RunContext, RunHooks, StartInfo } from './run';
import { Run } from './run';
import { positiveMs, protoToMs } from './time';
import type { SearchAttributeType } from './visibility-query';

type Attributes = Record<string, unknown>;

/** Predefined search attributes that workflows may set themselves. */
export const PREDEFINED_SEARCH_ATTRIBUTES: Record<string, SearchAttributeType> = {
  TemporalChangeVersion: 'KeywordList',
  BinaryChecksums: 'KeywordList',
  BuildIds: 'KeywordList',
  TemporalScheduledStartTime: 'Datetime',
  TemporalScheduledById: 'Keyword',
  TemporalSchedulePaused: 'Bool',
};

const DEFAULT_WORKFLOW_TASK_TIMEOUT_MS = 10_000;
const MAX_WORKFLOW_TASK_TIMEOUT_MS = 120_000;
const FAILED_STATUSES = new Set(['Failed', 'Canceled', 'Terminated', 'TimedOut']);

export interface StartResult {
  run: Run;
  started: boolean;
}

export class Store implements RunHooks {
  readonly namespaces = new Set<string>();
  readonly searchAttributes = new Map<string, SearchAttributeType>();
  private readonly executions = new Map<string, Run[]>(); // namespace + workflow id → runs, oldest first
  readonly ctx: RunContext;

  constructor(clock: Clock, matching: Matching, limits: Limits, namespaces: string[]) {
    this.ctx = { clock, matching, limits, hooks: this, deadStickyQueues: new Set() };
    for (const ns of namespaces) this.namespaces.add(ns);
  }

  /** A worker shut down: its sticky queue is gone, and tasks waiting there move to the normal queue now. */
  stickyQueueGone(queue: string): void {
    this.ctx.deadStickyQueues.add(queue);
    for (const runs of this.executions.values()) {
      const run = runs[runs.length - 1];
      if (run.stickyQueue === queue) run.unstick();
    }
  }

  checkNamespace(namespace: unknown): string {
    if (typeof namespace !== 'string' || !namespace) throw invalidArgument('Namespace not set on request.');
    if (!this.namespaces.has(namespace)) throw namespaceNotFound(namespace);
    return namespace;
  }

  allRuns(namespace: string): Run[] {
    const runs: Run[] = [];
    for (const [key, list] of this.executions) if (key.startsWith(namespace + '\u0000')) runs.push(...list);
    return runs;
  }

  currentRun(namespace: string, workflowId: string): Run | undefined {
    const runs = this.executions.get(`${namespace}\u0000${workflowId}`);
    return runs?.[runs.length - 1];
  }

  /** The named run, or the current one when runId is empty; WorkflowNotFound otherwise. */
  getRun(namespace: string, execution: { workflowId?: string | null; runId?: string | null } | undefined | null): Run {
    const workflowId = execution?.workflowId;
    if (!workflowId) throw invalidArgument('WorkflowId is not set on request.');
    const runs = this.executions.get(`${namespace}\u0000${workflowId}`);
    const run = execution?.runId ? runs?.find((r) => r.runId === execution.runId) : runs?.[runs.length - 1];
    if (!run) throw workflowNotFound(workflowId, execution?.runId ?? undefined);
    return run;
  }

  validateSearchAttributes(namespace: string, fields: Record<string, Payload> | undefined | null): string | undefined {
    void namespace;
    for (const [name, payload] of Object.entries(fields ?? {})) {
      if (!this.searchAttributes.has(name) && !PREDEFINED_SEARCH_ATTRIBUTES[name]) {
        return `search attribute ${name} is not defined`;
      }
      if (payloadSize(payload) > this.ctx.limits.blobSizeBytes)
        return `search attribute ${name} value exceeds size limit`;
    }
    return undefined;
  }

  /** StartWorkflowExecution (and child starts): validation, policies, idempotency. */
  start(request: Attributes, parent?: StartInfo['parent'], rootExecution?: StartInfo['rootExecution']): StartResult {
    const namespace = this.checkNamespace(request.namespace);
    const workflowId = request.workflowId as string;
    const workflowType = (request.workflowType as Attributes | undefined)?.name as string | undefined;
    const taskQueue = (request.taskQueue as Attributes | undefined)?.name as string | undefined;
    if (!workflowId) throw invalidArgument('WorkflowId is not set on request.');
    if (workflowId.length > 1000) throw invalidArgument('WorkflowId length exceeds limit.');
    if (!workflowType) throw invalidArgument('WorkflowType is not set on request.');
    if (!taskQueue) throw invalidArgument('TaskQueue is not set on request.');
    for (const field of [
      'workflowExecutionTimeout',
      'workflowRunTimeout',
      'workflowTaskTimeout',
      'workflowStartDelay',
    ]) {
      if ((protoToMs(request[field] as never) ?? 0) < 0) throw invalidArgument(`Invalid ${field}.`);
    }
    if (payloadsSize(request.input as Payloads) > this.ctx.limits.blobSizeBytes) {
      throw invalidArgument(`Blob data size exceeds limit of ${this.ctx.limits.blobSizeBytes} bytes.`);
    }
    const searchAttributes = ((request.searchAttributes as Attributes | undefined)?.indexedFields ?? {}) as Record<
      string,
      Payload
    >;
    const problem = this.validateSearchAttributes(namespace, searchAttributes);
    if (problem) throw invalidArgument(problem);
    const requestId = (request.requestId as string) || randomUUID();

    const current = this.currentRun(namespace, workflowId);
    if (current) {
      if (current.info.requestId === requestId) return { run: current, started: current.isOpen };
      if (current.isOpen) {
        const conflict = request.workflowIdConflictPolicy as string | undefined;
        if (conflict === 'WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING') return { run: current, started: false };
        if (
          conflict === 'WORKFLOW_ID_CONFLICT_POLICY_TERMINATE_EXISTING' ||
          request.workflowIdReusePolicy === 'WORKFLOW_ID_REUSE_POLICY_TERMINATE_IF_RUNNING'
        ) {
          current.terminate('terminated by a new start with TERMINATE_EXISTING', undefined, request.identity as string);
        } else {
          throw alreadyStarted(workflowId, current.runId, current.info.requestId);
        }
      } else {
        const reuse = request.workflowIdReusePolicy as string | undefined;
        if (reuse === 'WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE')
          throw alreadyStarted(workflowId, current.runId, current.info.requestId);
        if (reuse === 'WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY' && !FAILED_STATUSES.has(current.status)) {
          throw alreadyStarted(workflowId, current.runId, current.info.requestId);
        }
      }
    }

    const runId = randomUUID();
    const executionTimeoutMs = positiveMs(request.workflowExecutionTimeout as never);
    const runTimeoutMs = positiveMs(request.workflowRunTimeout as never) ?? executionTimeoutMs;
    const info: StartInfo = {
      namespace,
      workflowId,
      runId,
      firstRunId: runId,
      workflowType,
      taskQueue,
      input: request.input as Payloads | undefined,
      header: request.header,
      memo: ((request.memo as Attributes | undefined)?.fields ?? {}) as Record<string, Payload>,
      searchAttributes,
      userMetadata: request.userMetadata ?? undefined,
      executionTimeoutMs,
      runTimeoutMs,
      workflowTaskTimeoutMs: Math.min(
        positiveMs(request.workflowTaskTimeout as never) ?? DEFAULT_WORKFLOW_TASK_TIMEOUT_MS,
        MAX_WORKFLOW_TASK_TIMEOUT_MS,
      ),
      executionExpirationTime: executionTimeoutMs ? this.ctx.clock.now() + executionTimeoutMs : undefined,
      retryPolicy: (request.retryPolicy as Attributes) ?? undefined,
      attempt: 1,
      identity: request.identity as string | undefined,
      requestId,
      parent,
      rootExecution: rootExecution ?? (parent ? undefined : { workflowId, runId }),
      firstWorkflowTaskBackoffMs: positiveMs(request.workflowStartDelay as never),
      priority: request.priority,
    };
    return { run: this.addRun(info), started: true };
  }

  private addRun(info: StartInfo): Run {
    const key = `${info.namespace}\u0000${info.workflowId}`;
    let runs = this.executions.get(key);
    if (!runs) {
      runs = [];
      this.executions.set(key, runs);
    }
    // Registered before the constructor schedules the first task, so the task can find its run.
    const run = new Run(info, this.ctx);
    runs.push(run);
    return run;
  }

  startChild(parent: Run, child: ChildState, attrs: Attributes): void {
    let result: StartResult | undefined;
    try {
      result = this.start(
        { ...attrs, namespace: child.namespace, requestId: randomUUID(), identity: parent.lastWorkerIdentity },
        {
          namespace: parent.namespace,
          workflowId: parent.workflowId,
          runId: parent.runId,
          initiatedEventId: child.initiatedEventId,
        },
        parent.info.rootExecution,
      );
    } catch {
      result = undefined;
    }
    if (!result || !result.started) {
      parent.children.delete(child.initiatedEventId);
      parent.external(() => {
        parent.write('StartChildWorkflowExecutionFailed', {
          namespace: child.namespace,
          workflowId: child.workflowId,
          workflowType: { name: child.workflowType },
          cause: 'START_CHILD_WORKFLOW_EXECUTION_FAILED_CAUSE_WORKFLOW_ALREADY_EXISTS',
          control: attrs.control,
          initiatedEventId: child.initiatedEventId,
          workflowTaskCompletedEventId: attrs.workflowTaskCompletedEventId,
        });
      });
      return;
    }
    const childRun = result.run;
    child.runId = childRun.runId;
    parent.external(() => {
      child.startedEventId = parent.write('ChildWorkflowExecutionStarted', {
        namespace: child.namespace,
        initiatedEventId: child.initiatedEventId,
        workflowExecution: childRun.execution,
        workflowType: { name: child.workflowType },
        header: attrs.header ?? undefined,
      }).eventId;
    });
  }

  signalExternal(from: Run, initiatedEventId: number, attrs: Attributes): void {
    const namespace = (attrs.namespace as string) || from.namespace;
    const execution = (attrs.execution ?? {}) as { workflowId?: string; runId?: string };
    const target = this.findOpen(namespace, execution);
    if (target) target.signal(attrs.signalName as string, attrs.input, from.lastWorkerIdentity, attrs.header);
    from.external(() => {
      if (target) {
        from.write('ExternalWorkflowExecutionSignaled', {
          initiatedEventId,
          namespace,
          workflowExecution: execution,
          control: attrs.control,
        });
      } else {
        from.write('SignalExternalWorkflowExecutionFailed', {
          cause: 'SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED_CAUSE_EXTERNAL_WORKFLOW_EXECUTION_NOT_FOUND',
          workflowTaskCompletedEventId: attrs.workflowTaskCompletedEventId,
          namespace,
          workflowExecution: execution,
          initiatedEventId,
          control: attrs.control,
        });
      }
    });
  }

  cancelExternal(from: Run, initiatedEventId: number, attrs: Attributes): void {
    const namespace = (attrs.namespace as string) || from.namespace;
    const execution = { workflowId: attrs.workflowId as string, runId: (attrs.runId as string) || undefined };
    const target = this.findOpen(namespace, execution);
    if (target)
      target.requestCancel(from.lastWorkerIdentity, attrs.reason as string, {
        initiatedEventId,
        execution: from.execution,
      });
    from.external(() => {
      if (target) {
        from.write('ExternalWorkflowExecutionCancelRequested', {
          initiatedEventId,
          namespace,
          workflowExecution: execution,
        });
      } else {
        from.write('RequestCancelExternalWorkflowExecutionFailed', {
          cause: 'CANCEL_EXTERNAL_WORKFLOW_EXECUTION_FAILED_CAUSE_EXTERNAL_WORKFLOW_EXECUTION_NOT_FOUND',
          workflowTaskCompletedEventId: attrs.workflowTaskCompletedEventId,
          namespace,
          workflowExecution: execution,
          initiatedEventId,
          control: attrs.control,
        });
      }
    });
  }

  private findOpen(namespace: string, execution: { workflowId?: string; runId?: string }): Run | undefined {
    if (!this.namespaces.has(namespace) || !execution.workflowId) return undefined;
    try {
      const run = this.getRun(namespace, execution);
      return run.isOpen ? run : undefined;
    } catch {
      return undefined;
    }
  }

  continueAsNew(run: Run, attrs: Attributes): string {
    const runId = randomUUID();
    const info = run.info;
    const searchAttributes = ((attrs.searchAttributes as Attributes | undefined)?.indexedFields ??
      run.searchAttributes) as Record<string, Payload>;
    const memo = ((attrs.memo as Attributes | undefined)?.fields ?? run.memo) as Record<string, Payload>;
    const workflowType = ((attrs.workflowType as Attributes | undefined)?.name as string) || info.workflowType;
    const taskQueue = ((attrs.taskQueue as Attributes | undefined)?.name as string) || info.taskQueue;
    run.newRunId = runId;
    run.close('ContinuedAsNew', 'WorkflowExecutionContinuedAsNew', {
      newExecutionRunId: runId,
      workflowType: { name: workflowType },
      taskQueue: { name: taskQueue, kind: 'TASK_QUEUE_KIND_NORMAL' },
      input: attrs.input ?? undefined,
      workflowRunTimeout: attrs.workflowRunTimeout ?? undefined,
      workflowTaskTimeout: attrs.workflowTaskTimeout ?? undefined,
      workflowTaskCompletedEventId: attrs.workflowTaskCompletedEventId,
      backoffStartInterval: attrs.backoffStartInterval ?? undefined,
      initiator: attrs.initiator || 'CONTINUE_AS_NEW_INITIATOR_WORKFLOW',
      failure: attrs.failure ?? undefined,
      lastCompletionResult: attrs.lastCompletionResult ?? undefined,
      header: attrs.header ?? undefined,
      memo: { fields: memo },
      searchAttributes: { indexedFields: searchAttributes },
    });
    this.addRun({
      ...info,
      runId,
      workflowType,
      taskQueue,
      input: attrs.input as Payloads | undefined,
      header: attrs.header ?? info.header,
      memo,
      searchAttributes,
      runTimeoutMs: positiveMs(attrs.workflowRunTimeout as never) ?? info.runTimeoutMs,
      workflowTaskTimeoutMs: positiveMs(attrs.workflowTaskTimeout as never) ?? info.workflowTaskTimeoutMs,
      requestId: randomUUID(),
      continuedExecutionRunId: info.runId,
      initiator: (attrs.initiator as string) || 'CONTINUE_AS_NEW_INITIATOR_WORKFLOW',
      continuedFailure: attrs.failure ?? undefined,
      lastCompletionResult: attrs.lastCompletionResult as Payloads | undefined,
      firstWorkflowTaskBackoffMs: positiveMs(attrs.backoffStartInterval as never),
      userMetadata: undefined,
    });
    return runId;
  }

  /** Tells the parent how its child ended, and applies this run's parent close policy to its own children. */
  runClosed(run: Run): void {
    const closeEvent = run.closeAttributes() ?? {};
    const parentInfo = run.info.parent;
    if (parentInfo && run.status !== 'ContinuedAsNew') {
      const parent = this.findOpen(parentInfo.namespace, {
        workflowId: parentInfo.workflowId,
        runId: parentInfo.runId,
      });
      const child = parent?.children.get(parentInfo.initiatedEventId);
      if (parent && child) {
        parent.children.delete(parentInfo.initiatedEventId);
        const common = {
          namespace: run.namespace,
          workflowExecution: { workflowId: run.workflowId, runId: run.runId },
          workflowType: { name: run.info.workflowType },
          initiatedEventId: child.initiatedEventId,
        };
        parent.external(() => {
          const startedEventId = child.startedEventId ?? 0;
          const base = { ...common, startedEventId };
          switch (run.status) {
            case 'Completed':
              parent.write('ChildWorkflowExecutionCompleted', { ...base, result: closeEvent.result ?? undefined });
              break;
            case 'Failed':
              parent.write('ChildWorkflowExecutionFailed', {
                ...base,
                failure: closeEvent.failure,
                retryState: closeEvent.retryState,
              });
              break;
            case 'Canceled':
              parent.write('ChildWorkflowExecutionCanceled', { ...base, details: closeEvent.details ?? undefined });
              break;
            case 'TimedOut':
              parent.write('ChildWorkflowExecutionTimedOut', { ...base, retryState: closeEvent.retryState });
              break;
            default:
              parent.write('ChildWorkflowExecutionTerminated', base);
          }
        });
      }
    }
    if (run.status === 'ContinuedAsNew') return; // children stay with the chain
    for (const child of run.children.values()) {
      if (!child.runId || child.parentClosePolicy === 'PARENT_CLOSE_POLICY_ABANDON') continue;
      const target = this.findOpen(child.namespace, { workflowId: child.workflowId });
      if (!target) continue;
      if (child.parentClosePolicy === 'PARENT_CLOSE_POLICY_REQUEST_CANCEL')
        target.requestCancel('parent-close-policy', 'parent closed');
      else target.terminate('by parent close policy', undefined, 'parent-close-policy');
    }
    run.children.clear();
  }
}
