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
/** How long to wait before asking again while the limiter hands over to its next run. */
const HANDOVER_RETRY_MS = 200;

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
      const handingOver = error instanceof WorkflowUpdateFailedError && /handing over/.test(String(error.cause));
      if (!handingOver) throw error;
      await new Promise((resolve) => setTimeout(resolve, HANDOVER_RETRY_MS));
    }
  }
}
