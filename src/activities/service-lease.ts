/**
 * A concurrency-limited service's targets hold a lease from the service's limiter workflow while they call it (see
 * workflows/service-limiter): taken before the call (the limiter started on first use, update-with-start), renewed
 * while it runs, given back after. Needs a server with update-with-start (Temporal 1.28 and later, Temporal Cloud).
 * A service limited to N calls in every one-second window (`perSecond` without `burst`) works the same way with its
 * window limiter: a lease of a second and a margin for every call, never renewed nor given back (see withWindowSlot).
 * A worker sends a limiter a few asks at a time and keeps its other targets waiting in line in the process: the
 * server holds at most 10 updates in flight per workflow and refuses the rest, and hundreds of targets asking again
 * and again kept the server busy refusing them rather than handing out leases.
 */
import { AsyncResource } from 'node:async_hooks';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { WithStartWorkflowOperation, WorkflowUpdateFailedError } from '@temporalio/client';
import type { ServiceLimiterInput } from '../contracts';
import { limiterWorkflowId, windowLimiterWorkflowId } from '../constants';
import { countWindowLeaseLate, recordLimitWait } from '../worker/metrics';
import { acquireLeaseUpdate, releaseLeaseSignal, renewLeaseSignal } from '../workflows/definitions';

/** How long a lease lasts unrenewed: a holder whose worker is lost frees its place after this. */
export const LEASE_MS = 30_000;
/**
 * How long to wait, at most, before asking again when the limiter cannot take the request now: it hands over to its
 * next run, or already holds as many waiting requests as the server allows one workflow (10 by default).
 */
const ASK_AGAIN_MS = 500;
/**
 * Asks one worker has in flight to one limiter at most: two workers together stay within the server's 10 updates in
 * flight per workflow (`history.maxInFlightUpdates`); more workers' asks beyond it are refused and asked again.
 */
export const ASKS_PER_WORKER = 4;

/**
 * How late after its lease's start (the limiter's clock) a call may start on a window lease: a lease lasts a second
 * and this, so calls up to this late still never put N + 1 in one second. The price: at most 1 / 1.25 of N sustained.
 */
export const WINDOW_MARGIN_MS = 250;
const WINDOW_LEASE_MS = 1_000 + WINDOW_MARGIN_MS;
/** Window leases a target may take and find too late before its attempt fails (retried as its policy says). */
const WINDOW_ASKS = 10;

/**
 * A worker's line of targets waiting to ask one limiter, first come first served: at most `size` ask at once. Not a
 * limit on the service (the limiter is), only on how many of this worker's asks the limiter has to hold.
 */
export class AskLine {
  private asking = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly size: number) {}

  /** Runs `ask` once it is this holder's turn; leaves the line, rejected, if `signal` aborts first. */
  async run<T>(ask: () => Promise<T>, signal: AbortSignal): Promise<T> {
    if (this.asking >= this.size) await this.turn(signal);
    else this.asking++;
    try {
      return await ask();
    } finally {
      // The place passes to the next in line, or is freed.
      const next = this.waiting.shift();
      if (next) next();
      else this.asking--;
    }
  }

  private turn(signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        this.waiting.splice(this.waiting.indexOf(go), 1);
        reject(signal.reason);
      };
      const go = () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      this.waiting.push(go);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}

/**
 * Created outside any activity: a release sent from here is not aborted with the activity (a cancelled target still
 * gives its lease back at once, rather than hold it until it expires).
 */
const detached = new AsyncResource('temporal-fanout.service-lease');

export async function withServiceLease<T>(
  service: string,
  limit: number,
  limiterTaskQueue: string,
  line: AskLine,
  call: () => Promise<T>,
): Promise<T> {
  const { client, cancellationSignal } = Context.current();
  const holder = holderName();
  const workflowId = limiterWorkflowId(service);
  const input = { service, limit };
  const summary = `concurrency limit of ${service}: ${limit}`;
  const asked = Date.now();
  await line.run(
    () => acquire(client, holder, LEASE_MS, input, { workflowId, taskQueue: limiterTaskQueue, summary }),
    cancellationSignal,
  );
  recordLimitWait(service, 'concurrency', Date.now() - asked);
  const limiter = client.workflow.getHandle(workflowId);
  const renew = setInterval(
    () => void limiter.signal(renewLeaseSignal, holder, LEASE_MS).catch(() => undefined),
    LEASE_MS / 3,
  );
  try {
    return await call();
  } finally {
    clearInterval(renew);
    // Best effort: a release that does not arrive is a lease that expires.
    detached.runInAsyncScope(() => void limiter.signal(releaseLeaseSignal, holder).catch(() => undefined));
  }
}

