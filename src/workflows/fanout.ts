/**
 * Fan-out / fan-in and parallel execution. The workflow ID is the CID. Targets run in parallel, at most
 * `maxConcurrency` at a time; as each settles, its on-target callbacks run on their own; when the last target has
 * settled, every final callback runs with the responses keyed by target (assembled from the result store by the
 * callback's activity, never carried through history). A fan-out that fits one execution's history runs its
 * targets itself (SingleRun); a wider one runs them as shards (ShardedRun; see sharding). Asked to (`writeResults`),
 * it has the records written out as files before the final callbacks run.
 * Cancelling cancels the targets still running, marks the ones not started, and still runs the callbacks. A fan-out
 * stops the same way by itself when its failure policy is broken or its deadline passes, and says why.
 */
import {
  CancellationScope,
  log,
  patched,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type {
  CallbackOutcome,
  FanoutControl,
  FanoutCounts,
  FanoutOutcome,
  FanoutProgress,
  FanoutState,
  FanoutWorkflowInput,
  FinalPayload,
  StopReason,
} from '../contracts';
import type { Duration as TemporalDuration } from '@temporalio/common';
import { FanoutStateKey, MAX_CONCURRENCY_LIMIT, callbackName, quorumOf, toleratedFailures } from '../constants';
import { pauseUpdate, progressQuery, redrivePlanQuery, resumeUpdate, setMaxConcurrencyUpdate } from './definitions';
import { latencyFigures } from './latency';
import { countFinished, countStarted } from './metrics';
import { PATCH_CHECK_SERVICE_QUEUES, PATCH_SPREAD_SHARDS } from './patches';
import { progressOf } from './progress';
import { utc } from './records';
import { ShardedRun } from './sharded-run';
import { batchWidthOf } from './batch-plan';
import { SHARD_LAYOUT, SHARD_LAYOUT_1_0, planShards } from './sharding';
import { SingleRun } from './single-run';
import { CallbackIds, checkNames, loadTargets, runCallback, writeResults } from './steps';
import type { RunHost, RunSettings, TargetsRun } from './targets-run';

/** Zato's fan-out / fan-in: final callbacks required, on-target callbacks optional. */
export async function fanout(input: FanoutWorkflowInput): Promise<FanoutOutcome> {
  const versions = runVersions(); // first, before any activity (see patches)
  const withTargets = input.stagedTargets ? await withStagedTargets(input) : input;
  return new FanoutRun({ ...withTargets, pattern: 'fanout' }, versions).run();
}

/** Zato's parallel execution: on-target callbacks required, no final callbacks. */
export async function parallelExecution(input: FanoutWorkflowInput): Promise<FanoutOutcome> {
  const versions = runVersions(); // first, before any activity (see patches)
  const withTargets = input.stagedTargets ? await withStagedTargets(input) : input;
  return new FanoutRun({ ...withTargets, pattern: 'parallel', onFinal: [] }, versions).run();
}

/** What changed since 1.0 that this run does: the newer way for a run started since, the older one on its replays. */
interface RunVersions {
  /** The start check covers how each limited service's targets are routed. */
  queues: boolean;
  /** Shards of SHARD_LAYOUT rather than SHARD_LAYOUT_1_0. */
  spreadShards: boolean;
}

/** Every patch of FANOUT_RUN_PATCHES (whose markers the dry run counts), in its order. */
function runVersions(): RunVersions {
  return { queues: patched(PATCH_CHECK_SERVICE_QUEUES), spreadShards: patched(PATCH_SPREAD_SHARDS) };
}

/** Targets streamed in are loaded from the store first; from then on the fan-out is as if they had been given. */
async function withStagedTargets({ stagedTargets, ...input }: FanoutWorkflowInput): Promise<FanoutWorkflowInput> {
  return { ...input, targets: await loadTargets(stagedTargets!) };
}

class FanoutRun implements RunHost {
  private readonly reqTsUtc: string;
  private readonly targets: TargetsRun;
  private phase: FanoutState = 'running';
  private readonly finalOutcomes: CallbackOutcome[] = [];
  /** The scope the targets (or shards) run in: cancelled when the fan-out is, or when it stops by itself. */
  private readonly targetsScope = new CancellationScope();
  private readonly tolerated: number;
  /** Successes that stop the fan-out (`completion`), of all its targets; Infinity for none. */
  private readonly quorum: number;
  private stopped?: StopReason;
  /** Run-time control (setMaxConcurrency, pause, resume): what the fan-out allows now. */
  private settings: RunSettings;

  constructor(
    private readonly input: FanoutWorkflowInput,
    private readonly versions: RunVersions,
  ) {
    this.reqTsUtc = utc(workflowInfo().runStartTime.getTime());
    this.tolerated = toleratedFailures(input.failurePolicy, input.targets.length);
    this.quorum = quorumOf(input.completion, input.redrive?.total ?? input.targets.length);
    this.settings = { maxConcurrency: input.maxConcurrency, paused: false };
    const { targets, onTarget, maxConcurrency } = input;
    const layout = versions.spreadShards ? SHARD_LAYOUT : SHARD_LAYOUT_1_0;
    const plan = planShards(targets.length, onTarget.length, maxConcurrency, batchWidthOf(targets), layout);
    this.targets =
      plan.shardCount === 1
        ? new SingleRun(input, this.reqTsUtc, plan, this)
        : new ShardedRun(input, this.reqTsUtc, plan, this, {
            failures: Number.isFinite(this.tolerated) || Number.isFinite(this.quorum),
            quorum: Number.isFinite(this.quorum),
          });
  }

  async run(): Promise<FanoutOutcome> {
    const { input } = this;
    this.setHandlers();
    this.changed();
    const planned = Object.fromEntries(input.targets.map((t) => [t.service, { kind: t.kind, limits: t.limits }]));
    try {
      await checkNames(
        input.targets.map((t) => t.service),
        [...input.onTarget, ...input.onFinal],
        planned,
        this.versions.queues,
      );
    } catch (error) {
      // Listings by FanoutState must not show it as running for ever.
      this.setPhase('failed');
      throw error;
    }
    countStarted(input.pattern, input.source);

    // The SDK's workflow logger: not on replay, and with the trace id when the worker traces.
    log.info('fan-out started', {
      event: 'fanout.started',
      cid: input.cid,
      pattern: input.pattern,
      source: input.source,
      targets: input.targets.length,
    });
    const deadline = this.startDeadline();
    const cutShort = await this.targets.runTargets(this.targetsScope);
    deadline?.cancel();
    // A stop that cut nothing short (the deadline fired in the task where the last target finished) is no stop.
    if (!cutShort) this.stopped = undefined;
    // A quorum reached is the fan-out done, though it cancelled the rest.
    const cancelled =
      CancellationScope.current().consideredCancelled || (cutShort && this.stopped?.reason !== 'quorum');

    // Final callbacks start when the last target has settled, beside on-target callbacks still retrying.
    return CancellationScope.nonCancellable(async () => {
      await this.targets.saveRecords();
      this.setPhase('finalizing');
      await this.writeResults(cancelled ? 'cancelled' : 'completed');
      await this.runFinalCallbacks();
      await this.targets.finished();
      this.setPhase(cancelled ? 'cancelled' : 'completed');
      const outcome = this.outcome(cancelled ? 'cancelled' : 'completed');
      upsertMemo({ counts: outcome.counts, ...(outcome.latency ? { latency: outcome.latency } : {}) });
      log.info('fan-out finished', {
        event: 'fanout.finished',
        cid: outcome.cid,
        state: outcome.state,
        ...outcome.counts,
      });
      return outcome;
    });
  }

  failed(count: number): void {
    const { targets, redrive, failurePolicy } = this.input;
    // Successes still possible: those kept from an earlier run, and every target of this one not failed.
    const reachable = (redrive?.keptOk ?? 0) + targets.length - count;
    if (reachable < this.quorum && Number.isFinite(this.quorum)) {
      const total = redrive?.total ?? targets.length;
      this.stop({
        reason: 'failure-policy',
        message: `${count} of ${targets.length} targets failed: ${this.quorum} of ${total} can no longer succeed`,
      });
      return;
    }
    if (count <= this.tolerated) return;
    const rule = failurePolicy === 'fail-fast' ? 'fail-fast' : `${this.tolerated} failed target(s) tolerated`;
    this.stop({ reason: 'failure-policy', message: `${count} of ${targets.length} targets failed; ${rule}` });
  }

  succeeded(count: number): void {
    const { targets, redrive } = this.input;
    const ok = (redrive?.keptOk ?? 0) + count;
    if (ok < this.quorum) return;
    const total = redrive?.total ?? targets.length;
    this.stop({
      reason: 'quorum',
      message: `${ok} of ${total} targets succeeded: the quorum of ${this.quorum} is reached`,
    });
  }

  saveCounts(): void {
    upsertMemo({ counts: this.counts(), latency: latencyFigures(this.targets.latency()) });
  }

  changed(): void {
    const title = `${this.input.pattern === 'parallel' ? 'parallel execution' : 'fan-out'} ${this.phase}`;
    setCurrentDetails(this.targets.details(title));
  }

  private setHandlers(): void {
    setHandler(progressQuery, () => this.progress());
    setHandler(redrivePlanQuery, (indexes) => {
      // The targets at these positions, as this run was asked to run them; the rest of the request unchanged.
      const wanted = new Set(indexes);
      const { redrive: _redrive, ...request } = this.input;
      const targets = this.input.targets.flatMap((target, i) =>
        wanted.has(target.index ?? i) ? [{ ...target, index: target.index ?? i }] : [],
      );
      return { ...request, targets };
    });
    const whileStarting = () => {
      if (this.phase !== 'running' || this.targetsScope.consideredCancelled)
        throw new Error('the fan-out no longer starts targets: it is finishing, stopped or cancelled');
    };
    setHandler(setMaxConcurrencyUpdate, (maxConcurrency) => this.control({ maxConcurrency }), {
      validator: (maxConcurrency) => {
        if (!Number.isInteger(maxConcurrency) || maxConcurrency < 1 || maxConcurrency > MAX_CONCURRENCY_LIMIT)
          throw new Error(`maxConcurrency must be a whole number from 1 to ${MAX_CONCURRENCY_LIMIT}`);
        whileStarting();
      },
    });
    setHandler(pauseUpdate, () => this.control({ paused: true }), { validator: whileStarting });
    setHandler(resumeUpdate, () => this.control({ paused: false }), { validator: whileStarting });
  }

  /** Applies a control update, also when it comes before the targets start (while the names are checked). */
  private async control(change: Partial<RunSettings>): Promise<FanoutControl> {
    this.settings = { ...this.settings, ...change };
    await this.targets.control(this.settings);
    this.changed();
    return { ...this.settings };
  }

  /** Stops the fan-out by itself: what is running is cancelled, what has not started never does. */
  private stop(reason: StopReason): void {
    if (this.stopped || this.targetsScope.consideredCancelled) return;
    this.stopped = reason;
    log.info('fan-out stopped', { event: 'fanout.stopped', cid: this.input.cid, ...reason });
    this.targets.stopped(reason);
    this.targetsScope.cancel();
  }

  /** The deadline's timer, if there is one, in a scope of its own: cancelled once the targets have settled. */
  private startDeadline(): CancellationScope | undefined {
    const { deadline } = this.input;
    if (deadline === undefined) return undefined;
    const scope = new CancellationScope();
    scope
      .run(() => sleep(deadline as TemporalDuration))
      .then(
        () => this.stop({ reason: 'deadline', message: `the deadline of ${deadline} passed` }),
        () => undefined, // cancelled: the targets settled in time
      );
    return scope;
  }

  /**
   * Only when asked for: a run without `writeResults` schedules no command here, as before it existed. Before the
   * final callbacks, so that they can point to the files.
   */
  private async writeResults(state: FanoutOutcome['state']): Promise<void> {
    const { cid, writeResults: asked, redrive } = this.input;
    if (!asked) return;
    await writeResults({ cid, state, total: this.counts().total, run: redrive?.number ?? 0 });
  }

  private async runFinalCallbacks(): Promise<void> {
    const { cid, onFinal, defaults } = this.input;
    const ids = new CallbackIds();
    const summary = this.summary();
    const outcomes = await Promise.all(
      onFinal.map((ref) =>
        runCallback(
          ref,
          { final: { ...summary, cid } },
          {
            cid,
            channel: 'FANOUT_ON_FINAL',
            activityId: ids.next(`on-final/${callbackName(ref)}`),
            records: this.counts().total,
            ...(this.stopped ? { stopped: this.stopped } : {}),
            ...(this.input.redrive ? { redrive: this.input.redrive.number } : {}),
          },
          defaults,
        ),
      ),
    );
    this.finalOutcomes.push(...outcomes);
  }

  private summary(): Omit<FinalPayload, 'data'> {
    const { source, onTarget, onFinal } = this.input;
    return {
      source,
      req_ts_utc: this.reqTsUtc,
      on_target: onTarget.length ? onTarget.map(callbackName) : '',
      on_final: onFinal.map(callbackName),
    };
  }

  /** A redrive counts the whole fan-out: the targets that had succeeded before, and what it re-ran. */
  private counts(): FanoutCounts {
    const { redrive, targets } = this.input;
    const part = this.targets.counts();
    return {
      total: redrive?.total ?? targets.length,
      ok: (redrive?.keptOk ?? 0) + part.ok,
      failed: part.failed,
      cancelled: part.cancelled,
      callbacks: part.callbacks + this.finalOutcomes.length,
      callbacksFailed: part.callbacksFailed + this.finalOutcomes.filter((o) => !o.ok).length,
    };
  }

  private outcome(state: FanoutOutcome['state']): FanoutOutcome {
    const { shards } = this.targets;
    const latency = latencyFigures(this.targets.latency());
    return {
      cid: this.input.cid,
      state,
      pattern: this.input.pattern,
      summary: this.summary(),
      counts: this.counts(),
      callbacks: [...this.targets.outcomes(), ...this.finalOutcomes],
      ...(shards ? { shards } : {}),
      ...(this.stopped ? { stopped: this.stopped } : {}),
      ...(this.input.redrive ? { redrive: this.input.redrive.number } : {}),
      ...(Object.keys(latency).length ? { latency } : {}),
    };
  }

  private setPhase(phase: FanoutState): void {
    this.phase = phase;
    if (phase === 'completed' || phase === 'cancelled' || phase === 'failed')
      countFinished(this.input.pattern, this.input.source, phase);
    upsertSearchAttributes([{ key: FanoutStateKey, value: phase }]);
    this.changed();
  }

  private progress(): FanoutProgress {
    const { cid, source, pattern, targets, redrive } = this.input;
    const { states, more } = this.targets.progress(this.counts());
    return progressOf({ cid, source, pattern, state: this.phase, total: targets.length }, states, {
      ...more,
      ...(this.stopped ? { stopped: this.stopped } : {}),
      ...this.settings,
      ...(redrive ? { redrive: redrive.number } : {}),
    });
  }
}
