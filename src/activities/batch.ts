/**
 * Batched targets, worker side. `fanout.runBatch` runs a batch of a fan-out's targets at once in this worker: each
 * target with its own retry policy and timeout per attempt, its own record stored as it settles, and its on-target
 * callbacks run as it settles, with their retry policy and the delivery ids they would have as activities.
 * `fanout.batchCallbacks` runs the on-target callbacks of records the workflow decided (targets cancelled, or of a
 * batch that failed for good) the same way.
 *
 * The store and the heartbeat are the checkpoint. A batch attempt that dies (its worker killed) is retried by
 * Temporal and resumes: a target whose record is stored is not run again, and one whose callbacks the last heartbeat
 * says are done has nothing left to do. The rest run at least once.
 */
import { setMaxListeners } from 'node:events';
import { Context } from '@temporalio/activity';
import { CancelledFailure, TimeoutFailure } from '@temporalio/common';
import type {
  BatchCallbacks,
  BatchCallbacksInput,
  BatchInput,
  BatchResult,
  CallbackContext,
  CallbackOutcome,
  Channel,
  CallbackRef,
  Defaults,
  OutcomesListed,
  StoredRecord,
  TargetRecord,
} from '../contracts';
import { BATCH_CALLBACKS, CALLBACKS_AT_ONCE, RUN_BATCH, callbackName } from '../constants';
import { exceptionText } from '../exception-text';
import type { Registry } from '../registry';
import type { RecordStore } from '../store/records';
import { mapLimit } from '../store/records';
import type { BatchAttempt } from './attempts';
import { runAttempts } from './attempts';
import type { BatchProgressReporter } from './batch-progress';
import { deliverCallback } from './callbacks';
import { callService } from './services';
import { inSpan } from '../tracing/active-context';
import { countBatch, countRecordsWritten } from '../worker/metrics';

/** As the workflows' defaults for targets and callbacks run as activities (workflows/steps). */
const TARGET_TIMEOUT = '1 minute';
const TARGET_ATTEMPTS = 3;
const CALLBACK_TIMEOUT = '1 minute';
const CALLBACK_ATTEMPTS = 5;
/** How often a batch heartbeats: its liveness, its checkpoint, and how it hears of its cancellation. */
const HEARTBEAT_MS = 1000;

/** What a batch's heartbeat holds: per target, `o` or `f` once its record is stored and its callbacks done. */
interface Checkpoint {
  done: string;
}

export interface BatchActivities {
  [RUN_BATCH]: (input: BatchInput) => Promise<BatchResult>;
  [BATCH_CALLBACKS]: (input: BatchCallbacksInput) => Promise<BatchCallbacks>;
}

export function createBatchActivities(
  registry: Registry,
  records: RecordStore,
  progress: BatchProgressReporter,
): BatchActivities {
  return {
    [RUN_BATCH]: (input) => new BatchRun(registry, records, progress, input).run(),
    [BATCH_CALLBACKS]: async ({ cid, pattern, redrive, records: decided, onTarget, defaults, list }) => {
      const context = Context.current();
      const clock = batchClock(context);
      const callbacks = new CallbackRunner(registry, records, clock, {
        cid,
        pattern,
        redrive,
        onTarget,
        defaults,
        list,
      });
      const heartbeat = setInterval(() => context.heartbeat(), HEARTBEAT_MS);
      try {
        await mapLimit(decided, CALLBACKS_AT_ONCE, (record) => callbacks.run(record));
      } finally {
        clearInterval(heartbeat);
      }
      return callbacks.summary();
    },
  };
}

/** The batch attempt's cancellation, for what it runs, and the server's clock as this worker reads it. */
function batchClock(context: Context): BatchAttempt & { cancelRequested: () => boolean } {
  // Every running attempt listens for the batch's cancellation: up to `atOnce` listeners, by design.
  setMaxListeners(0, context.cancellationSignal);
  const startedHere = Date.now();
  const scheduledAt = context.info.currentAttemptScheduledTimestampMs || startedHere;
  return {
    signal: context.cancellationSignal,
    serverNow: () => scheduledAt + (Date.now() - startedHere),
    // The workflow asked for it (the fan-out was cancelled or stopped), rather than this worker shutting down.
    cancelRequested: () => context.cancellationDetails?.cancelRequested === true,
  };
}

class BatchRun {
  private readonly context = Context.current();
  private readonly clock = batchClock(this.context);
  private readonly states: string[];
  private readonly done: string[];
  /** How long each target this attempt ran took, retries included; -1 for the others. */
  private readonly ms: number[];
  private readonly callbacks: CallbackRunner;

