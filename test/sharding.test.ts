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
  SHARD_LAYOUT,
  SHARD_LAYOUT_1_0,
  planShards,
  shardsAtOnceFor,
  targetsAtOnceFor,
} from '../src/workflows/sharding';

const callbackCounts = Array.from({ length: MAX_CALLBACKS + 1 }, (_, n) => n);
// Runs started before 1.1.0 replay with the layout they were planned with: both must keep the limits.
const layouts = [
  ['SHARD_LAYOUT', SHARD_LAYOUT],
  ['SHARD_LAYOUT_1_0', SHARD_LAYOUT_1_0],
] as const;

describe.each(layouts)('planShards with %s', (_, layout) => {
  const planIn = (width: number, callbacks: number, maxConcurrency: number) =>
    planShards(width, callbacks, maxConcurrency, 1, layout);

  it.each(callbackCounts)('keeps every execution within the limits with %i on-target callbacks', (n) => {
    const plan = planIn(MAX_TARGETS, n, MAX_CONCURRENCY_LIMIT);
    expect(plan.shardSize).toBeGreaterThanOrEqual(1);
    expect(plan.shardSize).toBeLessThanOrEqual(layout.sizeLimit);
    // 3 events per target, 3 per callback, up to 3 for workflow tasks.
    expect(plan.shardSize * (6 + 3 * n)).toBeLessThanOrEqual(HISTORY_EVENT_BUDGET);
    // Every target settled with all its callbacks still running, beside every final callback and a records save.
    const pending = Math.max(plan.executionLimit, n * plan.shardSize) + MAX_CALLBACKS + 2;
    expect(pending).toBeLessThanOrEqual(PENDING_ACTIVITIES_LIMIT);
    // A task may start a target and every on-target callback of each target in flight.
    expect(plan.executionLimit * (1 + n)).toBeLessThanOrEqual(COMMANDS_PER_TASK);
    expect(plan.executionLimit).toBeLessThanOrEqual(plan.shardSize);
    expect(plan.shardCount).toBe(Math.ceil(MAX_TARGETS / plan.shardSize));
    expect(plan.shardsAtOnce * plan.targetsAtOnce).toBeLessThanOrEqual(MAX_CONCURRENCY_LIMIT);
  });

  it('bounds shards by the history budget with up to three on-target callbacks, by pending activities beyond', () => {
    for (const n of [0, 1, 2, 3])
      expect(planIn(MAX_TARGETS, n, 1).shardSize).toBe(
        Math.min(layout.sizeLimit, Math.floor(HISTORY_EVENT_BUDGET / (6 + 3 * n))),
      );
    // With four, a shard the history budget alone allows (500 targets) could have more pending than the limit.
    expect(Math.floor(HISTORY_EVENT_BUDGET / (6 + 3 * 4))).toBe(500);
    expect(4 * 500 + MAX_CALLBACKS + 2).toBeGreaterThan(PENDING_ACTIVITIES_LIMIT);
    expect(planIn(500, 4, 500)).toMatchObject({ shardSize: 487, shardCount: 2 });
  });

  it("spreads a sharded fan-out over shards of the layout's in flight, never past maxConcurrency nor one execution", () => {
    for (const n of [0, 1, 3, 10])
      for (const width of [1, 499, 500, 501, 999, 1000, 1001, 5000, 20_000, MAX_TARGETS])
        for (const maxConcurrency of [1, 99, 100, 199, 200, 500, 1000, 1500, MAX_CONCURRENCY_LIMIT]) {
          const plan = planIn(width, n, maxConcurrency);
          const total = plan.shardsAtOnce * plan.targetsAtOnce;
          expect(plan.targetsAtOnce).toBeLessThanOrEqual(plan.executionLimit);
          expect(plan.shardsAtOnce).toBeLessThanOrEqual(plan.shardCount);
          if (plan.shardCount === 1) {
            expect(plan).toMatchObject({
              shardsAtOnce: 1,
              targetsAtOnce: Math.min(maxConcurrency, plan.executionLimit),
            });
            continue;
          }
          expect(total).toBeLessThanOrEqual(maxConcurrency);
          // As many shards as it takes to give each the layout's in flight (or all of them), one fewer would not do.
          const perShard = Math.min(plan.executionLimit, layout.inFlight);
          if (plan.shardsAtOnce < plan.shardCount)
            expect(plan.shardsAtOnce * perShard).toBeGreaterThanOrEqual(maxConcurrency);
          if (plan.shardsAtOnce > 1) expect((plan.shardsAtOnce - 1) * perShard).toBeLessThan(maxConcurrency);
          // Integer shares leave at most one slot per shard unused, unless the shards cannot hold it all.
          if (plan.shardsAtOnce * plan.executionLimit >= maxConcurrency)
            expect(total).toBeGreaterThan(maxConcurrency - plan.shardsAtOnce);
        }
  });
});

