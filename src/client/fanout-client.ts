/**
 * The typed client: start fan-outs, parallel executions and invoke/retries, get their CID back at once, then
 * follow them by CID (progress, result, records, cancel). The CID is the workflow ID of the top-level fan-out,
 * whatever its width. Records are read from the result store the worker writes them to.
 */
import { randomUUID } from 'node:crypto';
import type { WorkflowHandle } from '@temporalio/client';
import { Client, WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/common';
import type {
  AdaptiveConcurrency,
  Batching,
  CircuitBreaker,
  Hedging,
  Completion,
  Fairness,
  PlannedTarget,
  TargetItem,
  CallbackRef,
  Catalog,
  Defaults,
  Duration,
  FailurePolicy,
  FanoutControl,
  FanoutOutcome,
  FanoutPlan,
  FanoutProgress,
  FanoutResult,
  FanoutWorkflowInput,
  InvokeRetryOutcome,
  InvokeRetryRequest,
  InvokeRetryResult,
  InvokeRetryWorkflowInput,
  ResultsManifest,
  TargetOptions,
  TargetState,
} from '../contracts';
import { Cid, FANOUT_TASK_QUEUE, FanoutSourceKey, FanoutStateKey, callbackName } from '../contracts';
import { setOwnKey } from '../own-key';
import { Registry } from '../registry';
import type { BlobStore } from '../store/blob-store';
import { defaultBlobStore } from '../store/default-store';
import { withFanoutStorage } from '../store/payload-driver';
import type { RecordPage, RecordPageOptions } from '../store/records';
import { RecordStore } from '../store/records';
import { readResultsManifest } from '../store/results';
import {
  pauseUpdate,
  progressQuery,
  redrivePlanQuery,
  resumeUpdate,
  setMaxConcurrencyUpdate,
} from '../workflows/definitions';
import type { fanout, invokeRetry } from '../workflows';
import {
  DuplicateCidError,
  FanoutFailedError,
  FanoutNotFoundError,
  FanoutControlError,
  FanoutRunningError,
  PayloadTooLargeError,
} from './errors';
import { hasLoneSurrogate } from './bounds';
import { dryRunPlan } from './dry-run';
import { finishedProgress } from './finished-progress';
import type { RegistryChecks } from './plan';
import { checkQuorum, planFanout, planFanoutOptions, planInvokeRetry } from './plan';
import { removeStaged } from '../store/staged-targets';
import { stageTargets } from './staging';
import type { TargetItems } from './target-items';
import type { FanoutList, FanoutListOptions } from './listing';
import { listFanouts } from './listing';
import type { FanoutEvent, WatchOptions } from './watch';
import { watchFanout } from './watch';

/** Temporal's default payload limit: no one target's request may be larger. */
export const PAYLOAD_LIMIT_BYTES = 2 * 1024 * 1024;

/** A whole request (all targets) at most this large: the fan-out workflow holds its plan in memory. */
export const REQUEST_LIMIT_BYTES = 64 * 1024 * 1024;

/** Brands a CID with the pattern that started it, so `result()` knows its shape without a type argument. */
declare const startedAs: unique symbol;
/** The CID of a fan-out or parallel execution, as `invoke` / `parallel` return it (a string at run time). */
export type FanoutCid = string & { readonly [startedAs]: 'fanout' };
/** The CID of an invoke/retry, as `invokeRetry` returns it (a string at run time). */
export type InvokeRetryCid = string & { readonly [startedAs]: 'invoke-retry' };

export interface FanoutClientOptions {
  /**
   * A Temporal client. The fan-out client uses its connection, namespace, data converter and interceptors, adding
   * the fan-out's External Storage (large payloads as claims on the store) to the data converter.
   */
  client: Client;
  /** The worker's registry (names, kinds and request schemas), or just its catalog of names and kinds. */
  registry: Registry | Catalog;
  taskQueue?: string;
  /** The result store the workers write to. Default: `defaultBlobStore()` (FANOUT_STORE, or .data/store). */
  store?: BlobStore;
}

export interface InvokeOptions {
  onTarget?: CallbackRef[];
  cid?: string;
  source?: string;
  targetOptions?: Record<string, TargetOptions>;
  maxConcurrency?: number;
  defaults?: Defaults;
  /** When to stop early: 'all-settled' (default), 'fail-fast', { toleratedFailures } or { toleratedFailurePercent }. */
  failurePolicy?: FailurePolicy;
  /** Time the targets have (e.g. '10 minutes'): then those unfinished are cancelled and the final callbacks run. */
  deadline?: Duration;
  /**
   * Run activity targets in batches of at most `maxTargets` (and `maxBytes` of requests), one activity per batch:
   * each target keeps its record, retries, timeout and callbacks. Default: as each service is defined.
   */
  batching?: Batching;
  /** Temporal's task priority, 1 (first) to 5, default 3: a fan-out at 1 overtakes those at 3 for workers. */
  priority?: number;
  /** Its fairness key (default: its source) and weight: fan-outs of different keys share workers in proportion. */
  fairness?: Fairness;
  /**
   * A quorum: once `{ successes: k }` (or `{ successPercent: p }`) targets have succeeded, the rest are cancelled and
   * the final callbacks run, told why (`stopped.reason: 'quorum'`); the fan-out completes. Once that many can no
   * longer succeed, it stops as a failure policy does.
   */
  completion?: Completion;
  /**
   * A circuit breaker per service: after `failures` failed targets of a service in a row, its targets stop starting
   * (the others' go on); every `probeEvery` (default 30 s) one goes through, and a success closes it again.
   */
  circuitBreaker?: CircuitBreaker;
  /**
   * Per service: its targets in flight start at `min`, grow by one for every window's worth of successes up to `max`,
   * and halve on a failure or a backend asking to come back later (ServiceBusyError); within `maxConcurrency`.
   */
  adaptiveConcurrency?: AdaptiveConcurrency;
  /**
   * Hedged stragglers: a target still running `after` a duration (or past its service's latency percentile so far in
   * this fan-out, `{ percentile: 95 }`) gets a second attempt side by side; the first to succeed decides its record,
   * the other is cancelled. At most `max` targets are hedged (default 5% of them). Activity targets run one per
   * activity only: batched, local and child-workflow targets are never hedged.
   */
  hedging?: Hedging;
  /**
   * Once the targets have settled, before the final callbacks: every record written to the result store as JSON
   * lines, a file per outcome (`fanouts/<cid>/results/succeeded.jsonl`, `failed.jsonl`, `cancelled.jsonl`), then a
   * manifest naming them (`resultFiles(cid)`). A redrive writes them again, replacing them.
   */
  writeResults?: boolean;
}

export class FanoutClient {
  private readonly client: Client;
  private readonly taskQueue: string;
  private readonly catalog: Catalog;
  private readonly checks?: RegistryChecks;
  readonly records: RecordStore;

  constructor(options: FanoutClientOptions) {
    const store = options.store ?? defaultBlobStore();
    this.records = new RecordStore(store);
    // Large inputs and results travel as claims on the store: the client must read and write them like the worker.
    // A client that already has External Storage is used as it is (a test environment's keeps its time skipping).
    const given = options.client.options;
    this.client = given.loadedDataConverter.externalStorage
      ? options.client
      : new Client({
          connection: options.client.connection,
          namespace: given.namespace,
          identity: given.identity,
          interceptors: given.interceptors,
          workflow: given.workflow,
          dataConverter: withFanoutStorage(given.dataConverter, store),
        });
    this.taskQueue = options.taskQueue ?? FANOUT_TASK_QUEUE;
    if (Registry.is(options.registry)) {
      const registry = options.registry;
      this.catalog = registry.catalog();
      this.checks = {
        requestSchema: (name) => registry.services.get(name)?.request,
        callback: (name) => registry.callbacks.get(name),
      };
    } else {
      this.catalog = options.registry;
    }
  }

  /**
   * Fan-out / fan-in, Zato style: `invoke(targets, finalCallbacks, { onTarget, cid, source })` → CID. `targets` is
   * a map of target name to request, or a stream of `{ name, service?, request }` items (an async iterable, such
   * as `readTargetItems(...)` of a file in the store): streamed targets are checked as they come and kept in the
   * result store, never all in memory, up to 100,000.
   */
  async invoke(
    targets: Record<string, unknown> | AsyncIterable<TargetItem | unknown>,
    finalCallbacks: CallbackRef[],
    options: InvokeOptions = {},
  ): Promise<FanoutCid> {
    if (isAsyncIterable(targets)) return this.startStreamed('fanout', { finalCallbacks, ...options }, targets);
    return this.startFanout({ targets, finalCallbacks, ...options });
  }

  /** Parallel execution: on-target callbacks only. `targets` as for `invoke`. */
  async parallel(
    targets: Record<string, unknown> | AsyncIterable<TargetItem | unknown>,
    onTarget: CallbackRef[],
    options: Omit<InvokeOptions, 'onTarget'> = {},
  ): Promise<FanoutCid> {
    if (isAsyncIterable(targets)) return this.startStreamed('parallel', { onTarget, ...options }, targets);
    return this.startParallel({ targets, onTarget, ...options });
  }

  /**
   * Starts a fan-out or parallel execution from its options (a raw request without `targets`) and its targets as a
   * stream of items; `where` names an item's place in problems (an NDJSON upload: its line). Items from
   * `readTargetItems` say their place in their file themselves.
   */
  async startStreamed(
    pattern: 'fanout' | 'parallel',
    request: unknown,
    items: AsyncIterable<unknown>,
    where?: (index: number) => (string | number)[],
  ): Promise<FanoutCid> {
    const made = randomUUID();
    const { input, batching } = planFanoutOptions(this.catalog, this.checks, request, pattern, made);
    if (input.cid !== made) await this.checkCidFree(input.cid);
    const { sample, ...stagedTargets } = await stageTargets(items, {
      catalog: this.catalog,
      checks: this.checks,
      blobs: this.records.blobs,
      cid: input.cid,
      batching,
      where: where ?? (items as Partial<TargetItems>).where,
    });
    try {
      checkQuorum(input, stagedTargets.count);
    } catch (error) {
      await removeStaged(this.records.blobs, stagedTargets.prefix, stagedTargets.chunks);
      throw error;
    }
    const workflow = pattern === 'fanout' ? 'fanout' : 'parallelExecution';
    return (await this.start({ workflow, input: { ...input, stagedTargets } }, sample)) as FanoutCid;
  }

  /** Starts a fan-out from a raw request (e.g. an HTTP body), validated against the contract. */
  async startFanout(request: unknown): Promise<FanoutCid> {
    const input = planFanout(this.catalog, this.checks, request, 'fanout', randomUUID());
    return (await this.start({ workflow: 'fanout', input })) as FanoutCid;
  }

  async startParallel(request: unknown): Promise<FanoutCid> {
    const input = planFanout(this.catalog, this.checks, request, 'parallel', randomUUID());
    return (await this.start({ workflow: 'parallelExecution', input })) as FanoutCid;
  }

  /**
   * A dry run: the request checked exactly as a start checks it (the same typed errors: invalid, unknown names,
   * undeliverable callbacks, too large, a CID in use), and what it would do — one execution or shards, the history
   * per execution, the Temporal Cloud actions — with nothing started. Asks the server only whether a CID the
   * request names is in use (it may be taken before the real start all the same).
   */
  async plan(request: unknown, options: { pattern?: 'fanout' | 'parallel' } = {}): Promise<FanoutPlan> {
    const pattern = options.pattern ?? 'fanout';
    const made = randomUUID();
    const input = planFanout(this.catalog, this.checks, request, pattern, made);
    checkSizes(input);
    const cidGiven = input.cid !== made;
    if (cidGiven) await this.checkCidFree(input.cid);
    return dryRunPlan(input, cidGiven);
  }

  /** A start refuses a CID any run has had (REJECT_DUPLICATE): so does a dry run. */
  private async checkCidFree(cid: string): Promise<void> {
    try {
      await this.client.workflow.getHandle(cid).describe();
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return;
      throw error;
    }
    throw new DuplicateCidError(cid);
  }

  /** Invoke/retry: one target, `attempts` tries `interval` apart, callbacks on success or final failure. */
  async invokeRetry(request: InvokeRetryRequest | unknown): Promise<InvokeRetryCid> {
    const input = planInvokeRetry(this.catalog, this.checks, request, randomUUID());
    return (await this.start({ workflow: 'invokeRetry', input })) as InvokeRetryCid;
  }

  /** Counts by state (and each target's state up to 1,000 targets); a sharded fan-out's running shards added in. */
  async progress(cid: string): Promise<FanoutProgress> {
    const progress = await this.withHandle(cid, async (handle) => {
      // A fan-out that completed answers from its outcome and records, with no worker replaying its history.
      if ((await handle.describe()).status.name === 'COMPLETED') {
        const outcome = (await handle.result()) as FanoutOutcome | InvokeRetryOutcome;
        if ('pattern' in outcome) return finishedProgress(outcome, this.records);
      }
      return handle.query(progressQuery);
    });
    for (const shardId of progress.runningShards ?? []) {
      const shard = await this.client.workflow
        .getHandle(shardId)
        .query(progressQuery)
        .catch(() => undefined); // finished between the two queries: its counts are in the next progress
      if (!shard) continue;
      for (const key of ['settled', 'ok', 'failed', 'cancelled', 'running', 'pending'] as const)
        progress[key] += shard[key];
    }
    return progress;
  }

  /**
   * The final payload (every record, keyed by target, read from the result store), each target's state and the
   * callback outcomes; waits for the end unless `wait: false` (then FanoutRunningError). For very wide fan-outs,
   * page with `recordsPage(cid)` instead of holding every record at once. Its type follows the CID: a fan-out's
   * from `invoke` / `parallel`, an invoke/retry's from `invokeRetry`; for a plain string, either (`'record' in r`
   * tells them apart).
   */
  async result(cid: FanoutCid, options?: { wait?: boolean }): Promise<FanoutResult>;
  async result(cid: InvokeRetryCid, options?: { wait?: boolean }): Promise<InvokeRetryResult>;
  async result(cid: string, options?: { wait?: boolean }): Promise<FanoutResult | InvokeRetryResult>;
  async result(cid: string, options: { wait?: boolean } = {}): Promise<FanoutResult | InvokeRetryResult> {
    const outcome = await this.withHandle(cid, async (handle) => {
      if (options.wait === false && (await handle.describe()).status.name === 'RUNNING')
        throw new FanoutRunningError(cid);
      try {
        return (await handle.result()) as FanoutOutcome | InvokeRetryOutcome;
      } catch (error) {
        // A workflow that failed, was terminated or timed out has no result: say so, with its failure.
        if (error instanceof WorkflowFailedError) throw FanoutFailedError.from(cid, error);
        throw error;
      }
    });
    if (!('pattern' in outcome)) {
      const record = outcome.record ?? (await this.records.get(cid, 0))?.record;
      if (!record) throw new Error(`the record of invoke/retry ${cid} is missing from the result store`);
      return { cid, record, callbacks: outcome.callbacks } satisfies InvokeRetryResult;
    }
    const data: FanoutResult['payload']['data'] = {};
    const targets: Record<string, TargetState> = {};
    for await (const { state, record } of this.records.all(cid)) {
      setOwnKey(data, record.target, record);
      setOwnKey(targets, record.target, state);
    }
    return {
      cid,
      state: outcome.state,
      payload: { ...outcome.summary, data },
      targets,
      callbacks: outcome.callbacks,
      counts: outcome.counts,
      ...(outcome.stopped ? { stopped: outcome.stopped } : {}),
      ...(outcome.redrive ? { redrive: outcome.redrive } : {}),
      ...(outcome.latency ? { latency: outcome.latency } : {}),
    } satisfies FanoutResult;
  }

  /**
   * One page of a fan-out's records, in target order (settled targets only while it runs); with `state`, only
   * those of targets in that state (such a page may hold fewer than `limit`: go on while there is a cursor).
   */
  async recordsPage(cid: string, options: RecordPageOptions = {}): Promise<RecordPage> {
    await this.withHandle(cid, (handle) => handle.describe()); // FanoutNotFoundError for an unknown CID
    return this.records.page(cid, options);
  }

  /**
   * The manifest of the results files of a fan-out started with `writeResults` (what each file holds and its key in
   * the result store), or undefined while none has been written: before the targets have settled, or without the
   * option. Read from the result store only.
   */
  async resultFiles(cid: string): Promise<ResultsManifest | undefined> {
    if (!isCid(cid)) return undefined;
    return readResultsManifest(this.records.blobs, cid);
  }

  /**
   * One page of top-level fan-outs (every pattern; no shards or child workflows), most recent first, by Temporal
   * visibility: filtered by `source`, `state` (FanoutState) and `pattern`; `cursor` from the page before. A value
   * refused is an InvalidRequestError naming the option. Visibility lags a moment behind starts and changes.
   */
  async list(options: FanoutListOptions = {}): Promise<FanoutList> {
    return listFanouts(this.client, options);
  }

  /**
   * Follows a fan-out until it ends: a `progress` event whenever the counts change, a `record` event per target as
   * it settles (unless `records: false`), then `end` with the outcome. To resume, pass the last event's `id` as
   * `after`: records already seen are not sent again. FanoutNotFoundError for an unknown CID.
   */
  async *watch(cid: string, options: WatchOptions = {}): AsyncGenerator<FanoutEvent> {
    const handle = await this.withHandle(cid, async (found) => (await found.describe(), found));
    yield* watchFanout(
      {
        cid,
        records: this.records,
        progress: (signal) => this.client.withAbortSignal(signal, () => this.progress(cid)),
        result: (signal) => this.client.withAbortSignal(signal, () => handle.result()),
      },
      options,
    );
  }

  /** Targets in flight at most from now on (1 to 10,000), while the fan-out still starts targets. */
  async setMaxConcurrency(cid: string, maxConcurrency: number): Promise<FanoutControl> {
    return this.control(cid, (handle) => handle.executeUpdate(setMaxConcurrencyUpdate, { args: [maxConcurrency] }));
  }

  /** Stops starting new targets (running ones go on), e.g. while a backend is down. */
  async pause(cid: string): Promise<FanoutControl> {
    return this.control(cid, (handle) => handle.executeUpdate(pauseUpdate));
  }

  /** Starts new targets again after `pause`. */
  async resume(cid: string): Promise<FanoutControl> {
    return this.control(cid, (handle) => handle.executeUpdate(resumeUpdate));
  }

  /** An update the workflow validates: refused (bad value, finished, stopping) as FanoutControlError. */
  private async control(cid: string, update: (handle: WorkflowHandle) => Promise<FanoutControl>) {
    return this.withHandle(cid, async (handle) => {
      const { status } = await handle.describe();
      if (status.name !== 'RUNNING') throw new FanoutControlError(cid, `it is no longer running (${status.name})`);
      try {
        return await update(handle);
      } catch (error) {
        if (error instanceof WorkflowUpdateFailedError)
          throw new FanoutControlError(cid, error.cause instanceof Error ? error.cause.message : error.message);
        throw error;
      }
    });
  }

  /**
   * Runs the failed and cancelled targets of a finished fan-out (or parallel execution) again, as a new run of the
   * same workflow ID (the CID stays; each run stays in the Web UI). Their new records replace the old ones, the
   * others stay; on-target and final callbacks run again, final ones with every record (`ctx.redrive` says which
   * redrive; delivery ids differ per redrive). `result(cid)` then answers for the whole fan-out.
   */
  async redrive(cid: string): Promise<{ cid: string; redrive: number; targets: number }> {
    return this.withHandle(cid, async (handle) => {
      const { status, type } = await handle.describe();
      if (status.name === 'RUNNING') throw new FanoutRunningError(cid);
      if (type !== 'fanout' && type !== 'parallelExecution')
        throw new FanoutControlError(cid, 'an invoke/retry is not redriven: invoke it anew');
      if (status.name !== 'COMPLETED')
        throw new FanoutControlError(cid, `it ended without a result (${status.name}): start it anew`);
      const outcome = (await handle.result()) as FanoutOutcome;
      const indexes: number[] = [];
      let position = 0;
      for await (const { state } of this.records.all(cid)) {
        if (state === 'failed' || state === 'cancelled') indexes.push(position);
        position++;
      }
      if (!indexes.length) throw new FanoutControlError(cid, 'no failed or cancelled targets to run again');
      // The request itself lives in the fan-out's history: the workflow (replayed by a worker) hands back its part.
      const plan = await handle.query(redrivePlanQuery, indexes);
      const redrive = (outcome.redrive ?? 0) + 1;
      const input: FanoutWorkflowInput = {
        ...plan,
        redrive: { number: redrive, total: outcome.counts.total, keptOk: outcome.counts.ok },
      };
      const summary = `redrive ${redrive} of ${patternLabel(type)} from ${input.source}: ${indexes.length} of ${outcome.counts.total} targets`;
      // The one start that reuses a CID: the same fan-out, once its previous run has closed.
      await this.startRun({ workflow: type, input }, summary, 'ALLOW_DUPLICATE').catch((error: unknown) => {
        // Another redrive started it meanwhile.
        throw error instanceof WorkflowExecutionAlreadyStartedError ? new FanoutRunningError(cid) : error;
      });
      return { cid, redrive, targets: indexes.length };
    });
  }

  /** Cancels the targets still running; final callbacks still run with what was collected. */
  async cancel(cid: string): Promise<void> {
    await this.withHandle(cid, (handle) => handle.cancel());
  }

  /** Status as Temporal sees it: RUNNING, COMPLETED, FAILED, … */
  async status(cid: string): Promise<string> {
    return this.withHandle(cid, async (handle) => (await handle.describe()).status.name);
  }

  private async withHandle<T>(cid: string, fn: (handle: WorkflowHandle) => Promise<T>): Promise<T> {
    // Do not ask the server about a CID no fan-out can have: it would answer INVALID_ARGUMENT or INTERNAL rather
    // than "not found".
    if (!isCid(cid)) throw new FanoutNotFoundError(String(cid));
    try {
      return await fn(this.client.workflow.getHandle(cid));
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) throw new FanoutNotFoundError(cid);
      throw error;
    }
  }

  /** Starts the run; `sample` is what the Web UI lists of targets streamed in (the input then has none). */
  private async start(start: Start, sample?: PlannedTarget[]): Promise<string> {
    const { input } = start;
    const width = 'targets' in input ? (input.stagedTargets?.count ?? input.targets.length) : 1;
    checkSizes(input);
    const summary = `${patternLabel(start.workflow)} from ${input.source}: ${width} target${width === 1 ? '' : 's'}`;
    try {
      // A CID names one request forever: never reuse it, even after the first one finished.
      await this.startRun(start, summary, 'REJECT_DUPLICATE', sample);
    } catch (error) {
      if (error instanceof WorkflowExecutionAlreadyStartedError) throw new DuplicateCidError(input.cid);
      throw error;
    }
    return input.cid;
  }

  /** Starts a run of workflow ID = CID, with what the Web UI and listings show of it. */
  private async startRun(
    start: Start,
    summary: string,
    reuse: 'REJECT_DUPLICATE' | 'ALLOW_DUPLICATE',
    sample?: PlannedTarget[],
  ): Promise<void> {
    const { input } = start;
    const targets = sample ?? ('targets' in input ? input.targets : [input.target]);
    const callbacks = 'targets' in input ? [...input.onTarget, ...input.onFinal] : input.callbacks;
    const options = {
      workflowId: input.cid,
      taskQueue: this.taskQueue,
      workflowIdReusePolicy: reuse,
      workflowIdConflictPolicy: 'FAIL' as const,
      staticSummary: summary,
      staticDetails: describeForUi(targets, callbacks),
      typedSearchAttributes: [
        { key: FanoutSourceKey, value: input.source },
        { key: FanoutStateKey, value: 'running' },
      ],
      // Its activities, callbacks, shards and child-workflow targets inherit it.
      ...('priority' in input && input.priority ? { priority: input.priority } : {}),
    };
    // Typed by the workflow functions: an input that does not fit its workflow does not compile.
    if (start.workflow === 'invokeRetry')
      await this.client.workflow.start<typeof invokeRetry>(start.workflow, { ...options, args: [start.input] });
    else await this.client.workflow.start<typeof fanout>(start.workflow, { ...options, args: [start.input] });
  }
}

