/**
 * A concurrency-limited service's targets hold a lease from the service's limiter workflow while they call it (see
 * workflows/service-limiter): taken before the call (the limiter started on first use, update-with-start), renewed
 * while it runs, given back after. Needs a server with update-with-start (Temporal 1.28 and later, Temporal Cloud).
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
 * Created outside any activity: a release sent from here is not aborted with the activity (a cancelled target still
 * gives its lease back at once, rather than hold it until it expires).
 */
const detached = new AsyncResource('temporal-fanout.service-lease');

export async function withServiceLease<T>(
  service: string,
  limit: number,
  limiterTaskQueue: string,
  call: () => Promise<T>,
): Promise<T> {
  const { info, client } = Context.current();
  const holder = `${info.workflowExecution?.workflowId ?? 'standalone'}/${info.activityId}#${info.attempt}`;
  const workflowId = limiterWorkflowId(service);
  await acquire(client, holder, { service, limit }, workflowId, limiterTaskQueue);
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
