/**
 * Limits per service that hold across fan-outs and workers, on the official dev server with two real workers (each
 * on a connection of its own, as two processes would be): a service limited to N targets a second receives N a
 * second, measured at the receiver over the whole run of three fan-outs at once (after the server's initial burst),
 * and without a burst no more than N in any one second, the first included.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FanoutClient } from '../src/client';
import { FanoutFailedError, InvalidRequestError } from '../src/client';
import type { ApplicationFailure } from '@temporalio/common';
import { Registry, RegistryError, defineCallback, defineService } from '../src/registry';
import { fanoutBundle } from './helpers/fanout-env';
import type { FanoutTestEnv } from './helpers/temporal-env';
import { CACHE_MODES, createDevServerEnv } from './helpers/temporal-env';
import type { WorkersApart } from '../src/testing';
import { startWorkersApart } from '../src/testing';
import { limiterWorkflowId } from '../src/contracts';
import { acquireLeaseUpdate, releaseLeaseSignal } from '../src/workflows/definitions';
import { waitFor } from './helpers/wait';
import { busiestSecond, limitedServices, threeFanouts as threeFanoutsOn } from './helpers/limited-services';

const TASK_QUEUE = 'limits';
const PER_SECOND = 10;
const CONCURRENCY = 3;
const received: number[] = [];
const { services: limited, windowed, running } = limitedServices(PER_SECOND, CONCURRENCY);

const registry = new Registry(
  [
    defineService({
      name: 'limited',
      limits: { perSecond: PER_SECOND },
      handler: async () => {
        received.push(Date.now());
        return 'ok';
      },
    }),
    ...limited,
    defineService({ name: 'unlimited', handler: async () => 'ok' }),
  ],
  [defineCallback({ name: 'done', handler: async () => undefined })],
);

let env: FanoutTestEnv;
let fanout: FanoutClient;
let workers: WorkersApart;

beforeAll(async () => {
  env = await createDevServerEnv();
  const workflowBundle = await fanoutBundle();
  workers = await startWorkersApart(2, env.address, {
    registry,
    store: env.store,
    taskQueue: TASK_QUEUE,
    workflowBundle,
  });
  fanout = new FanoutClient({ client: env.client, registry, store: env.store, taskQueue: TASK_QUEUE });
}, 120_000);

afterAll(async () => {
  await workers?.stop();
  await env?.teardown();
});

const threeFanouts = (prefixes: [string, string, string], width: number, service: string, options?: object) =>
  threeFanoutsOn(fanout, prefixes, width, service, options);

describe('a service limited to so many targets a second', () => {
  it('receives that many a second, from three fan-outs on two workers', async () => {
    const width = 20;
    // Batching asked for: a limited service's targets still run one activity each, counted by the limit.
    await threeFanouts(['x', 'y', 'z'], width, 'limited', { batching: { maxTargets: 10 } });
    expect(received).toHaveLength(3 * width);
    // Temporal's limiter holds one second of the rate, and no dynamic config makes it shallower (Server 1.32: the
    // new matcher's GCRA burst is the constant defaultBurstDuration, service/matching/ratelimit_manager.go): when
    // full (at first, or after an idle second) it lets N + 1 go at once, then N a second. So: over the whole run at
    // most N a second, that burst aside; in any one second at most 2N + 1 (docs/benchmarks.md, bench:rate-window).
    const sorted = [...received].sort((a, b) => a - b);
    const spanSeconds = (sorted[sorted.length - 1] - sorted[0]) / 1000;
    expect(sorted.length - PER_SECOND).toBeLessThanOrEqual(Math.ceil(spanSeconds * PER_SECOND) + 1);
    expect(busiestSecond(sorted)).toBeLessThanOrEqual(2 * PER_SECOND + 1);
  });

  it('without a burst, receives no more than that many in any one second, from three fan-outs on two workers', async () => {
    const width = 15;
    const started = Date.now();
    await threeFanouts(['wx', 'wy', 'wz'], width, 'windowed');
    expect(windowed).toHaveLength(3 * width);
    // Every one-second window at the receiver, the first included: the window limiter holds N leases of a second and
    // a margin, and a call starts within the margin of its grant or not at all.
    expect(busiestSecond(windowed)).toBeLessThanOrEqual(PER_SECOND);
    // The limit was what held them back: all at once they would have taken a moment, not 45 / N seconds.
    expect(Date.now() - started).toBeGreaterThanOrEqual(((3 * width) / PER_SECOND - 1) * 1000);
  });

  it('is refused as local, in a request and in its definition', async () => {
    await expect(
      fanout.invoke({ a: null }, ['done'], { targetOptions: { a: { service: 'limited', local: true } } }),
    ).rejects.toBeInstanceOf(InvalidRequestError);
    expect(
      () =>
        new Registry(
          [defineService({ name: 'x', local: true, limits: { perSecond: 1 }, handler: async () => null })],
          [],
        ),
    ).toThrow(RegistryError);
    expect(
      () => new Registry([defineService({ name: 'x', limits: { perSecond: 0 }, handler: async () => null })], []),
    ).toThrow(/limits.perSecond/);
    // Without a burst, perSecond counts calls: a whole number, and there must be one.
    expect(
      () =>
        new Registry(
          [defineService({ name: 'x', limits: { perSecond: 2.5, burst: false }, handler: async () => null })],
          [],
        ),
    ).toThrow(/limits.perSecond: without a burst/);
    expect(
      () => new Registry([defineService({ name: 'x', limits: { burst: false }, handler: async () => null })], []),
    ).toThrow(/limits.burst: burst is said of perSecond/);
  });
});

describe('a client whose registry limits a service otherwise than the workers', () => {
  /** The workers' registry, but for the limits given here. */
  const clientLimiting = (limits: Record<string, { perSecond: number } | undefined>) =>
    new Registry(
      [...registry.services.values()].map((service) =>
        service.name in limits ? { ...service, limits: limits[service.name] } : service,
      ),
      [...registry.callbacks.values()],
    );

  it("fails the fan-out at its start, naming the services, where it would go round the worker's rate or nowhere", async () => {
    // Left to run, `limited` would reach the fan-out's queue, past its rate, and `unlimited` its own task queue, which
    // no worker serves: its targets would wait there for ever.
    const client = new FanoutClient({
      client: env.client,
      registry: clientLimiting({ limited: undefined, unlimited: { perSecond: 5 } }),
      store: env.store,
      taskQueue: TASK_QUEUE,
    });
    const cid = await client.invoke({ a: null, b: null }, ['done'], {
      targetOptions: { a: { service: 'limited' }, b: { service: 'unlimited' } },
    });
    const err = await client.result(cid).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FanoutFailedError);
    expect(err).toMatchObject({ state: 'failed', failure: { type: 'ServiceLimitsMismatch' } });
    const message = (err as FanoutFailedError).failure.message;
    expect(message).toMatch(/limited \(the client's registry: none; this worker's: a perSecond with a burst/);
    expect(message).toMatch(
      /unlimited \(the client's registry: a perSecond with a burst \(its own task queue\); this worker's: none\)/,
    );
    expect(((err as FanoutFailedError).cause as ApplicationFailure).nonRetryable).toBe(true);

    const retried = await client.invokeRetry({
      target: 'b',
      service: 'unlimited',
      request: null,
      attempts: 2,
      interval: '1s',
      callbacks: ['done'],
    });
    await expect(client.result(retried)).rejects.toMatchObject({ failure: { type: 'ServiceLimitsMismatch' } });

    // Streamed in (staged in the store, loaded by the workflow before it checks): the same.
    async function* items() {
      yield { name: 's', service: 'unlimited', request: null };
    }
    const streamed = await client.startStreamed('parallel', { onTarget: ['done'] }, items());
    await expect(client.result(streamed)).rejects.toMatchObject({ failure: { type: 'ServiceLimitsMismatch' } });
  });

  it('runs where they differ only in what the worker keeps itself (perSecond without a burst, concurrency)', async () => {
    const client = new FanoutClient({
      client: env.client,
      registry: clientLimiting({ windowed: undefined, narrow: undefined }),
      store: env.store,
      taskQueue: TASK_QUEUE,
    });
    const cid = await client.invoke({ c: null, d: null }, ['done'], {
      targetOptions: { c: { service: 'windowed' }, d: { service: 'narrow' } },
    });
    expect((await client.result(cid)).counts).toMatchObject({ total: 2, ok: 2 });
  });
});

