/**
 * The arithmetic that cuts a fan-out to fit Temporal's per-execution limits (src/workflows/sharding.ts), for every
 * number of on-target callbacks a request may carry: history events, commands per task, pending activities.
 */
import { describe, expect, it } from 'vitest';
import { MAX_CALLBACKS, MAX_CONCURRENCY_LIMIT, MAX_TARGETS } from '../src/contracts';
import {
  COMMANDS_PER_TASK,
  HISTORY_EVENT_BUDGET,
  PENDING_ACTIVITIES_LIMIT,
  SHARD_IN_FLIGHT,
  SHARD_SIZE_LIMIT,
  planShards,
} from '../src/workflows/sharding';

const callbackCounts = Array.from({ length: MAX_CALLBACKS + 1 }, (_, n) => n);

describe('planShards', () => {
  it.each(callbackCounts)('keeps every execution within the limits with %i on-target callbacks', (n) => {
    const plan = planShards(MAX_TARGETS, n, MAX_CONCURRENCY_LIMIT);
    expect(plan.shardSize).toBeGreaterThanOrEqual(1);
    expect(plan.shardSize).toBeLessThanOrEqual(SHARD_SIZE_LIMIT);
    // 3 events per target, 3 per callback, up to 3 for workflow tasks.
    expect(plan.shardSize * (6 + 3 * n)).toBeLessThanOrEqual(HISTORY_EVENT_BUDGET);
    // Every target settled with all its callbacks still running, beside every final callback and a records save.
    const pending = Math.max(plan.executionCap, n * plan.shardSize) + MAX_CALLBACKS + 2;
    expect(pending).toBeLessThanOrEqual(PENDING_ACTIVITIES_LIMIT);
    // A task may start a target and every on-target callback of each target in flight.
    expect(plan.executionCap * (1 + n)).toBeLessThanOrEqual(COMMANDS_PER_TASK);
    expect(plan.executionCap).toBeLessThanOrEqual(plan.shardSize);
    expect(plan.shardCount).toBe(Math.ceil(MAX_TARGETS / plan.shardSize));
    expect(plan.shardsAtOnce * plan.concurrencyPerExecution).toBeLessThanOrEqual(MAX_CONCURRENCY_LIMIT);
  });

  it('changes no plan with up to three on-target callbacks (their fan-outs replay as they ran)', () => {
    for (const n of [0, 1, 2, 3])
      for (const width of [1, 500, 999, 1000, 1001, 5000, MAX_TARGETS])
        for (const maxConcurrency of [1, 500, 1000, 1500, MAX_CONCURRENCY_LIMIT])
          expect(planShards(width, n, maxConcurrency, { spreadOverShards: false })).toEqual(
            planShards(width, n, maxConcurrency, { withinPendingActivitiesLimit: false, spreadOverShards: false }),
          );
  });

  it('makes shards smaller with four or more, where the history budget alone would pass the pending limit', () => {
    const before = planShards(500, 4, 500, { withinPendingActivitiesLimit: false });
    const now = planShards(500, 4, 500);
    expect(before).toMatchObject({ shardSize: 500, shardCount: 1 });
    expect(4 * before.shardSize + MAX_CALLBACKS + 2).toBeGreaterThan(PENDING_ACTIVITIES_LIMIT);
    expect(now).toMatchObject({ shardSize: 487, shardCount: 2 });
  });

  it('runs shards side by side only as far as maxConcurrency needs, SHARD_IN_FLIGHT targets each', () => {
    expect(planShards(20_000, 1, 500)).toMatchObject({
      shardSize: 1000,
      inFlightPerShard: SHARD_IN_FLIGHT,
      shardsAtOnce: 3,
      concurrencyPerExecution: 166,
    });
    expect(planShards(20_000, 1, 1_000)).toMatchObject({ shardsAtOnce: 5, concurrencyPerExecution: 200 });
    expect(planShards(20_000, 1, 150)).toMatchObject({ shardsAtOnce: 1, concurrencyPerExecution: 150 });
    // More concurrency than shards of SHARD_IN_FLIGHT can hold: every shard at once, each running more.
    expect(planShards(20_000, 0, 10_000)).toMatchObject({ shardsAtOnce: 20, concurrencyPerExecution: 500 });
    expect(planShards(2_001, 0, 1_200)).toMatchObject({ shardCount: 3, shardsAtOnce: 3, concurrencyPerExecution: 400 });
  });

  it('spreads only sharded fan-outs, and reaches their maxConcurrency as before whenever the shards can hold it', () => {
    for (const n of [0, 1, 3, 10])
      for (const width of [1, 999, 1000, 1001, 5000, 20_000, MAX_TARGETS])
        for (const maxConcurrency of [1, 199, 200, 500, 1000, 1500, MAX_CONCURRENCY_LIMIT]) {
          const spread = planShards(width, n, maxConcurrency);
          const before = planShards(width, n, maxConcurrency, { spreadOverShards: false });
          if (spread.shardCount === 1) expect(spread).toEqual(before);
          expect(spread.inFlightPerShard).toBeLessThanOrEqual(spread.executionCap);
          expect(spread.shardsAtOnce).toBeGreaterThanOrEqual(before.shardsAtOnce);
          const total = (plan: typeof spread) => plan.shardsAtOnce * plan.concurrencyPerExecution;
          expect(total(spread)).toBeLessThanOrEqual(maxConcurrency);
          // Integer shares may leave a few slots unused: at most one less per shard than even shares would give.
          expect(total(spread)).toBeGreaterThanOrEqual(total(before) - spread.shardsAtOnce);
        }
  });
});
