/**
 * The concurrency limit of one service across all fan-outs and all workers: a long-running workflow
 * `fanout-limiter/<service>` that hands out leases, at most `limit` at once, first come first served. A target of
 * the service takes a lease before it calls the service (the `acquire` update, which waits for a free one), renews
 * it while it runs, and gives it back when done; a lease not renewed in time (its worker lost) expires, so a lost
 * holder never keeps a place for ever. The workflow continues as new before its history grows long.
 */
import { allHandlersFinished, condition, continueAsNew, setHandler, workflowInfo } from '@temporalio/workflow';
import type { ServiceLimiterInput } from '../contracts';
import { acquireLeaseUpdate, releaseLeaseSignal, renewLeaseSignal } from './definitions';

/**
 * Events, and leases asked for, after which the limiter hands over to a new run (or sooner, when the server suggests
 * it): the server accepts at most 2,000 updates in one run (`history.maxTotalUpdates`).
 */
const EVENTS_PER_RUN = 5_000;
const ASKS_PER_RUN = 1_500;

export async function serviceLimiter(input: ServiceLimiterInput): Promise<void> {
  let limit = input.limit;
  const leases = new Map<string, number>(input.leases ?? []);
  const waiting: string[] = [];
  let handingOver = false;
  let asks = 0;

  const expire = () => {
    const now = Date.now();
    for (const [holder, expiresAt] of leases) if (expiresAt <= now) leases.delete(holder);
  };

  setHandler(
    acquireLeaseUpdate,
    async (holder, leaseMs, newLimit) => {
      asks++;
      limit = newLimit; // the service's limit as its workers now define it
      if (leases.has(holder)) {
        // A retried acquire of a lease already held (its answer was lost): it is held.
        leases.set(holder, Date.now() + leaseMs);
        return;
      }
      waiting.push(holder);
      await condition(() => leases.size < limit && waiting[0] === holder);
      waiting.shift();
      leases.set(holder, Date.now() + leaseMs);
    },
    {
      // Refused without a trace in history while the limiter hands over: the holder asks the next run.
      validator: (_holder: string, _leaseMs: number, _limit: number) => {
        if (handingOver) throw new Error('the limiter is handing over to its next run: ask again');
      },
    },
  );
  setHandler(renewLeaseSignal, (holder, leaseMs) => {
    if (leases.has(holder)) leases.set(holder, Date.now() + leaseMs);
  });
  setHandler(releaseLeaseSignal, (holder) => {
    leases.delete(holder);
  });

  const longHistory = () =>
    workflowInfo().continueAsNewSuggested || workflowInfo().historyLength >= EVENTS_PER_RUN || asks >= ASKS_PER_RUN;
  while (!longHistory()) {
    // Woken by anything that changes the leases, and when the next one is due to expire.
    const next = Math.min(...leases.values());
    const size = leases.size;
    const changed = () => leases.size !== size || longHistory();
    if (Number.isFinite(next)) await condition(changed, Math.max(1, next - Date.now()));
    else await condition(changed);
    expire();
  }
  handingOver = true;
  await condition(allHandlersFinished);
  expire();
  await continueAsNew<typeof serviceLimiter>({ service: input.service, limit, leases: [...leases] });
}
