/**
 * Fan-out / fan-in and parallel execution. The workflow ID is the CID. Targets run in parallel, at most
 * `maxConcurrency` at a time; as each settles, its on-target callbacks run on their own; when the last target has
 * settled, every final callback runs with the responses keyed by target (assembled from the result store by the
 * callback's activity, never carried through history). A fan-out that fits one execution's history runs here;
 * a wider one runs as shards, child workflows `<cid>//shard-<n>` of `fanoutShard`, a few at a time (see sharding).
 * Cancelling cancels the targets still running, marks the ones not started, and still runs the callbacks. A fan-out
 * stops the same way by itself when its failure policy is broken or its deadline passes, and says why.
 */
import {
  CancellationScope,
  CancelledFailure,
  condition,
  executeChild,
  getExternalWorkflowHandle,
  isCancellation,
  ParentClosePolicy,
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
  ShardInput,
  ShardResult,
  ShardWorkflowInput,
  StopReason,
} from '../contracts';
import type { Duration as TemporalDuration } from '@temporalio/common';
import {
  FanoutStateKey,
  MAX_CONCURRENCY_LIMIT,
  PROGRESS_TARGETS_LIMIT,
  callbackName,
  toleratedFailures,
} from '../constants';
import {
  pauseUpdate,
  progressQuery,
  redrivePlanQuery,
  resumeUpdate,
  setMaxConcurrencyUpdate,
  shardControlSignal,
  shardSettledSignal,
  targetFailedSignal,
} from './definitions';
import { countsLine, detailsTable, utc } from './records';
import type { PlanOptions, ShardPlan } from './sharding';
import { planShards, shardWorkflowId } from './sharding';
import { CallbackIds, checkNames, runCallback, targetCancellationType } from './steps';
import { TargetRunner } from './target-runner';

/** Zato's fan-out / fan-in: final callbacks required, on-target callbacks optional. */
export async function fanout(input: FanoutWorkflowInput): Promise<FanoutOutcome> {
  return new FanoutRun({ ...input, pattern: 'fanout' }).run();
}

/** Zato's parallel execution: on-target callbacks required, no final callbacks. */
export async function parallelExecution(input: FanoutWorkflowInput): Promise<FanoutOutcome> {
  return new FanoutRun({ ...input, pattern: 'parallel', onFinal: [] }).run();
}

type ShardState = 'pending' | 'running' | 'settled' | 'done';

class FanoutRun {
  private readonly reqTsUtc: string;
  private readonly plan: ShardPlan;
  private phase: FanoutState = 'running';
  /** One execution: the runner of all targets. Sharded: none; the shards' states and results instead. */
  private runner?: TargetRunner;
  private readonly shardStates: ShardState[] = [];
  private readonly shardResults: ShardResult[] = [];
  private readonly finalOutcomes: CallbackOutcome[] = [];
  /** Decided first thing in the run, before the catalog check (see targetCancellationType). */
  private readonly cancellationType = targetCancellationType();
  /**
   * The memo's `counts` (readable with no worker running: the Web UI, describe) also while running: at every tenth
   * of the targets settled and at every shard done. Runs from before this replay without it. Decided first thing,
   * like the cancellation type.
   */
  private readonly countsWhileRunning = patched('counts-memo-while-running');
  /**
   * Sharded, a concurrency change also changes how many shards run at once (more shards above what one execution
   * may hold, fewer below). Runs from before this replay with the shards-at-once of their start. Decided first thing.
   */
  private readonly shardLanesFollowConcurrency = patched('shard-lanes-follow-concurrency');
  /** The scope the targets (or shards) run in: cancelled when the fan-out is, or when it stops by itself. */
  private readonly targetsScope = new CancellationScope();
  private readonly tolerated: number;
  /** Failed targets reported by shards (one execution counts its own). */
  private shardFailures = 0;
  private stopped?: StopReason;
  /** Run-time control (setMaxConcurrency, pause, resume): what the fan-out allows now, per execution too. */
  private maxConcurrency: number;
  private perExecution: number;
  private paused = false;
  /** Sharded: how many shards should run at once now, the lanes taking them, and the next shard to take. */
  private shardsWanted: number;
  private readonly shardLanes: Promise<void>[] = [];
  private activeShardLanes = 0;
  private nextShard = 0;

