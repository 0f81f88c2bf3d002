/**
 * The steps every pattern shares: checking names against the worker's catalog, running one target (an activity,
 * or a child workflow with ID `<cid>/<target>`), and running one callback in isolation, returning its outcome.
 */
import {
  ActivityCancellationType,
  ApplicationFailure,
  CancellationScope,
  ParentClosePolicy,
  executeChild,
  proxyActivities,
  proxyLocalActivities,
  workflowInfo,
} from '@temporalio/workflow';
import type { ActivityOptions, RetryPolicy as TemporalRetryPolicy } from '@temporalio/workflow';
import { msToNumber } from '@temporalio/common';
import type { Duration as TemporalDuration } from '@temporalio/common';
import type { BuiltinActivities, CallbackActivities, ServiceActivities } from '../activities/builtin';
import type {
  CallbackContext,
  CallbackInput,
  CallbackOutcome,
  CallbackRef,
  Channel,
  Defaults,
  PlannedTarget,
  RetryPolicy,
  StagedTargets,
  StopReason,
  StoredRecord,
  TargetCall,
  TargetRecord,
  WriteResultsInput,
} from '../contracts';
import {
  DESCRIBE_CATALOG,
  LOAD_TARGETS,
  SAVE_RECORDS,
  WRITE_RESULTS,
  callbackName,
  hasServiceTaskQueue,
  serviceTaskQueue,
} from '../constants';

/** Bounded by default: nothing retries forever. */
export const TARGET_DEFAULTS = { startToCloseTimeout: '1 minute', retry: { maximumAttempts: 3 } } as const;
export const CALLBACK_DEFAULTS = { startToCloseTimeout: '1 minute', retry: { maximumAttempts: 5 } } as const;
/**
 * The time allowed per record for an activity that reads every record of the fan-out (a final callback, on top of the
 * callback's own timeout; writing the results files): 100,000 records take minutes to read from S3, one object each.
 */
export const READ_MS_PER_RECORD = 10;

const { [DESCRIBE_CATALOG]: describeCatalog } = proxyLocalActivities<BuiltinActivities>({
  startToCloseTimeout: '10 seconds',
  retry: { maximumAttempts: 3 },
  summary: "check the request's services and callbacks against this worker",
});

const { [SAVE_RECORDS]: storeRecords } = proxyActivities<BuiltinActivities>({
  startToCloseTimeout: '1 minute',
  // The store is ours: a store that is down holds the fan-out back, bounded, and then fails it loudly.
  retry: { maximumAttempts: 10, maximumInterval: '30 seconds' },
  summary: 'store records built by the workflow',
});

const { [LOAD_TARGETS]: readStagedTargets } = proxyActivities<BuiltinActivities>({
  startToCloseTimeout: '5 minutes',
  retry: { maximumAttempts: 5, maximumInterval: '30 seconds' },
  summary: 'load the targets streamed into the store',
});

/** The targets of a fan-out whose targets were streamed in: the workflow input then holds none. */
export async function loadTargets(staged: StagedTargets): Promise<PlannedTarget[]> {
  return readStagedTargets(staged);
}

/** Stores records the workflow built (failed, cancelled, child-workflow targets) in the result store. */
export async function saveRecords(cid: string, records: [number, StoredRecord][]): Promise<void> {
  await storeRecords(cid, records);
}

/** Writes the fan-out's records out as files, one per outcome, and their manifest (`writeResults`). */
export async function writeResults(input: WriteResultsInput): Promise<void> {
  const { [WRITE_RESULTS]: writeResultFiles } = proxyActivities<BuiltinActivities>({
    activityId: 'write-results',
    // It reads every record and writes them out again: minutes for the widest fan-outs (on S3, a GET per record),
    // and bounded like the rest.
    startToCloseTimeout: 600_000 + input.total * READ_MS_PER_RECORD,
    retry: { maximumAttempts: 5, maximumInterval: '30 seconds' },
    summary: 'write the results to the store',
  });
  await writeResultFiles(input);
}

/** How the client planned a service's targets: run as an activity or a child workflow, limited how. */
export type PlannedService = Pick<PlannedTarget, 'kind' | 'limits'>;

/**
 * The client checked names already; the worker's own catalog is the truth, so check again, non-retryably: every
 * name known, of the kind planned, and (with `queues`) routed as this worker serves it: a target the client sends to
 * its service's own task queue where the worker serves none would wait there for ever, and one it sends to the
 * fan-out's queue would bypass the rate the worker keeps on the service's.
 */