/** Whether a fan-out can have this CID: the contract refuses empty, too long, slashes and lone surrogates. */
function isCid(cid: unknown): cid is string {
  return typeof cid === 'string' && Cid.safeParse(cid).success && !hasLoneSurrogate(cid);
}

/** Each request travels on its own (in the store when large), so each must fit Temporal's payload limit. */
function checkSizes(input: FanoutWorkflowInput | InvokeRetryWorkflowInput): void {
  const targets = 'targets' in input ? input.targets : [input.target];
  for (const target of targets) {
    const bytes = Buffer.byteLength(JSON.stringify(target.request) ?? '');
    if (bytes > PAYLOAD_LIMIT_BYTES) throw new PayloadTooLargeError(bytes, PAYLOAD_LIMIT_BYTES);
  }
  const bytes = Buffer.byteLength(JSON.stringify(input));
  if (bytes > REQUEST_LIMIT_BYTES) throw new PayloadTooLargeError(bytes, REQUEST_LIMIT_BYTES);
}

/** A start: the name of a workflow function and the input its type takes. */
type Start =
  | { workflow: 'fanout' | 'parallelExecution'; input: Parameters<typeof fanout>[0] }
  | { workflow: 'invokeRetry'; input: Parameters<typeof invokeRetry>[0] };

/** The pattern as people call it, by workflow type. */
function patternLabel(workflowType: string): string {
  if (workflowType === 'fanout') return 'fan-out';
  return workflowType === 'parallelExecution' ? 'parallel execution' : 'invoke/retry';
}

/** What the Web UI shows under the summary: which target runs which service, and the callbacks. */
function describeForUi(targets: { name: string; service: string; kind: string }[], callbacks: CallbackRef[]): string {
  const shown = targets
    .slice(0, 50)
    .map((t) => `- ${t.name}${t.service !== t.name ? ` → ${t.service}` : ''} (${t.kind})`);
  if (targets.length > 50) shown.push(`- … ${targets.length - 50} more`);
  const names = [...new Set(callbacks.map(callbackName))];
  return `**Targets**\n${shown.join('\n')}\n\n**Callbacks**: ${names.length ? names.join(', ') : 'none'}`;
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value;
}
