/**
 * Activity services: each registered service becomes an activity of the same name. Requests and responses are
 * checked against the service's schemas; a mismatch is a non-retryable failure (retrying cannot fix it). On
 * success the activity builds Zato's record and stores it in the result store, returning it inline only when it is
 * small: wide fan-outs and large responses never pass their records through workflow history.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { ZodType } from 'zod';
import type { StoredRecord, TargetCall, TargetOutcome, TargetRecord } from '../contracts';
import type { ActivityService, Registry } from '../registry';
import type { RecordStore } from '../store/records';
import { callWhileBusy } from '../service-busy';
import { countRecordsWritten, recordAttempt } from '../worker/metrics';
import { ASKS_PER_WORKER, AskLine, withServiceLease, withWindowSlot } from './service-lease';

export type ServiceActivity = (call: TargetCall) => Promise<TargetOutcome>;

/** Records up to this size (as JSON) also travel inline, so the Web UI shows them and callbacks need no read. */
export const INLINE_RECORD_BYTES = 1024;

export function describeIssues(schema: ZodType, value: unknown): string | undefined {
  const parsed = schema.safeParse(value);
  if (parsed.success) return undefined;
  return parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`).join('; ');
}

/**
 * Runs one attempt of an activity target: checks the request, calls the handler, checks the response, and stores
 * Zato's record unless the position already holds one. Returns the record kept (another attempt's, or a record
 * the fan-out decided, stands). The service activity and the batch activity both run targets this way.
 */
export async function callService(
  service: ActivityService<never, unknown>,
  call: TargetCall,
  records: RecordStore,
  /** Told each time the backend asks to come back later. */
  onBusy?: () => void,
): Promise<StoredRecord> {
  const { name, request: requestSchema, response: responseSchema, handler } = service;
  // Response time on the server's clock (the attempt's scheduled time plus what it took here), the clock the
  // workflow's req_ts_utc comes from: the two agree in production and under time skipping alike.
  const startedHere = Date.now();
  const scheduledAt = Context.current().info.currentAttemptScheduledTimestampMs || startedHere;
  const { request } = call;
  const requestProblem = requestSchema && describeIssues(requestSchema, request);
  if (requestProblem)
    throw ApplicationFailure.nonRetryable(`Invalid request for ${name}: ${requestProblem}`, 'InvalidRequest');
  const parsed = requestSchema ? requestSchema.parse(request) : request;
  // A backend that asks to come back later is called again within this attempt, not failed (see ServiceBusyError).
  let response: unknown;
  try {
    response = await callWhileBusy(
      () => (handler as (request: unknown) => Promise<unknown>)(parsed),
      Context.current().cancellationSignal,
      onBusy,
    );
  } catch (error) {
    recordAttempt(name, 'failed', Date.now() - startedHere);
    throw error;
  }
  recordAttempt(name, 'ok', Date.now() - startedHere);
  const responseProblem = responseSchema && describeIssues(responseSchema, response);
  if (responseProblem)
    throw ApplicationFailure.nonRetryable(`Invalid response from ${name}: ${responseProblem}`, 'InvalidResponse');
  const record: TargetRecord = {
    source: call.source,
    target: call.target,
    response: response ?? null,
    req_ts_utc: call.reqTsUtc,
    resp_ts_utc: new Date(scheduledAt + (Date.now() - startedHere)).toISOString(),
    ok: true,
    exception: null,
    cid: call.cid,
  };
  // Cancelled meanwhile (or, in a batch, past its timeout): the fan-out records this attempt as it decided.
  const { cancellationSignal } = Context.current();
  if (cancellationSignal.aborted) throw cancellationSignal.reason as Error;
  const stored: StoredRecord = { state: 'ok', record, ...(call.redrive ? { redrive: call.redrive } : {}) };
  const kept = await records.putFirst(call.cid, call.index, stored);
  if (kept === stored) countRecordsWritten('service');
  return kept;
}

/**
 * One activity per activity service. A service limited in concurrency calls through a lease from its limiter
 * workflow, one limited to so many calls in every second (`burst: false`) through a lease from its window limiter;
 * both run on `limiterTaskQueue` (the fan-out's task queue).
 */
export function createServiceActivities(
  registry: Registry,
  records: RecordStore,
  limiterTaskQueue: string,
): Record<string, ServiceActivity> {
  // Null prototype: looking up a name such as `constructor` finds nothing rather than Object's members.
  const activities: Record<string, ServiceActivity> = Object.create(null) as Record<string, ServiceActivity>;
  for (const service of registry.services.values()) {
    if (service.kind !== 'activity') continue;
    const { concurrency, perSecond, burst } = service.limits ?? {};
    const askLine = new AskLine(ASKS_PER_WORKER);
    const windowLine = new AskLine(ASKS_PER_WORKER);
    activities[service.name] = async (call: TargetCall) => {
      let busy = false;
      const calling = () => callService(service, call, records, () => (busy = true));
      // The window lease last, just before the call: one taken before waiting for a concurrency lease would be stale.
      const windowed =
        perSecond && burst === false
          ? () => withWindowSlot(service.name, perSecond, limiterTaskQueue, windowLine, calling)
          : calling;
      const kept = concurrency
        ? await withServiceLease(service.name, concurrency, limiterTaskQueue, askLine, windowed)
        : await windowed();
      if (kept.state !== 'ok') {
        // The fan-out already recorded this target otherwise (it stopped waiting for it); that record stands.
        throw ApplicationFailure.nonRetryable(
          `The fan-out already recorded ${call.target} as ${kept.state}`,
          'Superseded',
        );
      }
      const small = Buffer.byteLength(JSON.stringify(kept.record)) <= INLINE_RECORD_BYTES;
      return { ...(small ? { record: kept.record } : {}), ...(busy ? { busy: true as const } : {}) };
    };
  }
  return activities;
}