export async function checkNames(
  services: string[],
  callbacks: CallbackRef[],
  planned?: Record<string, PlannedService>,
  queues = false,
): Promise<void> {
  const catalog = await describeCatalog();
  // Own entries only: a service named `constructor` or `__proto__` must not find Object.prototype's members.
  const entry = (name: string) => (Object.hasOwn(catalog.services, name) ? catalog.services[name] : undefined);
  const unknownServices = [...new Set(services)].filter((name) => !entry(name));
  const unknownCallbacks = [...new Set(callbacks.map(callbackName))].filter(
    (name) => !catalog.callbacks.includes(name),
  );
  const known = Object.entries(planned ?? {}).filter(([name]) => entry(name));
  const wrongKind = known.filter(([name, { kind }]) => entry(name)!.kind !== kind);
  const wrongQueue = queues
    ? known.filter(([name, service]) => {
        const served = entry(name)!;
        return served.kind === service.kind && hasServiceTaskQueue(served) !== hasServiceTaskQueue(service);
      })
    : [];
  const problems = [
    unknownServices.length ? `unknown services: ${unknownServices.join(', ')}` : '',
    unknownCallbacks.length ? `unknown callbacks: ${unknownCallbacks.join(', ')}` : '',
    wrongKind.length ? `services of another kind on this worker: ${wrongKind.map(([n]) => n).join(', ')}` : '',
  ].filter(Boolean);
  if (problems.length) {
    throw ApplicationFailure.nonRetryable(
      `This worker cannot run the request: ${problems.join('; ')}`,
      'UnknownService',
    );
  }
  if (wrongQueue.length) {
    const said = wrongQueue.map(([name, service]) => {
      const queue = (limited: boolean) => (limited ? 'a perSecond with a burst (its own task queue)' : 'none');
      return `${name} (the client's registry: ${queue(hasServiceTaskQueue(service))}; this worker's: ${queue(hasServiceTaskQueue(entry(name)!))})`;
    });
    throw ApplicationFailure.nonRetryable(
      `The client and this worker limit services otherwise, so their targets would go where no worker serves them ` +
        `or past the limit: ${said.join(', ')}. Give the client and the workers the same registry.`,
      'ServiceLimitsMismatch',
    );
  }
}

function retryPolicy(policy: RetryPolicy | undefined): TemporalRetryPolicy | undefined {
  return policy as TemporalRetryPolicy | undefined;
}

export function targetActivityOptions(target: PlannedTarget, defaults: Defaults, summary: string): ActivityOptions {
  return {
    activityId: `target/${target.name}`,
    summary,
    startToCloseTimeout: (target.options.startToCloseTimeout ??
      defaults.startToCloseTimeout ??
      TARGET_DEFAULTS.startToCloseTimeout) as TemporalDuration,
    retry: retryPolicy(target.options.retry ?? defaults.retry) ?? TARGET_DEFAULTS.retry,
  };
}

/** How a target ended well: stored by its activity (record inline when small), or a child workflow's response. */
export type TargetSuccess =
  { ok: true; stored: true; record?: TargetRecord; busy?: true } | { ok: true; stored: false; response: unknown };

/**
 * Runs one target; rejects with what the target (or Temporal) raised. Not an async function, to make fewer promises
 * (the SDK captures a stack trace for every promise a workflow makes: in a wide fan-out that is most of the
 * workflow's CPU).
 * Target activities are cancelled with TRY_CANCEL: a cancelled fan-out records the target as cancelled at once
 * rather than wait for an attempt that may never hear of it (a service that does not heartbeat runs to its
 * timeout); a late attempt's record never replaces it.
 */