  constructor(private readonly input: FanoutWorkflowInput) {
    this.reqTsUtc = utc(workflowInfo().runStartTime.getTime());
    this.plan = this.planWithinLimits();
    this.tolerated = toleratedFailures(input.failurePolicy, input.targets.length);
    this.maxConcurrency = input.maxConcurrency;
    this.perExecution = this.plan.concurrencyPerExecution;
    this.shardsWanted = this.plan.shardsAtOnce;
  }

  /**
   * The plan as this code makes it: shards small enough that their pending activities stay within the server's
   * limit, and a sharded fan-out's concurrency spread over shards of SHARD_IN_FLIGHT targets in flight. Fan-outs
   * started before either replay with the plan they had: each marker is written only where the plan it brings
   * differs from the one before (four or more on-target callbacks; a sharded fan-out whose concurrency can be
   * spread), so every other history replays unchanged.
   */
  private planWithinLimits(): ShardPlan {
    const { targets, onTarget, maxConcurrency } = this.input;
    const plan = (options: PlanOptions) => planShards(targets.length, onTarget.length, maxConcurrency, options);
    const same = (a: ShardPlan, b: ShardPlan) => (Object.keys(a) as (keyof ShardPlan)[]).every((k) => a[k] === b[k]);
    const first = plan({ withinPendingActivitiesLimit: false, spreadOverShards: false });
    const pendingBound = plan({ spreadOverShards: false });
    if (!same(pendingBound, first) && !patched('shards-within-pending-activities-limit')) return first;
    const spread = plan({});
    return same(spread, pendingBound) || !patched('shards-spread-in-flight') ? pendingBound : spread;
  }