/**
 * Calls a service limited to `perSecond` calls in every one-second window: on a lease of its window limiter, which
 * holds at most `perSecond` leases of a second and a margin at once, so that of any `perSecond` + 1 grants the last
 * comes that long after the first. When all are held, the limiter grants ahead (a lease that starts when the first
 * to end ends, within a lease's length): the call waits for its start. A call starts at most the margin after its
 * grant's start, else its lease is left to expire unused and another is asked for: so any `perSecond` + 1 calls span
 * a second at least. This holds while the workers' clocks agree with the server's (NTP keeps them within
 * milliseconds).
 */
export async function withWindowSlot<T>(
  service: string,
  perSecond: number,
  limiterTaskQueue: string,
  line: AskLine,
  call: () => Promise<T>,
): Promise<T> {
  const { client, cancellationSignal } = Context.current();
  const workflowId = windowLimiterWorkflowId(service);
  const input = { service, limit: perSecond };
  const limiter = {
    workflowId,
    taskQueue: limiterTaskQueue,
    summary: `limit of ${service}: ${perSecond} in any second`,
  };
  let late = 0;
  const asked = Date.now();
  for (let ask = 1; ask <= WINDOW_ASKS; ask++) {
    // Every ask a holder of its own: a lease left unused still counts until it expires.
    const holder = `${holderName()}/window-${ask}`;
    const granted = await line.run(
      () => acquire(client, holder, WINDOW_LEASE_MS, input, limiter, WINDOW_LEASE_MS),
      cancellationSignal,
    );
    // A limiter run of 1.0.1 or earlier answers nothing: no grant time, no call on it.
    if (typeof granted === 'number') {
      // Granted ahead: the lease starts when the one before it in its place ends.
      if (granted > Date.now()) await Context.current().sleep(granted - Date.now());
      late = Date.now() - granted;
      if (late <= WINDOW_MARGIN_MS) {
        recordLimitWait(service, 'window', Date.now() - asked);
        return call();
      }
      countWindowLeaseLate(service);
    }
  }
  throw ApplicationFailure.retryable(
    `${WINDOW_ASKS} window leases of ${service} came too late to call on (the last ${late} ms after its grant, ` +
      `${WINDOW_MARGIN_MS} ms at most): a busy worker, or its clock ahead of the server's`,
    'WindowLeaseLate',
  );
}

/** This attempt's name as a lease holder. */
function holderName(): string {
  const { info } = Context.current();
  return `${info.workflowExecution?.workflowId ?? 'standalone'}/${info.activityId}#${info.attempt}`;
}

/** Asks for a lease until the limiter answers (starting it on first use): when it was granted, by its clock. */
async function acquire(
  client: Client,
  holder: string,
  leaseMs: number,
  input: ServiceLimiterInput,
  /** The limiter's workflow ID, its task queue, and what the Web UI says of it. */
  { workflowId, taskQueue, summary }: { workflowId: string; taskQueue: string; summary: string },
  /** How far ahead the lease may be granted, when none is free now. */
  aheadMs?: number,
): Promise<number | void> {
  for (;;) {
    try {
      return await client.workflow.executeUpdateWithStart(acquireLeaseUpdate, {
        args: aheadMs ? [holder, leaseMs, input.limit, aheadMs] : [holder, leaseMs, input.limit],
        startWorkflowOperation: new WithStartWorkflowOperation('serviceLimiter', {
          workflowId,
          taskQueue,
          args: [input],
          workflowIdConflictPolicy: 'USE_EXISTING',
          staticSummary: summary,
        }),
      });
    } catch (error) {
      if (!askAgain(error)) throw error;
      // Spread out, so that many waiting targets do not ask all at once.
      await new Promise((resolve) => setTimeout(resolve, ASK_AGAIN_MS / 2 + Math.random() * (ASK_AGAIN_MS / 2)));
    }
  }
}

/** Refusals that mean "not now": the limiter handing over, the server's limit on updates in flight, an aborted one. */
function askAgain(error: unknown): boolean {
  if (error instanceof WorkflowUpdateFailedError) return /handing over/.test(String(error.cause));
  return /in-flight updates|update was aborted|workflow is closing|continued as new/i.test(
    error instanceof Error ? error.message : String(error),
  );
}
