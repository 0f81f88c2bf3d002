/**
 * Zato's invoke/retry: one target, tried up to `attempts` times `interval` apart (Temporal does the retrying),
 * then every callback runs once with the target's record: on success, or on final failure.
 */
import { setHandler, workflowInfo } from '@temporalio/workflow';
import type {
  CallbackOutcome,
  FanoutProgress,
  FanoutState,
  InvokeRetryResult,
  InvokeRetryWorkflowInput,
  TargetState,
} from '../contracts';
import { callbackName } from '../contracts';
import { progressQuery } from './definitions';
import { targetRecord, utc } from './records';
import { CallbackIds, checkNames, runCallback, runTarget } from './steps';

export async function invokeRetry(input: InvokeRetryWorkflowInput): Promise<InvokeRetryResult> {
  const { cid, source, target, attempts, interval, callbacks } = input;
  let state: TargetState = 'running';
  let phase: FanoutState = 'running';
  setHandler(progressQuery, (): FanoutProgress => {
    const settled = state === 'ok' || state === 'failed';
    return {
      cid,
      source,
      pattern: 'invoke-retry',
      state: phase,
      total: 1,
      settled: settled ? 1 : 0,
      ok: state === 'ok' ? 1 : 0,
      failed: state === 'failed' ? 1 : 0,
      cancelled: 0,
      running: settled ? 0 : 1,
      pending: 0,
      targets: { [target.name]: state },
    };
  });
  await checkNames([target.service], callbacks, { [target.service]: target.kind });
  const reqTsUtc = utc(workflowInfo().runStartTime.getTime());
  const schedule = {
    initialInterval: interval,
    backoffCoefficient: 1,
    maximumInterval: interval,
    maximumAttempts: attempts,
  };
  let outcome: { ok: true; response: unknown } | { ok: false; error: unknown };
  try {
    outcome = {
      ok: true,
      response: await runTarget(cid, { ...target, options: { ...target.options, retry: schedule } }, {}),
    };
  } catch (error) {
    outcome = { ok: false, error };
  }
  const record = targetRecord({ source, cid, target: target.name, reqTsUtc }, outcome, Date.now());
  state = record.ok ? 'ok' : 'failed';
  phase = 'finalizing';
  const outcomes: CallbackOutcome[] = [];
  const ids = new CallbackIds();
  const channel = record.ok ? 'INVOKE_RETRY_ON_SUCCESS' : 'INVOKE_RETRY_ON_FAILURE';
  await Promise.all(
    callbacks.map((ref) =>
      runCallback(
        ref,
        record,
        { cid, channel, target: target.name, activityId: ids.next(`callback/${callbackName(ref)}`) },
        {},
        outcomes,
      ),
    ),
  );
  phase = 'completed';
  return { cid, record, callbacks: outcomes };
}