  constructor(
    private readonly registry: Registry,
    private readonly records: RecordStore,
    private readonly progress: BatchProgressReporter,
    private readonly input: BatchInput,
  ) {
    const { targets } = input;
    const checkpoint = this.context.info.heartbeatDetails as Checkpoint | undefined;
    this.done = checkpoint?.done.length === targets.length ? [...checkpoint.done] : Array.from(targets, () => '.');
    this.states = [...this.done];
    this.ms = Array.from(targets, () => -1);
    this.callbacks = new CallbackRunner(registry, records, this.clock, input);
  }

  async run(): Promise<BatchResult> {
    const { targets, atOnce } = this.input;
    this.heartbeat();
    // Beside the beats as targets finish: a batch whose targets are all slow still shows it is alive.
    const heartbeat = setInterval(() => this.heartbeat(), HEARTBEAT_MS);
    try {
      await mapLimit(
        targets.map((_, offset) => offset),
        atOnce,
        // A child span per target (its attempts and its on-target callbacks) when tracing is on; a no-op otherwise.
        (offset) =>
          inSpan(`RunTarget:${targets[offset].service}`, { 'fanout.target': targets[offset].name }, () =>
            this.settle(offset),
          ),
      );
    } finally {
      clearInterval(heartbeat);
      this.progress.ended(this.context.info.workflowExecution, this.input.batch);
    }
    // Shut down or timed out rather than cancelled by the fan-out: fail, so that Temporal retries the batch.
    if (this.clock.signal.aborted && !this.clock.cancelRequested()) {
      countBatch('failed');
      throw this.clock.signal.reason as Error;
    }
    countBatch('completed');
    return { states: this.states.join(''), ms: this.ms, ...this.callbacks.summary() };
  }

  /** Its liveness and checkpoint. A local batch has none: the worker running its workflow runs it. */
  private heartbeat(): void {
    if (!this.context.info.isLocal) this.context.heartbeat({ done: this.done.join('') } satisfies Checkpoint);
  }

  private async settle(offset: number): Promise<void> {
    if (this.done[offset] !== '.') return; // an earlier attempt finished it
    const target = this.input.targets[offset];
    const startedAt = Date.now();
    const before = await this.decidedBefore(target.index);
    const stored = before ?? (await this.runTarget(offset));
    if (!stored) return; // cancelled: the workflow records it
    if (!before) this.ms[offset] = Date.now() - startedAt;
    if (stored.state === 'cancelled') {
      this.states[offset] = 'c';
      return;
    }
    this.states[offset] = stored.state === 'ok' ? 'o' : 'f';
    this.reportProgress();
    await this.callbacks.run(stored.record, target.name);
    this.done[offset] = this.states[offset];
    // The SDK sends the latest details once a second at most: a batch retried after its worker died re-runs the
    // callbacks of what it finished within that second, no more.
    this.heartbeat();
  }

  /** On a retried batch, the record an earlier attempt stored for this run (a redrive's own), if any. */
  private async decidedBefore(index: number): Promise<StoredRecord | undefined> {
    if (this.context.info.attempt === 1) return undefined;
    const stored = await this.records.get(this.input.cid, index);
    return stored && (stored.redrive ?? 0) === (this.input.redrive ?? 0) ? stored : undefined;
  }

  /** Runs the target's attempts; stores its record (failed ones too). Undefined when the batch was cancelled first. */
  private async runTarget(offset: number): Promise<StoredRecord | undefined> {
    const { cid, source, reqTsUtc, redrive, defaults, targets } = this.input;
    const target = targets[offset];
    if (this.clock.signal.aborted) {
      this.states[offset] = 'n';
      return undefined;
    }
    const service = this.registry.services.get(target.service);
    const call = { request: target.request, cid, source, target: target.name, index: target.index, reqTsUtc };
    try {
      if (service?.kind !== 'activity') throw new Error(`${target.service} is not an activity service on this worker`);
      return await runAttempts(
        {
          activityId: `target/${target.name}`,
          activityType: target.service,
          startToCloseTimeout: target.startToCloseTimeout ?? defaults.startToCloseTimeout ?? TARGET_TIMEOUT,
          retry: target.retry ?? defaults.retry ?? {},
          defaultAttempts: TARGET_ATTEMPTS,
        },
        this.clock,
        () => callService(service, { ...call, ...(redrive ? { redrive } : {}) }, this.records),
      );
    } catch (error) {
      if (error instanceof CancelledFailure && this.clock.signal.aborted) {
        this.states[offset] = 'c';
        return undefined;
      }
      const record: TargetRecord = {
        source,
        target: target.name,
        response: null,
        req_ts_utc: reqTsUtc,
        resp_ts_utc: new Date(this.clock.serverNow()).toISOString(),
        ok: false,
        exception: exceptionText(error),
        cid,
      };
      const stored: StoredRecord = { state: 'failed', record, ...(redrive ? { redrive } : {}) };
      const kept = await this.records.putFirst(cid, target.index, stored);
      if (kept === stored) countRecordsWritten('batch');
      return kept;
    }
  }