describe('a service limited to so many targets at once', () => {
  it('never runs more at once, from three fan-outs on two workers, each wanting 20 at once', async () => {
    const width = 20;
    await threeFanouts(['p', 'q', 'r'], width, 'narrow');
    // Held to the limit, and reached it: the leases were given out as they came back.
    expect(running.peak).toBe(CONCURRENCY);
    const limiter = await env.client.workflow.getHandle(limiterWorkflowId('narrow')).describe();
    expect(limiter.status.name).toBe('RUNNING');
  });
});

describe.each(CACHE_MODES)("a service's limiter workflow, with $label", ({ label, maxCachedWorkflows }) => {
  const taskQueue = `limiter-${maxCachedWorkflows ?? 'cached'}`;
  let limiterWorkers: WorkersApart;

  beforeAll(async () => {
    limiterWorkers = await startWorkersApart(1, env.address, {
      registry,
      store: env.store,
      taskQueue,
      workflowBundle: await fanoutBundle(),
      ...(maxCachedWorkflows !== undefined ? { maxCachedWorkflows } : {}),
    });
  }, 60_000);

  afterAll(async () => {
    await limiterWorkers?.stop();
  });

  /** A service's limiter: the workflow, ID and input a target's first ask starts it with. */
  const startLimiter = (service: string, limit: number) =>
    env.client.workflow.start('serviceLimiter', {
      workflowId: limiterWorkflowId(service),
      taskQueue,
      args: [{ service, limit }],
    });

  // A target asks again with the same holder when its first ask's answer is lost (the update aborted, say) though
  // the limiter took it: both asks wait for the one lease, and those behind them still get theirs, in order.
  it('grants in order when a holder that waits asks again', async () => {
    const service = `asked-twice-${label}`;
    const limiter = await startLimiter(service, 1);
    const granted: string[] = [];
    const acquire = (holder: string) =>
      limiter.executeUpdate(acquireLeaseUpdate, { args: [holder, 30_000, 1] }).then(() => granted.push(holder));
    const accepted = async (count: number) => {
      const { events } = await limiter.fetchHistory();
      return (events ?? []).filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes).length >= count;
    };
    await acquire('x');
    const waiting = [acquire('y')];
    await waitFor(() => accepted(2));
    waiting.push(acquire('z'));
    await waitFor(() => accepted(3));
    waiting.push(acquire('y'));
    await waitFor(() => accepted(4));
    expect(granted).toEqual(['x']);

    await limiter.signal(releaseLeaseSignal, 'x');
    await waitFor(async () => granted.length === 3);
    expect(granted).toEqual(['x', 'y', 'y']);
    await limiter.signal(releaseLeaseSignal, 'y');
    await waitFor(async () => granted.length === 4);
    await Promise.all(waiting);
    expect(granted).toEqual(['x', 'y', 'y', 'z']);
    await limiter.terminate('done');
  });

  // The window limiter's asks may be granted ahead: when every lease is held, the place of the lease that ends first,
  // from its end, if that is within the horizon. Each place is then a chain of leases end to end.
  it('grants a window lease ahead, from the end of the one that ends first, never further than the horizon', async () => {
    const service = `ahead-${label}`;
    const limiter = await startLimiter(service, 1);
    const lease = 1_250;
    const answered: Record<string, { start: number; at: number }> = {};
    const acquire = (holder: string) =>
      limiter.executeUpdate(acquireLeaseUpdate, { args: [holder, lease, 1, lease] }).then((start) => {
        answered[holder] = { start: start as number, at: Date.now() };
      });
    await acquire('a');
    // b: a's place from its end, answered at once; asked again (its answer lost), the same start.
    await acquire('b');
    expect(answered.b.start).toBe(answered.a.start + lease);
    expect(answered.b.at).toBeLessThan(answered.b.start);
    await acquire('b');
    expect(answered.b.start).toBe(answered.a.start + lease);
    // c: b's lease ends beyond the horizon; c waits until b's has started, then takes its place from its end.
    await acquire('c');
    expect(answered.c.start).toBe(answered.b.start + lease);
    expect(answered.c.at).toBeGreaterThanOrEqual(answered.b.start - 100);
    await limiter.terminate('done');
  });

  it('grants no window lease ahead above a limit lowered since: that place ends with its lease', async () => {
    const service = `lowered-${label}`;
    const limiter = await startLimiter(service, 2);
    const lease = 1_250;
    const starts: Record<string, number> = {};
    const acquire = async (holder: string, limit: number) => {
      starts[holder] = (await limiter.executeUpdate(acquireLeaseUpdate, { args: [holder, lease, limit, lease] }))!;
    };
    await acquire('a', 2);
    await acquire('b', 2);
    expect(starts.b).toBeGreaterThan(starts.a);
    // Down to 1: a's place is not passed on; once it has ended, c takes b's, from b's end (or from when the limiter
    // next looks, if later: b's lease has ended too by then).
    await acquire('c', 1);
    expect(starts.c).toBeGreaterThanOrEqual(starts.b + lease);
    await limiter.terminate('done');
  });
});
