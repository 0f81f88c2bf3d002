/**
 * Fan-out / fan-in and parallel execution. The workflow ID is the CID. Targets start in parallel, at most
 * `maxConcurrency` at a time; as each settles, every on-target callback runs for it on its own; when all have
 * settled, every final callback runs with the responses keyed by target. Cancelling the workflow cancels the
 * targets still running, marks them and the ones not started as cancelled, and still runs the callbacks.
 */
import {
  CancellationScope,
  CancelledFailure,
  isCancellation,
  patched,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type {
  CallbackOutcome,
  FanoutProgress,
  FanoutResult,
  FanoutState,
  FanoutWorkflowInput,
  FinalPayload,
  PlannedTarget,
  TargetRecord,
  TargetState,
} from '../contracts';
import { FanoutStateKey, callbackName } from '../contracts';
import { progressQuery } from './definitions';
import type { StateCounts } from './records';
import { detailsTable, targetRecord, utc } from './records';
import { CallbackIds, checkNames, runCallback, runTarget } from './steps';

/** Zato's fan-out / fan-in: final callbacks required, on-target callbacks optional. */
export async function fanout(input: FanoutWorkflowInput): Promise<FanoutResult> {
  return new FanoutRun({ ...input, pattern: 'fanout' }).run();
}

/** Zato's parallel execution: on-target callbacks required, no final callbacks. */
export async function parallelExecution(input: FanoutWorkflowInput): Promise<FanoutResult> {
  return new FanoutRun({ ...input, pattern: 'parallel', onFinal: [] }).run();
}

class FanoutRun {
  private readonly states = new Map<string, TargetState>();
  /** Kept in step with `states`, so wide fan-outs do not recount every target at every settle. */
  private readonly counts: StateCounts = { pending: 0, running: 0, ok: 0, failed: 0, cancelled: 0 };
  private readonly records: Record<string, TargetRecord> = {};
  private readonly outcomes: CallbackOutcome[] = [];
  private readonly callbacksInFlight: Promise<void>[] = [];
  private readonly callbackIds = new CallbackIds();
  private readonly reqTsUtc: string;
  private phase: FanoutState = 'running';

  constructor(private readonly input: FanoutWorkflowInput) {
    for (const target of input.targets) this.setState(target.name, 'pending');
    this.reqTsUtc = utc(workflowInfo().runStartTime.getTime());
  }

  async run(): Promise<FanoutResult> {
    const { input } = this;
    setHandler(progressQuery, () => this.progress());
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

    let cancelled = false;
    try {
      await CancellationScope.cancellable(() => this.runTargets());
    } catch (error) {
      if (!isCancellation(error)) throw error;
    }
    if (CancellationScope.current().consideredCancelled || [...this.states.values()].includes('pending'))
      cancelled = true;
    for (const target of input.targets) {
      if (this.states.get(target.name) === 'pending')
        this.settle(target, { ok: false, error: cancelledError() }, 'cancelled');
    }

    return CancellationScope.nonCancellable(async () => {
      this.setPhase('finalizing');
      await Promise.all(this.callbacksInFlight);
      const payload = this.finalPayload();
      const ids = this.callbackIds;
      await Promise.all(
        input.onFinal.map((ref) =>
          runCallback(
            ref,
            payload,
            { cid: input.cid, channel: 'FANOUT_ON_FINAL', activityId: ids.next(`on-final/${callbackName(ref)}`) },
            input.defaults,
            this.outcomes,
          ),
        ),
      );
      this.setPhase(cancelled ? 'cancelled' : 'completed');
      return {
        cid: input.cid,
        state: cancelled ? 'cancelled' : 'completed',
        payload,
        targets: Object.fromEntries(this.states),
        callbacks: this.outcomes,
      };
    });
  }

  /** `maxConcurrency` lanes take targets in order; a cancelled scope stops them from taking more. */
  private async runTargets(): Promise<void> {
    const { targets, maxConcurrency } = this.input;
    let next = 0;
    const lane = async () => {
      while (next < targets.length && !CancellationScope.current().consideredCancelled) {
        await this.runOne(targets[next++]);
      }
    };
    await Promise.all(Array.from({ length: Math.min(maxConcurrency, targets.length) }, lane));
  }

  private async runOne(target: PlannedTarget): Promise<void> {
    this.setState(target.name, 'running');
    try {
      const response = await runTarget(this.input.cid, target, this.input.defaults);
      this.settle(target, { ok: true, response }, 'ok');
    } catch (error) {
      this.settle(target, { ok: false, error }, isCancellation(error) ? 'cancelled' : 'failed');
    }
  }

  /** Records the outcome and starts the on-target callbacks without waiting for them. */
  private settle(
    target: PlannedTarget,
    outcome: { ok: true; response: unknown } | { ok: false; error: unknown },
    state: TargetState,
  ): void {
    const { cid, source, onTarget, pattern, defaults } = this.input;
    const record = targetRecord({ source, cid, target: target.name, reqTsUtc: this.reqTsUtc }, outcome, Date.now());
    this.records[target.name] = record;
    this.setState(target.name, state);
    this.showDetails();
    const channel = pattern === 'parallel' ? 'PARALLEL_EXEC_ON_TARGET' : 'FANOUT_ON_TARGET';
    for (const ref of onTarget) {
      const activityId = this.callbackIds.next(`on-target/${target.name}/${callbackName(ref)}`);
      this.callbacksInFlight.push(
        runCallback(ref, record, { cid, channel, target: target.name, activityId }, defaults, this.outcomes),
      );
    }
  }

  private finalPayload(): FinalPayload {
    const { source, onTarget, onFinal, targets } = this.input;
    return {
      source,
      req_ts_utc: this.reqTsUtc,
      on_target: onTarget.length ? onTarget.map(callbackName) : '',
      on_final: onFinal.map(callbackName),
      data: Object.fromEntries(targets.map((t) => [t.name, this.records[t.name]])),
    };
  }

  private setState(target: string, state: TargetState): void {
    const previous = this.states.get(target);
    if (previous) this.counts[previous]--;
    this.counts[state]++;
    this.states.set(target, state);
  }

  private setPhase(phase: FanoutState): void {
    this.phase = phase;
    upsertSearchAttributes([{ key: FanoutStateKey, value: phase }]);
    this.showDetails();
  }

  private showDetails(): void {
    setCurrentDetails(
      detailsTable(
        this.states,
        this.counts,
        `${this.input.pattern === 'parallel' ? 'parallel execution' : 'fan-out'} ${this.phase}`,
      ),
    );
  }

  private progress(): FanoutProgress {
    const counts = this.counts;
    return {
      cid: this.input.cid,
      source: this.input.source,
      pattern: this.input.pattern,
      state: this.phase,
      total: this.states.size,
      settled: counts.ok + counts.failed + counts.cancelled,
      ...counts,
      targets: Object.fromEntries(this.states),
    };
  }
}

function cancelledError(): Error {
  return new CancelledFailure('the fan-out was cancelled before this target started');
}