  private reportProgress(): void {
    let client: Context['client'] | undefined;
    try {
      client = this.context.client;
    } catch {
      client = undefined; // no worker client (a mock activity environment): the result alone reports
    }
    this.progress.update(client, this.context.info.workflowExecution, {
      batch: this.input.batch,
      states: this.states.map((state) => (state === 'o' || state === 'f' ? state : '.')).join(''),
    });
  }
}

/** Runs targets' on-target callbacks inside a batch, and keeps their outcomes as the workflow would. */
class CallbackRunner {
  private run_ = 0;
  private failed = 0;
  private readonly outcomes: CallbackOutcome[] = [];
  private readonly channel: Channel;
  /** Callbacks run to the end when the fan-out is cancelled; only this worker shutting down stops them. */
  private readonly clock: BatchAttempt;

  constructor(
    private readonly registry: Registry,
    private readonly records: RecordStore,
    batch: ReturnType<typeof batchClock>,
    private readonly fanout: {
      cid: string;
      pattern: 'fanout' | 'parallel';
      redrive?: number;
      onTarget: CallbackRef[];
      defaults: Defaults;
      list: OutcomesListed;
    },
  ) {
    this.channel = fanout.pattern === 'parallel' ? 'PARALLEL_EXEC_ON_TARGET' : 'FANOUT_ON_TARGET';
    const shutdown = new AbortController();
    batch.signal.addEventListener(
      'abort',
      () => {
        if (!batch.cancelRequested()) shutdown.abort(batch.signal.reason);
      },
      { once: true },
    );
    this.clock = { signal: shutdown.signal, serverNow: batch.serverNow };
  }

  /** Runs every on-target callback for this record at once, each to the end of its retry policy. */
  async run(record: TargetRecord, target = record.target): Promise<void> {
    const { cid, redrive, onTarget, defaults } = this.fanout;
    const used = new Map<string, number>();
    await Promise.all(
      onTarget.map(async (ref) => {
        const name = callbackName(ref);
        // The same activity ID the workflow gives it (`…#2` for a second entry): the delivery id derives from it.
        const occurrence = (used.get(name) ?? 0) + 1;
        used.set(name, occurrence);
        const base = `on-target/${target}/${name}`;
        const ctx: CallbackContext = {
          channel: this.channel,
          cid,
          callback: name,
          ...(typeof ref === 'string' || !ref.options ? {} : { options: ref.options }),
          target,
          ...(redrive ? { redrive } : {}),
        };
        const outcome: CallbackOutcome = { callback: name, channel: this.channel, target, ok: true };
        try {
          const callback = this.registry.callbacks.get(name);
          if (!callback) throw new Error(`${name} is not a callback on this worker`);
          await runAttempts(
            {
              activityId: occurrence === 1 ? base : `${base}#${occurrence}`,
              activityType: name,
              startToCloseTimeout: defaults.callbackStartToCloseTimeout ?? CALLBACK_TIMEOUT,
              retry: defaults.callbackRetry ?? {},
              defaultAttempts: CALLBACK_ATTEMPTS,
            },
            this.clock,
            () => deliverCallback(callback, { record }, ctx, this.records),
          );
          this.record(outcome);
        } catch (error) {
          if (this.clock.signal.aborted) throw error; // this worker is shutting down: the batch is retried
          this.record({ ...outcome, ok: false, error: callbackError(error) });
        }
      }),
    );
  }

  summary(): BatchCallbacks {
    return { callbacks: this.run_, callbacksFailed: this.failed, outcomes: this.outcomes };
  }

  /** Every outcome counted; listed as many as the workflow still lists (`BatchInput.list`). */
  private record(outcome: CallbackOutcome): void {
    this.run_++;
    if (!outcome.ok) this.failed++;
    const listed = this.outcomes.length;
    if (outcome.ok ? listed < this.fanout.list.ok : listed < this.fanout.list.failed) this.outcomes.push(outcome);
  }
}

function callbackError(error: unknown): string {
  if (error instanceof TimeoutFailure)
    return 'StartToClose timeout: an attempt ran longer than its start-to-close timeout';
  return error instanceof Error ? error.message : String(error);
}
