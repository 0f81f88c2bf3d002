/**
 * Callback activities: each registered callback becomes an activity of the same name. It receives where its payload
 * is (inline, stored, or the final payload to assemble), turns that into exactly Zato's payload, and calls the
 * handler with a context that says how it was invoked (Zato's `self.channel`). Final payloads are assembled here,
 * worker-side, from the result store; final callbacks can also read the records as a stream (`ctx.records()`).
 */
import { ApplicationFailure } from '@temporalio/activity';
import type { CallbackContext, CallbackInput, FinalPayload, TargetRecord } from '../contracts';
import type { AnyCallbackDefinition, Registry } from '../registry';
import type { RecordStore } from '../store/records';
import { countCallbackAttempt } from '../worker/metrics';

export type CallbackActivity = (input: CallbackInput, ctx: CallbackContext) => Promise<unknown>;

async function payloadFor(
  input: CallbackInput,
  callback: AnyCallbackDefinition,
  records: RecordStore,
): Promise<{ payload: TargetRecord | FinalPayload; stream?: () => AsyncIterable<TargetRecord> }> {
  if ('record' in input) return { payload: input.record };
  if ('stored' in input) {
    const stored = await records.get(input.stored.cid, input.stored.index);
    // Retryable: a record the workflow saw stored may still be on its way in an eventually consistent store.
    if (!stored)
      throw ApplicationFailure.retryable(`record ${input.stored.index} of ${input.stored.cid} is not in the store`);
    return { payload: stored.record };
  }
  const { cid, ...summary } = input.final;
  const stream = async function* () {
    for await (const { record } of records.all(cid)) yield record;
  };
  const data = callback.records === 'stream' ? {} : await records.data(cid);
  return { payload: { ...summary, data } satisfies FinalPayload, stream };
}

/** Runs one attempt of a callback: its payload from the input, then its handler. */
export async function deliverCallback(
  callback: AnyCallbackDefinition,
  input: CallbackInput,
  ctx: CallbackContext,
  records: RecordStore,
): Promise<void> {
  try {
    const { payload, stream } = await payloadFor(input, callback, records);
    await callback.handler(payload, stream ? { ...ctx, records: stream } : ctx);
  } catch (error) {
    countCallbackAttempt(callback.name, 'failed');
    throw error;
  }
  countCallbackAttempt(callback.name, 'ok');
}

export function createCallbackActivities(registry: Registry, records: RecordStore): Record<string, CallbackActivity> {
  // Null prototype: looking up a name such as `constructor` finds nothing rather than Object's members.
  const activities: Record<string, CallbackActivity> = Object.create(null) as Record<string, CallbackActivity>;
  for (const callback of registry.callbacks.values()) {
    activities[callback.name] = async (input, ctx) => {
      await deliverCallback(callback, input, ctx, records);
      return null; // what a callback returns is its own business; history keeps only that it succeeded
    };
  }
  return activities;
}
