/**
 * A limit of one service across all fan-outs and all workers: a long-running workflow that hands out leases, at most
 * `limit` at once, first come first served, each answered with when it was granted. The concurrency limiter
 * (`fanout-limiter/<service>`): a target of the service takes a lease before it calls the service (the `acquire`
 * update, which waits for a free one), renews it while it runs, and gives it back when done; a lease not renewed in
 * time (its worker lost) expires, so a lost holder never keeps a place for ever. The window limiter
 * (`fanout-window/<service>`): leases of a second and a margin, never renewed nor given back, so that no N + 1
 * grants fall within that time (see activities/service-lease); when all are held, it grants ahead: the place of the
 * lease that ends first, from when it ends. Each place is thus a chain of leases end to end, N chains. The workflow
 * continues as new before its history grows long.
 */
import {
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  patched,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { ServiceLimiterInput } from '../contracts';
import { acquireLeaseUpdate, releaseLeaseSignal, renewLeaseSignal } from './definitions';
import { PATCH_LIMITER_GRANTS_IN_ORDER } from './patches';

/**
 * Events, and leases asked for, after which the limiter hands over to a new run (or sooner, when the server suggests
 * it): the server accepts at most 2,000 updates in one run (`history.maxTotalUpdates`).
 */
const EVENTS_PER_RUN = 5_000;
const ASKS_PER_RUN = 1_500;

/** What an ask is refused with while the limiter hands over: the holder asks the next run. */
const HANDING_OVER = 'the limiter is handing over to its next run: ask again';
/** What a waiting ask ends with when its place is gone: given back by its holder, or the limiter handing over. */
const NOT_WAITING = 'no longer waiting (given back, or the limiter is handing over to its next run): ask again';

export async function serviceLimiter(input: ServiceLimiterInput): Promise<void> {
  const inOrder = patched(PATCH_LIMITER_GRANTS_IN_ORDER);
  let limit = input.limit;
  const leases = new Map<string, number>(input.leases ?? []);
  /** Holders waiting, in the order they asked, with the lease each asked for (ms); asking again keeps the place. */
  const queue = new Map<string, number>();
  /** How far ahead a waiting holder may be granted a lease (ms), where it asked for one granted ahead. */
  const aheadOf = new Map<string, number>();
  /** Before the patch: holders waiting, each ask taking its own turn. */
  const waiting: string[] = [];
  let handingOver = false;
  let asks = 0;

  /** The lease that ends first: its holder and when it ends. */
  const firstToEnd = (): [string, number] | undefined => {
    let first: [string, number] | undefined;
    for (const lease of leases) if (!first || lease[1] < first[1]) first = lease;
    return first;
  };

  /**
   * Leases to the holders first in line, while there is room; when there is none, to a holder that may be granted
   * ahead, the place of the lease that ends first if it ends within its horizon, from that end on. A horizon of at
   * most a lease's length makes that lease one already started: a lease granted ahead is never replaced before its
   * holder could use it.
   */
  const grant = () => {
    if (!inOrder) return;
    for (const [holder, leaseMs] of queue) {
      const now = Date.now();
      let start = now;
      if (leases.size >= limit) {
        // Not above the limit (lowered since): places beyond it end with their leases rather than pass on.
        const ahead = leases.size === limit ? aheadOf.get(holder) : undefined;
        const first = firstToEnd();
        if (!ahead || !first || first[1] - now > ahead) break;
        leases.delete(first[0]);
        start = Math.max(now, first[1]);
      }
      queue.delete(holder);
      aheadOf.delete(holder);
      leases.set(holder, start + leaseMs);
    }
  };

  const expire = () => {
    const now = Date.now();
    for (const [holder, expiresAt] of leases) if (expiresAt <= now) leases.delete(holder);
    grant();
  };

  setHandler(
    acquireLeaseUpdate,
    async (holder, leaseMs, newLimit, aheadMs) => {
      asks++;
      limit = newLimit; // the service's limit as its workers now define it
      // A retried acquire of a lease granted ahead (its answer was lost): granted, from the same start.
      if (leases.has(holder) && leases.get(holder)! - leaseMs > Date.now()) return leases.get(holder)! - leaseMs;
      if (leases.has(holder)) {
        // A retried acquire of a lease already held (its answer was lost): it is held, from now.
        leases.set(holder, Date.now() + leaseMs);
        return Date.now();
      }
      if (inOrder) {
        if (!queue.has(holder)) {
          queue.set(holder, leaseMs);
          if (aheadMs) aheadOf.set(holder, Math.min(aheadMs, leaseMs));
        }
        grant();
        await condition(() => leases.has(holder) || !queue.has(holder));
        if (!leases.has(holder)) throw ApplicationFailure.create({ message: NOT_WAITING });
        return leases.get(holder)! - leaseMs;
      }
      waiting.push(holder);
      await condition(() => leases.size < limit && waiting[0] === holder);
      waiting.shift();
      leases.set(holder, Date.now() + leaseMs);
      return Date.now();
    },
    {
      // Refused without a trace in history while the limiter hands over: the holder asks the next run.
      validator: (_holder: string, _leaseMs: number, _limit: number, _aheadMs?: number) => {
        if (handingOver) throw new Error(HANDING_OVER);
      },
    },
  );
  setHandler(renewLeaseSignal, (holder, leaseMs) => {
    if (leases.has(holder)) leases.set(holder, Date.now() + leaseMs);
  });
  setHandler(releaseLeaseSignal, (holder) => {
    // A holder that gave up waiting gives its place back too.
    leases.delete(holder);
    queue.delete(holder);
    aheadOf.delete(holder);
    grant();
  });

  const longHistory = () =>
    workflowInfo().continueAsNewSuggested || workflowInfo().historyLength >= EVENTS_PER_RUN || asks >= ASKS_PER_RUN;
  while (!longHistory()) {
    // Woken by anything that changes the leases, and when the next one is due to expire (or, for the first in line
    // where it may be granted ahead, that far before).
    const head: string | undefined = queue.keys().next().value;
    const ends = Math.min(...leases.values());
    const ahead = (head !== undefined && leases.size === limit && aheadOf.get(head)) || 0;
    // (Never a moment already past: that would wake it again at once, and again.)
    const next = ends - ahead > Date.now() ? ends - ahead : ends;
    const size = leases.size;
    // (A new first in line matters only where it may be granted ahead: limiters asked without, as before.)
    const changed = () =>
      leases.size !== size || (aheadOf.size > 0 && queue.keys().next().value !== head) || longHistory();
    if (Number.isFinite(next)) await condition(changed, Math.max(1, next - Date.now()));
    else await condition(changed);
    expire();
  }
  handingOver = true;
  // Waiting asks are refused, to ask the next run: none waits on leases this run no longer expires.
  queue.clear();
  aheadOf.clear();
  await condition(allHandlersFinished);
  expire();
  await continueAsNew<typeof serviceLimiter>({ service: input.service, limit, leases: [...leases] });
}
