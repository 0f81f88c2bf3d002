/**
 * A quorum (`completion`), through the real SDK Worker and Client on the official dev server under
 * both cache settings: reached, the rest are cancelled and the fan-out completes, its final callbacks told why;
 * out of reach, it stops as a failure policy does; across shards, the shards report their successes.
 */
import { describe, expect, it } from 'vitest';
import { ApplicationFailure } from '@temporalio/common';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { InvalidRequestError } from '../src/client';
import type { CallbackContext } from '../src/contracts';
import { Registry, defineCallback, defineService } from '../src/registry';
import { fanoutTestFile, withFanoutWorker } from './helpers/fanout-env';
import type { FanoutTestEnv } from './helpers/temporal-env';
import { CACHE_MODES, createDevServerEnv } from './helpers/temporal-env';

let env: FanoutTestEnv;
let workflowBundle: WorkflowBundleWithSourceMap;
// The dev server, not the time-skipping one: a quorum cancels targets that may be completing in the same workflow task,
// and the time-skipping server refuses that cancel (ACTIVITY_UNKNOWN, temporalio/sdk-typescript#1058), leaving the
// run stuck; the official server accepts it.
fanoutTestFile((e, b) => ((env = e), (workflowBundle = b)), createDevServerEnv);

function quorumRegistry() {
  const finals: CallbackContext[] = [];
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const registry = new Registry(
    [
      defineService({ name: 'quick', handler: async (request: unknown) => request }),
      defineService({ name: 'held', handler: async () => gate.then(() => 'late') }),
      defineService({
        name: 'broken',
        handler: async () => {
          throw ApplicationFailure.create({ message: 'down', type: 'Down', nonRetryable: true });
        },
      }),
    ],
    [defineCallback({ name: 'final', kind: 'final', handler: async (_payload, ctx) => void finals.push(ctx) })],
  );
  return { registry, finals, release: () => release() };
}

const named = (service: string, names: string[]) => ({
  targets: Object.fromEntries(names.map((n) => [n, n])),
  targetOptions: Object.fromEntries(names.map((n) => [n, { service }])),
});

describe.each(CACHE_MODES)('a quorum with $label', ({ maxCachedWorkflows }) => {
  const harness = () => ({ env, workflowBundle, maxCachedWorkflows, taskQueue: `quorum-${maxCachedWorkflows ?? 'd'}` });

  it('reached: the rest are cancelled, the fan-out completes, the final callbacks are told why', async () => {
    const { registry, finals, release } = quorumRegistry();
    const quick = named('quick', ['q1', 'q2', 'q3']);
    const held = named('held', ['h1', 'h2', 'h3', 'h4']);
    const result = await withFanoutWorker(harness(), registry, async (fanout) => {
      const cid = await fanout.invoke({ ...quick.targets, ...held.targets }, ['final'], {
        targetOptions: { ...quick.targetOptions, ...held.targetOptions },
        completion: { successes: 3 },
      });
      const result = await fanout.result(cid);
      release();
      return result;
    });
    expect(result.state).toBe('completed');
    expect(result.stopped).toMatchObject({ reason: 'quorum' });
    expect(result.stopped?.message).toMatch(/3 of 7 targets succeeded: the quorum of 3 is reached/);
    expect(result.targets).toMatchObject({ q1: 'ok', q2: 'ok', q3: 'ok', h1: 'cancelled', h4: 'cancelled' });
    expect(result.payload.data.h1.exception).toMatch(
      /^CancelledFailure: the fan-out stopped \(3 of 7 targets succeeded/,
    );
    expect(finals).toHaveLength(1);
    expect(finals[0].stopped).toMatchObject({ reason: 'quorum' });
  });

  it('out of reach: stops as a failure policy does once that many can no longer succeed', async () => {
    const { registry, release } = quorumRegistry();
    const broken = named('broken', ['b1', 'b2', 'b3']);
    const held = named('held', ['h1', 'h2']);
    const result = await withFanoutWorker(harness(), registry, async (fanout) => {
      const cid = await fanout.invoke({ ...broken.targets, ...held.targets }, ['final'], {
        targetOptions: { ...broken.targetOptions, ...held.targetOptions },
        completion: { successPercent: 60 },
      });
      const result = await fanout.result(cid);
      release();
      return result;
    });
    expect(result.state).toBe('cancelled');
    expect(result.stopped).toMatchObject({ reason: 'failure-policy' });
    expect(result.stopped?.message).toMatch(/3 of 5 targets failed: 3 of 5 can no longer succeed/);
    expect(result.targets).toMatchObject({
      b1: 'failed',
      b2: 'failed',
      b3: 'failed',
      h1: 'cancelled',
      h2: 'cancelled',
    });
  });

  it('across shards: reached from the successes the shards report', async () => {
    const { registry, release } = quorumRegistry();
    // Batches of two: an execution holds 1,776 targets, so 1,800 run as two shards.
    const quick = named(
      'quick',
      Array.from({ length: 200 }, (_, i) => `q${i}`),
    );
    const held = named(
      'held',
      Array.from({ length: 1_600 }, (_, i) => `h${i}`),
    );
    // Slots for every batch in flight: held ones keep theirs until they are cancelled.
    const slots = { ...harness(), workerOptions: { maxConcurrentActivityTaskExecutions: 1_000 } };
    const result = await withFanoutWorker(slots, registry, async (fanout) => {
      const cid = await fanout.invoke({ ...quick.targets, ...held.targets }, ['final'], {
        targetOptions: { ...quick.targetOptions, ...held.targetOptions },
        completion: { successes: 100 },
        batching: { maxTargets: 2 },
        maxConcurrency: 400,
      });
      const result = await fanout.result(cid);
      release();
      return result;
    });
    expect(result.state).toBe('completed');
    expect(result.stopped).toMatchObject({ reason: 'quorum' });
    expect(result.counts.ok).toBeGreaterThanOrEqual(100);
    expect(result.counts.cancelled).toBeGreaterThan(1_000);
  });
});

it('a quorum of more successes than targets is refused before anything starts', async () => {
  const { registry } = quorumRegistry();
  const { FanoutClient } = await import('../src/client');
  const fanout = new FanoutClient({ client: env.client, registry, store: env.store });
  const error = await fanout.invoke({ quick: 1 }, ['final'], { completion: { successes: 2 } }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(InvalidRequestError);
  expect((error as InvalidRequestError).issues[0].segments).toEqual(['completion', 'successes']);
});
