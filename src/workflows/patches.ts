/**
 * Every patch id the workflows use, declared here and nowhere else. A patch lets changed workflow code replay the
 * histories of fan-outs started before the change: `if (patched(PATCH_X)) { new } else { old }`. The id is written
 * into the history of every run that takes the new branch, so it never changes once released. The lint refuses
 * `patched()` and `deprecatePatch()` with anything but a `PATCH_` constant.
 *
 * 1.0 started with none: its saved histories were recorded without a branch. To add one, declare it below with why
 * it exists and since which version, as in:
 *
 *   // A shard reports its counts as it goes: shards started before report only at the end.
 *   // Since 1.1.0.
 *   export const PATCH_SHARD_COUNTS_AS_IT_GOES = 'shard-counts-as-it-goes';
 *
 * then call `patched(PATCH_SHARD_COUNTS_AS_IT_GOES)` where the behaviour forks, first thing in the run (a marker
 * decided after an activity can fall in another workflow task on replay than it did when recorded). Save a history
 * of the old code beside the others (`npm run histories:save -- <label>`), so that the replay test keeps both
 * branches honest. Once no run started before the change can still be open, `deprecatePatch(PATCH_X)` and drop the
 * old branch; once no run with the marker can, remove the id.
 */
// The concurrency limiter grants its leases in one place, in order, and a holder that asks again while it waits
// keeps its one place; waiting asks are refused (ask again) when it hands over. Before, each waiting ask took its
// turn itself, and a holder asking twice took two turns, leaving the ask behind it waiting for ever, and the
// limiter with it. Since 1.0.1.
export const PATCH_LIMITER_GRANTS_IN_ORDER = 'limiter-grants-in-order';

// The start check also compares how the client and the worker route each service's targets (its own task queue for
// a perSecond with a burst, or the fan-out's) and fails the fan-out where they differ. Before, such targets waited
// in a task queue no worker served, or went past the service's rate. Since 1.0.3.
export const PATCH_CHECK_SERVICE_QUEUES = 'check-service-queues';

// A sharded fan-out's unbatched shards hold 500 targets with 100 in flight, not 1,000 with 200: a concurrency spread
// over twice the shards, each with half the history, so that a busy worker does not fall into workflow tasks closed
// by the server and replays (workflows/sharding, SHARD_LAYOUT). Since 1.1.0.
export const PATCH_SPREAD_SHARDS = 'spread-shards';

/** The patches a fan-out or parallel execution takes first thing in its run: a marker each in its history. */
export const FANOUT_RUN_PATCHES = [PATCH_CHECK_SERVICE_QUEUES, PATCH_SPREAD_SHARDS] as const;