  async run(): Promise<FanoutOutcome> {
    const { input } = this;
    setHandler(progressQuery, () => this.progress());
    setHandler(redrivePlanQuery, (indexes) => {
      // The targets at these positions, as this run was asked to run them; the rest of the request as it was.
      const wanted = new Set(indexes);
      const { redrive: _redrive, ...request } = this.input;
      const targets = this.input.targets.flatMap((target, i) =>
        wanted.has(target.index ?? i) ? [{ ...target, index: target.index ?? i }] : [],
      );
      return { ...request, targets };
    });
    setHandler(shardSettledSignal, (index) => {
      if (this.shardStates[index] === 'running') this.shardStates[index] = 'settled';
    });
    setHandler(targetFailedSignal, () => {
      this.shardFailures++;
      this.applyFailurePolicy(this.shardFailures);
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
    this.showDetails();
    const kinds = Object.fromEntries(input.targets.map((t) => [t.service, t.kind]));
    try {
      await checkNames(
        input.targets.map((t) => t.service),
        [...input.onTarget, ...input.onFinal],
        kinds,
      );
    } catch (error) {
      // Listings by FanoutState must not show it as running for ever (histories from before replay unchanged).
      if (patched('fanout-failed-state')) this.setPhase('failed');
      throw error;
    }

    const deadline = this.startDeadline();
    let cancelled = false;
    let finished: Promise<void>;
    if (this.plan.shardCount === 1) {
      // A control update may have come while the names were checked. Runs from before this started as planned
      // whatever the update said; the marker is written only where that makes a difference.
      const changedEarly = this.perExecution !== this.plan.concurrencyPerExecution || this.paused;
      const early = changedEarly && patched('early-control-reaches-runner');
      const runner = new TargetRunner(
        {
          ...this.shardInput(0, input.targets.length, early ? this.perExecution : this.plan.concurrencyPerExecution),
          cancellationType: this.cancellationType,
        },
        (state) => {
          if (state === 'failed') this.applyFailurePolicy(runner.counts.failed);
          if (state !== 'running') this.countsAtEachTenth(runner.counts);
          this.showDetails();
        },
      );
      this.runner = runner;
      if (early) runner.paused = this.paused;
      try {
        await this.targetsScope.run(() => runner.runTargets());
      } catch (error) {
        if (!isCancellation(error)) throw error;
      }
      runner.markNotStarted();
      // A stop that cut nothing short (the deadline fired in the task where the last target finished) is no stop.
      if (runner.counts.cancelled === 0) this.stopped = undefined;
      cancelled = CancellationScope.current().consideredCancelled || runner.counts.cancelled > 0;
      deadline?.cancel();
      await CancellationScope.nonCancellable(() => runner.saveRecords());
      finished = runner.callbacksSettled();
    } else {
      finished = this.targetsScope.run(() => this.runShards());
      const settled = () => this.shardStates.every((state) => state === 'settled' || state === 'done');
      try {
        await condition(settled);
      } catch (error) {
        if (!isCancellation(error)) throw error;
        await CancellationScope.nonCancellable(() => condition(settled));
      }
      deadline?.cancel();
      cancelled = CancellationScope.current().consideredCancelled || this.stopped !== undefined;
    }

    // Final callbacks start when the last target has settled, beside on-target callbacks still retrying.
    return CancellationScope.nonCancellable(async () => {
      this.setPhase('finalizing');
      await this.runFinalCallbacks();
      await finished;
      this.setPhase(cancelled ? 'cancelled' : 'completed');
      const outcome = this.outcome(cancelled ? 'cancelled' : 'completed');
      upsertMemo({ counts: outcome.counts });
      return outcome;
    });
  }

  private countsAtEachTenth({ ok, failed, cancelled }: { ok: number; failed: number; cancelled: number }): void {
    const total = this.input.targets.length;
    const settled = ok + failed + cancelled;
    if (this.countsWhileRunning && settled < total && settled % Math.ceil(total / 10) === 0)
      upsertMemo({ counts: this.counts() });
  }

  /**
   * Applies a control update: to this execution's runner, or to the running shards (by signal) and the shards still
   * to start (in their input). Spread over shards, each running one gets an equal share, at least one target.
   */
  private async control(change: { maxConcurrency?: number; paused?: boolean }): Promise<FanoutControl> {
    if (change.maxConcurrency !== undefined) this.maxConcurrency = change.maxConcurrency;
    if (change.paused !== undefined) this.paused = change.paused;
    const cap = this.plan.executionCap;
    if (this.plan.shardCount === 1) {
      this.perExecution = Math.max(1, Math.min(cap, this.maxConcurrency));
      // Before the runner exists (names still being checked), it starts with these settings: see run().
      this.runner?.control({ concurrency: this.perExecution, paused: this.paused });
    } else if (this.shardLanesFollowConcurrency) {
      this.shardsWanted = Math.min(this.plan.shardCount, Math.ceil(this.maxConcurrency / this.plan.inFlightPerShard));
      await this.rebalanceShards();
      // Once the shards have started (before, runShards starts as many lanes as wanted).
      const started = this.shardStates.length > 0;
      while (started && this.activeShardLanes < this.shardsWanted && this.nextShard < this.plan.shardCount)
        this.shardLanes.push(this.shardLane());
    } else {
      this.perExecution = Math.max(1, Math.min(cap, Math.floor(this.maxConcurrency / this.plan.shardsAtOnce)));
      await this.signalRunningShards();
    }
    this.showDetails();
    return { maxConcurrency: this.maxConcurrency, paused: this.paused };
  }

  /**
   * Gives each shard its share of the fan-out's concurrency: running shards and the ones to start split it evenly,
   * so that all of them together never have more in flight than `maxConcurrency` (lowered, the shards over the new
   * count share it until they finish; then the others get theirs back).
   */
  private async rebalanceShards({ onlyIfChanged = false } = {}): Promise<void> {
    const running = this.shardStates.filter((state) => state === 'running').length;
    const cap = this.plan.executionCap;
    const share = Math.max(1, Math.min(cap, Math.floor(this.maxConcurrency / Math.max(this.shardsWanted, running))));
    if (onlyIfChanged && share === this.perExecution) return;
    this.perExecution = share;
    await this.signalRunningShards();
  }

  /** Tells the running shards what they may run now. */
  private async signalRunningShards(): Promise<void> {
    const control = { concurrency: this.perExecution, paused: this.paused };
    await Promise.all(
      this.shardStates.map(async (state, index) => {
        if (state !== 'running') return;
        // A shard that has just finished no longer listens: nothing to tell it.
        await getExternalWorkflowHandle(shardWorkflowId(this.input.cid, index))
          .signal(shardControlSignal, control)
          .catch(() => undefined);
      }),
    );
  }

  /** Stops the fan-out by itself: what is running is cancelled, what has not started never does. */
  private stop(reason: StopReason): void {
    if (this.stopped || this.targetsScope.consideredCancelled) return;
    this.stopped = reason;
    if (this.runner) this.runner.cancelledBy = `the fan-out stopped (${reason.message})`;
    this.targetsScope.cancel();
  }

  private applyFailurePolicy(failed: number): void {
    if (failed <= this.tolerated) return;
    const { failurePolicy, targets } = this.input;
    const rule = failurePolicy === 'fail-fast' ? 'fail-fast' : `${this.tolerated} failed target(s) tolerated`;
    this.stop({ reason: 'failure-policy', message: `${failed} of ${targets.length} targets failed; ${rule}` });
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

  private shardInput(offset: number, end: number, maxConcurrency: number): ShardInput & { concurrency: number } {
    const { cid, source, pattern, onTarget, defaults } = this.input;
    return {
      cid,
      source,
      pattern,
      offset,
      targets: this.input.targets.slice(offset, end),
      onTarget,
      maxConcurrency,
      concurrency: maxConcurrency,
      defaults,
      reqTsUtc: this.reqTsUtc,
      ...(this.input.redrive ? { redrive: this.input.redrive.number } : {}),
    };
  }

  /**
   * Shards run `shardsAtOnce` at a time. Once the fan-out is cancelled, the shards not started yet still run, at
   * once cancelled, so that their targets are recorded and their callbacks run within their own histories.
   */
  private async runShards(): Promise<void> {
    const { shardCount } = this.plan;
    for (let i = 0; i < shardCount; i++) this.shardStates.push('pending');
    // As planned, or as a concurrency change that came before the first shard started asks.
    for (let i = 0; i < this.shardsWanted; i++) this.shardLanes.push(this.shardLane());
    // Lanes never reject but for a shard that failed; lanes added meanwhile (a raised concurrency) are awaited too.
    for (let i = 0; i < this.shardLanes.length; i++) await this.shardLanes[i];
  }

  /**
   * Takes shards one after another. A lane over the number of shards wanted (a lowered concurrency) takes no more
   * once its shard is done; the remaining shards then get a larger share.
   */
  private async shardLane(): Promise<void> {
    const { shardCount, shardSize } = this.plan;
    this.activeShardLanes++;
    while (this.nextShard < shardCount) {
      if (this.shardLanesFollowConcurrency && this.activeShardLanes > this.shardsWanted) {
        // Retired after a lowered concurrency: the shards still running may have a larger share now.
        this.activeShardLanes--;
        await this.rebalanceShards({ onlyIfChanged: true });
        return;
      }
      const index = this.nextShard++;
      const shard = this.shardInput(
        index * shardSize,
        Math.min((index + 1) * shardSize, this.input.targets.length),
        this.perExecution,
      );
      this.shardStates[index] = 'running';
      this.showDetails();
      const start = (startCancelled: boolean) =>
        executeChild(fanoutShardType, {
          workflowId: shardWorkflowId(this.input.cid, index),
          args: [
            {
              ...shard,
              shardIndex: index,
              startCancelled,
              ...(Number.isFinite(this.tolerated) ? { reportFailures: true } : {}),
              ...(this.paused ? { startPaused: true } : {}),
            } satisfies ShardWorkflowInput,
          ],
          taskQueue: workflowInfo().taskQueue,
          parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
          staticSummary: `shard ${index + 1} of ${shardCount} of fan-out ${this.input.cid}: targets ${shard.offset + 1}–${shard.offset + shard.targets.length}`,
        }) as Promise<ShardResult>;
      // A cancelled fan-out asks its running shards to stop (they record what they have and finish normally);
      // a shard not started by then starts cancelled, outside the cancelled scope.
      if (CancellationScope.current().consideredCancelled) {
        this.shardResults[index] = await CancellationScope.nonCancellable(() => start(true));
      } else {
        try {
          this.shardResults[index] = await start(false);
        } catch (error) {
          if (!(error instanceof CancelledFailure)) throw error; // cancelled before the child was started
          this.shardResults[index] = await CancellationScope.nonCancellable(() => start(true));
        }
      }
      this.shardStates[index] = 'done';
      if (this.countsWhileRunning) upsertMemo({ counts: this.counts() });
      this.showDetails();
    }
    this.activeShardLanes--;
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

  private counts(): FanoutCounts {
    // Shards finish in any order: shardResults has holes until all are done.
    const parts: FanoutCounts[] = this.runner ? [this.runner.totals()] : this.finishedShards().map((r) => r.counts);
    // A redrive counts the whole fan-out: the targets that had succeeded before, and what it re-ran.
    const sum: FanoutCounts = {
      total: this.input.redrive?.total ?? this.input.targets.length,
      ok: this.input.redrive?.keptOk ?? 0,
      failed: 0,
      cancelled: 0,
      callbacks: 0,
      callbacksFailed: 0,
    };
    for (const part of parts) {
      sum.ok += part.ok;
      sum.failed += part.failed;
      sum.cancelled += part.cancelled;
      sum.callbacks += part.callbacks;
      sum.callbacksFailed += part.callbacksFailed;
    }
    sum.callbacks += this.finalOutcomes.length;
    sum.callbacksFailed += this.finalOutcomes.filter((o) => !o.ok).length;
    return sum;
  }

  private finishedShards(): ShardResult[] {
    return this.shardResults.filter((result): result is ShardResult => result !== undefined);
  }

  private outcome(state: FanoutOutcome['state']): FanoutOutcome {
    const listed = this.runner ? this.runner.outcomes : this.finishedShards().flatMap((r) => r.callbacks);
    return {
      cid: this.input.cid,
      state,
      pattern: this.input.pattern,
      summary: this.summary(),
      counts: this.counts(),
      callbacks: [...listed, ...this.finalOutcomes],
      ...(this.runner ? {} : { shards: this.plan.shardCount }),
      ...(this.stopped ? { stopped: this.stopped } : {}),
      ...(this.input.redrive ? { redrive: this.input.redrive.number } : {}),
    };
  }

  private setPhase(phase: FanoutState): void {
    this.phase = phase;
    upsertSearchAttributes([{ key: FanoutStateKey, value: phase }]);
    this.showDetails();
  }

  private showDetails(): void {
    const title = `${this.input.pattern === 'parallel' ? 'parallel execution' : 'fan-out'} ${this.phase}`;
    if (this.runner) {
      setCurrentDetails(detailsTable(this.runner.states, this.runner.counts, title));
      return;
    }
    const counts = this.counts();
    const running = this.shardStates.filter((s) => s === 'running' || s === 'settled').length;
    const done = this.shardStates.filter((s) => s === 'done').length;
    setCurrentDetails(
      [
        `**${title}** — ${this.plan.shardCount} shards of up to ${this.plan.shardSize} targets: ${done} done, ${running} running`,
        '',
        `finished shards: ${countsLine(counts)}`,
      ].join('\n'),
    );
  }

  private progress(): FanoutProgress {
    const { cid, source, pattern, targets } = this.input;
    if (this.runner) {
      const { counts, states } = this.runner;
      return {
        cid,
        source,
        pattern,
        state: this.phase,
        total: targets.length,
        settled: counts.ok + counts.failed + counts.cancelled,
        ...counts,
        ...(targets.length <= PROGRESS_TARGETS_LIMIT ? { targets: Object.fromEntries(states) } : {}),
        ...this.runSettings(),
      };
    }
    // Finished shards are counted here; the client adds the running shards' own progress.
    const counts = this.counts();
    let pending = 0;
    const runningShards: string[] = [];
    this.shardStates.forEach((state, index) => {
      const size = Math.min(this.plan.shardSize, targets.length - index * this.plan.shardSize);
      if (state === 'pending') pending += size;
      if (state === 'running' || state === 'settled') runningShards.push(shardWorkflowId(cid, index));
    });
    return {
      cid,
      source,
      pattern,
      state: this.phase,
      total: targets.length,
      settled: counts.ok + counts.failed + counts.cancelled,
      ok: counts.ok,
      failed: counts.failed,
      cancelled: counts.cancelled,
      running: 0,
      pending,
      runningShards,
      ...this.runSettings(),
    };
  }

  /** What progress says of this run beside its counts, however it runs. */
  private runSettings(): Pick<FanoutProgress, 'stopped' | 'maxConcurrency' | 'paused' | 'redrive'> {
    return {
      ...(this.stopped ? { stopped: this.stopped } : {}),
      maxConcurrency: this.maxConcurrency,
      paused: this.paused,
      ...(this.input.redrive ? { redrive: this.input.redrive.number } : {}),
    };
  }
}

/** The shard workflow's type name (workflows/shard.ts), named here to keep the two modules free of a cycle. */
const fanoutShardType = 'fanoutShard';
