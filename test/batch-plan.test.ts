/**
 * How targets are cut into batches (workflows/batch-plan): pure, so checked directly, with what the plan of shards
 * makes of batches (workflows/sharding).
 */
import { describe, expect, it } from 'vitest';
import type { PlannedTarget } from '../src/contracts';
import { batchWidthOf, planUnits } from '../src/workflows/batch-plan';
import { HISTORY_EVENT_BUDGET, planShards } from '../src/workflows/sharding';

function target(name: string, extra: Partial<PlannedTarget> = {}): PlannedTarget {
  return { name, service: 'echo', kind: 'activity', request: name, options: {}, ...extra };
}

const batched = (name: string, maxTargets: number, extra: Partial<PlannedTarget> = {}) =>
  target(name, { batch: { maxTargets }, ...extra });

describe('planUnits', () => {
  it('cuts consecutive batched targets at maxTargets; an unbatched target is an item of its own', () => {
    const targets = [...['a', 'b', 'c', 'd', 'e'].map((n) => batched(n, 2)), target('solo'), batched('f', 2)];
    expect(planUnits(targets)).toEqual([
      { start: 0, end: 2, batch: { maxTargets: 2 } },
      { start: 2, end: 4, batch: { maxTargets: 2 } },
      { start: 4, end: 5, batch: { maxTargets: 2 } },
      { start: 5, end: 6 },
      { start: 6, end: 7, batch: { maxTargets: 2 } },
    ]);
  });

  it('starts a new batch where batching or local changes, and never batches a child workflow', () => {
    const targets = [
      batched('a', 3),
      batched('b', 4),
      batched('c', 4, { local: true }),
      batched('d', 4, { kind: 'workflow', workflowType: 'w' }),
      batched('e', 4, { local: true }),
    ];
    expect(planUnits(targets).map(({ start, end }) => [start, end])).toEqual([
      [0, 1],
      [1, 2],
      [2, 3],
      [3, 4],
      [4, 5],
    ]);
    expect(planUnits(targets)[3].batch).toBeUndefined();
  });

  it('cuts at maxBytes of requests as JSON; a larger request is a batch of its own', () => {
    const big = 'x'.repeat(100);
    const targets = ['1', '2', big, '3', '4', '5'].map((request, i) =>
      target(`t${i}`, { request, batch: { maxTargets: 10, maxBytes: 10 } }),
    );
    // '"1"' is 3 bytes: three fit in 10; the 102-byte one stands alone.
    expect(planUnits(targets).map(({ start, end }) => [start, end])).toEqual([
      [0, 2],
      [2, 3],
      [3, 6],
    ]);
  });

  it('batchWidthOf: the narrowest batch when every target is batched, else 1', () => {
    expect(batchWidthOf([batched('a', 50), batched('b', 20)])).toBe(20);
    expect(batchWidthOf([batched('a', 50), target('b')])).toBe(1);
    expect(batchWidthOf([batched('a', 50, { kind: 'workflow' })])).toBe(1);
  });
});

describe('planShards with batches', () => {
  it('an execution holds as many batches as its history budget allows: 100,000 targets in batches of 100 make 2 shards', () => {
    const plan = planShards(100_000, 1, 1_000, 100);
    expect(plan.shardCount).toBe(2);
    expect(plan.shardSize).toBe(Math.floor((HISTORY_EVENT_BUDGET - 1_000) / 9) * 100);
    // Each shard can take the whole concurrency: one runs at a time, 1,000 targets (10 batches) in flight.
    expect(plan).toMatchObject({ shardsAtOnce: 1, targetsAtOnce: 1_000 });
    expect(planShards(100_000, 1, 1_000, 1_000).shardCount).toBe(1);
  });
});
