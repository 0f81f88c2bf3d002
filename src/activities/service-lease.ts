/**
 * A concurrency-limited service's targets hold a lease from the service's limiter workflow while they call it (see
 * workflows/service-limiter): taken before the call (the limiter started on first use, update-with-start), renewed
 * while it runs, given back after. Needs a server with update-with-start (Temporal 1.28 and later, Temporal Cloud).
 * A worker sends a limiter a few asks at a time and keeps its other targets waiting in line in the process: the
 * server holds at most 10 updates in flight per workflow and refuses the rest, and hundreds of targets asking again
 * and again kept the server busy refusing them rather than handing out leases.
 */
import { AsyncResource } from 'node:async_hooks';
import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { WithStartWorkflowOperation, WorkflowUpdateFailedError } from '@temporalio/client';
import type { ServiceLimiterInput } from '../contracts';
import { limiterWorkflowId } from '../constants';
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
  const { info, client, cancellationSignal } = Context.current();
  const holder = `${info.workflowExecution?.workflowId ?? 'standalone'}/${info.activityId}#${info.attempt}`;
  const workflowId = limiterWorkflowId(service);
  await line.run(() => acquire(client, holder, { service, limit }, workflowId, limiterTaskQueue), cancellationSignal);
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

async function acquire(
  client: Client,
  holder: string,
  input: ServiceLimiterInput,
  workflowId: string,
  taskQueue: string,
): Promise<void> {
  for (;;) {
    try {
      await client.workflow.executeUpdateWithStart(acquireLeaseUpdate, {
        args: [holder, LEASE_MS, input.limit],
        startWorkflowOperation: new WithStartWorkflowOperation('serviceLimiter', {
          workflowId,
          taskQueue,
          args: [input],
          workflowIdConflictPolicy: 'USE_EXISTING',
          staticSummary: `concurrency limit of ${input.service}: ${input.limit}`,
        }),
      });
      return;
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
