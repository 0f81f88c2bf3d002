/**
 * How many targets a fan-out may hedge (see hedging), and each shard's share. Pure: the client's dry run uses it too.
 */
import type { Hedging } from '../contracts';

/** Without `max`: the share of the fan-out's targets that may be hedged. */
const DEFAULT_HEDGED_SHARE = 0.05;

/** How many targets of a fan-out `total` wide may be hedged. */
export function hedgeBudget(hedging: Hedging, total: number): number {
  return hedging.max ?? Math.max(1, Math.ceil(total * DEFAULT_HEDGED_SHARE));
}

/** A slice's share of the fan-out's hedges: the shares of all slices add up to the whole. */
export function hedgeShare(budget: number, total: number, offset: number, width: number): number {
  return Math.floor((budget * (offset + width)) / total) - Math.floor((budget * offset) / total);
}
