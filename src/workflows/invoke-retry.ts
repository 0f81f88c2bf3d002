/**
 * Zato's invoke/retry: one target, tried up to `attempts` times `interval` apart (Temporal does the retrying),
 * then every callback runs once with the target's record: on success, or on final failure.
 */
import { setHandler, workflowInfo } from '@temporalio/workflow';
import type {
  CallbackInput,
  FanoutProgress,
  FanoutState,
  InvokeRetryOutcome,
  InvokeRetryWorkflowInput,
  TargetRecord,
  TargetState,
} from '../contracts';
import { callbackName } from '../contracts';
import { progressQuery } from './definitions';
import { targetRecord, utc } from './records';
import { CallbackIds, checkNames, runCallback, runTarget, saveRecords } from './steps';

export async function invokeRetry(input: InvokeRetryWorkflowInput): Promise<InvokeRetryOutcome> {
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
  let record: TargetRecord | undefined;
  try {
    const call = { request: target.request, cid, source, target: target.name, index: 0, reqTsUtc };
    const success = await runTarget(call, { ...target, options: { ...target.options, retry: schedule } }, {});
    record = success.stored
      ? success.record
      : targetRecord({ source, cid, target: target.name, reqTsUtc }, success, Date.now());
    state = 'ok';
  } catch (error) {
    record = targetRecord({ source, cid, target: target.name, reqTsUtc }, { ok: false, error }, Date.now());
    state = 'failed';
    await saveRecords(cid, [[0, { state, record }]]);
  }
  phase = 'finalizing';
  const ids = new CallbackIds();
  const channel = state === 'ok' ? 'INVOKE_RETRY_ON_SUCCESS' : 'INVOKE_RETRY_ON_FAILURE';
  const callbackInput: CallbackInput = record ? { record } : { stored: { cid, index: 0 } };
  const outcomes = await Promise.all(
    callbacks.map((ref) =>
      runCallback(
        ref,
        callbackInput,
        { cid, channel, target: target.name, activityId: ids.next(`callback/${callbackName(ref)}`) },
        {},
      ),
    ),
  );
  phase = 'completed';
  // A large record is in the result store only; FanoutClient.result reads it from there.
  return { cid, ...(record ? { record } : {}), ok: state === 'ok', callbacks: outcomes } as InvokeRetryOutcome;
}
