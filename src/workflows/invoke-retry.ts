/**
 * Zato's invoke/retry: one target, tried up to `attempts` times `interval` apart (Temporal does the retrying),
 * then every callback runs once with the target's record: on success, or on final failure. Cancelling it stops
 * the target and ends the workflow as cancelled, without callbacks (it neither succeeded nor finally failed).
 * FanoutState follows it: running, finalizing, completed; or cancelled; or failed if the name check refuses it.
 */
import { isCancellation, patched, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type {
  CallbackInput,
  FanoutState,
  InvokeRetryOutcome,
  InvokeRetryWorkflowInput,
  TargetRecord,
  TargetState,
} from '../contracts';
import { FanoutStateKey, callbackName } from '../constants';
import { progressQuery } from './definitions';
import { PATCH_CHECK_SERVICE_QUEUES } from './patches';
import { progressOf } from './progress';
import { targetRecord, utc } from './records';
import { CallbackIds, checkNames, runCallback, runTarget, saveRecords } from './steps';

export async function invokeRetry(input: InvokeRetryWorkflowInput): Promise<InvokeRetryOutcome> {
  const { cid, source, target, attempts, interval, callbacks } = input;
  let state: TargetState = 'running';
  let phase: FanoutState = 'running';
  const setPhase = (next: FanoutState) => {
    phase = next;
    upsertSearchAttributes([{ key: FanoutStateKey, value: next }]);
  };
  setHandler(progressQuery, () => {
    const counts = { pending: 0, running: 0, ok: 0, failed: 0, cancelled: 0, [state]: 1 };
    const about = { cid, source, pattern: 'invoke-retry', state: phase, total: 1 } as const;
    return progressOf(about, counts, { targets: { [target.name]: state } });
  });
  try {
    const queues = patched(PATCH_CHECK_SERVICE_QUEUES);
    await checkNames([target.service], callbacks, { [target.service]: target }, queues);
  } catch (error) {
    setPhase(isCancellation(error) ? 'cancelled' : 'failed');
    throw error;
  }
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
    if (isCancellation(error)) {
      // Cancelled, not failed: no INVOKE_RETRY_ON_FAILURE, and the workflow ends as cancelled.
      state = 'cancelled';
      setPhase('cancelled');
      throw error;
    }
    record = targetRecord({ source, cid, target: target.name, reqTsUtc }, { ok: false, error }, Date.now());
    state = 'failed';
    await saveRecords(cid, [[0, { state, record }]]);
  }
  setPhase('finalizing');
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
  setPhase('completed');
  // A large record is in the result store only; FanoutClient.result reads it from there.
  return { cid, ...(record ? { record } : {}), ok: state === 'ok', callbacks: outcomes } as InvokeRetryOutcome;
}