export function runTarget(
  call: TargetCall,
  target: PlannedTarget,
  defaults: Defaults,
  /** A second attempt side by side (see hedging): an activity of its own, `hedge/<target>`. */
  hedge = false,
): Promise<TargetSuccess> {
  try {
    const summary =
      (hedge ? 'hedge of ' : '') +
      (target.service === target.name ? `target ${target.name}` : `target ${target.name} → ${target.service}`);
    if (target.kind === 'workflow') {
      const timeout = target.options.startToCloseTimeout ?? defaults.startToCloseTimeout;
      const retry = target.options.retry ?? defaults.retry;
      return executeChild(target.workflowType!, {
        workflowId: `${call.cid}/${target.name}`,
        args: [call.request],
        taskQueue: workflowInfo().taskQueue,
        // If the fan-out itself is terminated, its long-running targets are asked to stop too.
        parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
        staticSummary: `${summary} of fan-out ${call.cid}`,
        // Only what the caller set: a child workflow has no default timeout, and is not retried unless asked.
        ...(timeout ? { workflowRunTimeout: timeout as TemporalDuration } : {}),
        ...(retry ? { retry: retryPolicy(retry) } : {}),
      }).then((response): TargetSuccess => ({ ok: true, stored: false, response }));
    }
    const { activityId, ...options } = {
      ...targetActivityOptions(target, defaults, summary),
      cancellationType: ActivityCancellationType.TRY_CANCEL,
    };
    // A service limited to so many a second has a task queue of its own, whose dispatch rate the server limits
    // (without a burst, its window limiter keeps the rate, taken by the activity).
    const taskQueue = hasServiceTaskQueue(target)
      ? serviceTaskQueue(workflowInfo().taskQueue, target.service)
      : undefined;
    const activities = target.local
      ? // The same activity, run by this worker within the workflow task: one marker in history instead of three
        // events and a round trip through the server's task queue. Local activities have no activity ID.
        proxyLocalActivities<ServiceActivities>({ ...options, summary: `local ${summary}` })
      : proxyActivities<ServiceActivities>({
          ...options,
          activityId: hedge ? `hedge/${target.name}` : activityId,
          ...(taskQueue ? { taskQueue } : {}),
        });
    return activities[target.service](call).then((outcome): TargetSuccess => ({
      ok: true,
      stored: true,
      ...(outcome.record ? { record: outcome.record } : {}),
      ...(outcome.busy ? { busy: true } : {}),
    }));
  } catch (error) {
    // Rejected, not thrown, as an async function would.
    return Promise.reject(error);
  }
}

/** Activity IDs stay readable and unique: the second use of one callback for the same target gets "#2". */
export class CallbackIds {
  private readonly used = new Map<string, number>();

  next(base: string): string {
    const count = (this.used.get(base) ?? 0) + 1;
    this.used.set(base, count);
    return count === 1 ? base : `${base}#${count}`;
  }
}

/**
 * Runs one callback to the end of its retry policy, whatever happens to the fan-out (cancellation included),
 * and records the outcome: a failing callback is never dropped silently. Runs in `scope`, a non-cancellable scope
 * shared by many callbacks (a scope per callback costs several promises, each of which the SDK's stack tracing
 * captures: a wide fan-out's workflow CPU went mostly to that), or in a scope of its own.
 */
export function runCallback(
  ref: CallbackRef,
  input: CallbackInput,
  context: {
    cid: string;
    channel: Channel;
    target?: string;
    activityId: string;
    stopped?: StopReason;
    redrive?: number;
    /** A final callback: the records it reads from the store before its handler runs. */
    records?: number;
  },
  defaults: Defaults,
  scope: CancellationScope = new CancellationScope({ cancellable: false }),
): Promise<CallbackOutcome> {
  const name = callbackName(ref);
  const ctx: CallbackContext = {
    channel: context.channel,
    cid: context.cid,
    callback: name,
    ...(typeof ref === 'string' || !ref.options ? {} : { options: ref.options }),
    ...(context.target ? { target: context.target } : {}),
    ...(context.stopped ? { stopped: context.stopped } : {}),
    ...(context.redrive ? { redrive: context.redrive } : {}),
  };
  const options: ActivityOptions = {
    activityId: context.activityId,
    summary: context.target ? `callback ${name} for target ${context.target}` : `final callback ${name}`,
    startToCloseTimeout:
      msToNumber((defaults.callbackStartToCloseTimeout ?? CALLBACK_DEFAULTS.startToCloseTimeout) as TemporalDuration) +
      (context.records ?? 0) * READ_MS_PER_RECORD,
    retry: retryPolicy(defaults.callbackRetry) ?? CALLBACK_DEFAULTS.retry,
  };
  const outcome: CallbackOutcome = {
    callback: name,
    channel: context.channel,
    ...(context.target ? { target: context.target } : {}),
    ok: true,
  };
  if (scope.cancellable) throw new TypeError('callbacks run in a non-cancellable scope');
  // The activity is scheduled synchronously, within this call: the order of commands is what it always was.
  return scope
    .run(() => proxyActivities<CallbackActivities>(options)[name](input, ctx))
    .then(
      () => outcome,
      (error: unknown) => ({
        ...outcome,
        ok: false,
        error:
          error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error),
      }),
    );
}
