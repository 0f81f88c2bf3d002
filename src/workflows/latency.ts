/**
 * How long targets took, per service, as the fan-out saw them (from the moment it started a target to the moment it
 * settled, retries included): a histogram of logarithmic buckets (each 10% wider than the one before), so that it
 * takes the same little memory at any width and merges across shards; and the slowest few targets by name.
 * Percentiles are read from the buckets: within 10% of the true value. Pure: shared by the workflows and the client.
 */
import type { LatencyFigures, LatencyStats, ServiceLatency } from '../contracts';

/** Each bucket's upper bound is 10% above the one before: bucket i holds durations up to GROWTH^i ms. */
const GROWTH = 1.1;
const SLOWEST_KEPT = 5;

function bucketOf(ms: number): number {
  return ms <= 1 ? 0 : Math.ceil(Math.log(ms) / Math.log(GROWTH));
}

function upperBound(bucket: number): number {
  return Math.round(GROWTH ** bucket);
}

function emptyService(): ServiceLatency {
  return { count: 0, maxMs: 0, buckets: {}, slowest: [] };
}

/** Adds one target's duration to `stats` (per service). */
export function recordLatency(stats: LatencyStats, service: string, target: string, ms: number): void {
  const entry = (stats[service] ??= emptyService());
  const duration = Math.max(0, Math.round(ms));
  entry.count++;
  entry.maxMs = Math.max(entry.maxMs, duration);
  const bucket = bucketOf(duration);
  entry.buckets[bucket] = (entry.buckets[bucket] ?? 0) + 1;
  keepSlowest(entry, [{ target, ms: duration }]);
}

/** A target of `service` given a second attempt (`won`: the second attempt finished first). */
export function recordHedge(stats: LatencyStats, service: string, what: 'started' | 'won'): void {
  const entry = (stats[service] ??= emptyService());
  if (what === 'started') entry.hedged = (entry.hedged ?? 0) + 1;
  else entry.hedgesWon = (entry.hedgesWon ?? 0) + 1;
}

/** The service's latency percentile `p` so far, once `minCount` of its targets have settled. */
export function latencyPercentile(
  stats: LatencyStats,
  service: string,
  p: number,
  minCount: number,
): number | undefined {
  const entry = stats[service];
  return entry && entry.count >= minCount ? percentileOf(entry, p) : undefined;
}

/** Adds `from` into `into`: one shard's into the fan-out's. */
export function mergeLatency(into: LatencyStats, from: LatencyStats | undefined): LatencyStats {
  for (const [service, theirs] of Object.entries(from ?? {})) {
    const entry = (into[service] ??= emptyService());
    entry.count += theirs.count;
    entry.maxMs = Math.max(entry.maxMs, theirs.maxMs);
    for (const [bucket, n] of Object.entries(theirs.buckets))
      entry.buckets[Number(bucket)] = (entry.buckets[Number(bucket)] ?? 0) + n;
    keepSlowest(entry, theirs.slowest);
    if (theirs.hedged) entry.hedged = (entry.hedged ?? 0) + theirs.hedged;
    if (theirs.hedgesWon) entry.hedgesWon = (entry.hedgesWon ?? 0) + theirs.hedgesWon;
  }
  return into;
}

function keepSlowest(entry: ServiceLatency, more: ServiceLatency['slowest']): void {
  if (entry.slowest.length >= SLOWEST_KEPT && more.every((m) => m.ms <= entry.slowest[entry.slowest.length - 1].ms))
    return;
  entry.slowest = [...entry.slowest, ...more].sort((a, b) => b.ms - a.ms).slice(0, SLOWEST_KEPT);
}

/** Percentile `p` (the upper bound of its bucket, at most the maximum). */
function percentileOf(entry: ServiceLatency, p: number): number {
  const rank = Math.ceil((p / 100) * entry.count);
  let seen = 0;
  for (const bucket of Object.keys(entry.buckets)
    .map(Number)
    .sort((a, b) => a - b)) {
    seen += entry.buckets[bucket];
    if (seen >= rank) return Math.min(upperBound(bucket), entry.maxMs);
  }
  return entry.maxMs;
}

/** p50, p95, p99, the maximum and the slowest targets; with hedging, how many were hedged and won. */
export function latencyFigures(stats: LatencyStats): LatencyFigures {
  const figures: LatencyFigures = {};
  for (const [service, entry] of Object.entries(stats)) {
    if (!entry.count && !entry.hedged) continue;
    figures[service] = {
      count: entry.count,
      p50Ms: percentileOf(entry, 50),
      p95Ms: percentileOf(entry, 95),
      p99Ms: percentileOf(entry, 99),
      maxMs: entry.maxMs,
      slowest: entry.slowest,
      ...(entry.hedged ? { hedged: entry.hedged, hedgesWon: entry.hedgesWon ?? 0 } : {}),
    };
  }
  return figures;
}

/** A line per service for the Web UI's current details. */
export function latencyLines(stats: LatencyStats): string[] {
  return Object.entries(latencyFigures(stats)).map(
    ([service, f]) =>
      `${service}: p50 ${f.p50Ms} ms, p95 ${f.p95Ms} ms, p99 ${f.p99Ms} ms, max ${f.maxMs} ms (${f.slowest[0]?.target ?? '-'}) over ${f.count}` +
      (f.hedged ? `; hedged ${f.hedged}, of which ${f.hedgesWon} won` : ''),
  );
}