describe('planShards with SHARD_LAYOUT (runs started since 1.1.0)', () => {
  it('runs shards of 500 side by side only as far as maxConcurrency needs, 100 targets each', () => {
    expect(planShards(20_000, 1, 500)).toMatchObject({
      shardSize: 500,
      shardCount: 40,
      executionLimit: 500,
      shardsAtOnce: 5,
      targetsAtOnce: 100,
    });
    expect(planShards(5_000, 0, 1_000)).toMatchObject({ shardCount: 10, shardsAtOnce: 10, targetsAtOnce: 100 });
    expect(planShards(20_000, 1, 150)).toMatchObject({ shardsAtOnce: 2, targetsAtOnce: 75 });
    expect(planShards(500, 0, 1_000)).toMatchObject({ shardCount: 1, targetsAtOnce: 500 });
    // More concurrency than shards of 100 can hold: every shard at once, each running more.
    expect(planShards(20_000, 0, 10_000)).toMatchObject({ shardCount: 40, shardsAtOnce: 40, targetsAtOnce: 250 });
    expect(planShards(2_001, 0, 1_200)).toMatchObject({ shardCount: 5, shardsAtOnce: 5, targetsAtOnce: 240 });
  });

  it('shares a changed concurrency among the shards running', () => {
    const plan = planShards(20_000, 1, 500);
    expect(shardsAtOnceFor(plan, 1_200)).toBe(12);
    expect(shardsAtOnceFor(plan, 100_000)).toBe(40);
    // Lowered below what the shards running need: each running shard gets its even share, at least one target.
    expect(targetsAtOnceFor(plan, 400, 2)).toBe(200);
    expect(targetsAtOnceFor(plan, 400, 3)).toBe(133);
    expect(targetsAtOnceFor(plan, 2, 5)).toBe(1);
    expect(targetsAtOnceFor(plan, 10_000, 1)).toBe(plan.executionLimit);
  });
});

describe('planShards with SHARD_LAYOUT_1_0 (runs started before 1.1.0, as they replay)', () => {
  it('runs shards of 1,000 side by side only as far as maxConcurrency needs, 200 targets each', () => {
    const plan = (width: number, callbacks: number, maxConcurrency: number) =>
      planShards(width, callbacks, maxConcurrency, 1, SHARD_LAYOUT_1_0);
    expect(plan(20_000, 1, 500)).toMatchObject({
      shardSize: 1000,
      executionLimit: 800,
      shardsAtOnce: 3,
      targetsAtOnce: 166,
    });
    expect(plan(20_000, 1, 1_000)).toMatchObject({ shardsAtOnce: 5, targetsAtOnce: 200 });
    expect(plan(20_000, 1, 150)).toMatchObject({ shardsAtOnce: 1, targetsAtOnce: 150 });
    expect(plan(20_000, 0, 10_000)).toMatchObject({ shardsAtOnce: 20, targetsAtOnce: 500 });
    expect(plan(2_001, 0, 1_200)).toMatchObject({ shardCount: 3, shardsAtOnce: 3, targetsAtOnce: 400 });
    expect(shardsAtOnceFor(plan(20_000, 1, 500), 1_200)).toBe(6);
  });
});
