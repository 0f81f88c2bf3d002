/**
 * Targets streamed in through the client (an async iterable of items), on the official time-skipping test server
 * with the real SDK Worker: checked as they come, kept in the result store in files of planned targets, loaded by
 * the fan-out; a bad item refuses the whole stream, naming where it is, with nothing started and nothing left.
 */
import { describe, expect, it } from 'vitest';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { z } from 'zod';
import { InvalidRequestError, UnknownServiceError } from '../src/client';
import { STAGED_CHUNK_TARGETS } from '../src/contracts';
import { Registry, defineCallback, defineService } from '../src/registry';
import { fanoutTestFile, withFanoutWorker } from './helpers/fanout-env';
import type { FanoutTestEnv } from './helpers/temporal-env';
import { CACHE_MODES } from './helpers/temporal-env';

let env: FanoutTestEnv;
let workflowBundle: WorkflowBundleWithSourceMap;
fanoutTestFile((e, b) => ((env = e), (workflowBundle = b)));

const registry = new Registry(
  [
    defineService({ name: 'echo', handler: async (request: unknown) => request }),
    defineService({ name: 'square', request: z.object({ n: z.number() }), handler: async ({ n }) => n * n }),
  ],
  [defineCallback({ name: 'cb', handler: async () => undefined })],
);

async function* items(width: number): AsyncGenerator<unknown> {
  for (let i = 0; i < width; i++) yield { name: `t${i}`, service: 'square', request: { n: i } };
}

async function* listed(values: unknown[]): AsyncGenerator<unknown> {
  yield* values;
}

async function storedUnder(prefix: string): Promise<string[]> {
  return (await env.store.list(prefix)).keys;
}

describe.each(CACHE_MODES)('targets streamed in with $label', ({ maxCachedWorkflows }) => {
  const harness = () => ({
    env,
    workflowBundle,
    maxCachedWorkflows,
    taskQueue: `streamed-${maxCachedWorkflows ?? 'default'}`,
  });

  it('a stream wider than one file of targets runs as if the targets had been given', async () => {
    const width = STAGED_CHUNK_TARGETS + 1;
    const result = await withFanoutWorker(harness(), registry, async (fanout) => {
      const cid = await fanout.invoke(items(width), ['cb'], { batching: { maxTargets: 500 }, source: 'streamed' });
      // Two files of targets under the fan-out's input folder, the second holding one.
      const staged = await storedUnder(`fanouts/${cid}/input/`);
      expect(staged).toHaveLength(2);
      return fanout.result(cid);
    });
    expect(result.counts).toMatchObject({ total: width, ok: width, failed: 0 });
    expect(result.payload.data[`t${width - 1}`]).toMatchObject({ ok: true, response: (width - 1) ** 2 });
    expect(result.payload.data.t0.source).toBe('streamed');
  });

  it('parallel execution takes a stream too', async () => {
    const result = await withFanoutWorker(harness(), registry, async (fanout) =>
      fanout.result(await fanout.parallel(items(3), ['cb'])),
    );
    expect(result.targets).toEqual({ t0: 'ok', t1: 'ok', t2: 'ok' });
  });
});

describe('a bad stream is refused whole', () => {
  const refusal = async (stream: AsyncIterable<unknown>, cid: string) => {
    const { FanoutClient } = await import('../src/client');
    const fanout = new FanoutClient({ client: env.client, registry, store: env.store });
    const error = await fanout.invoke(stream, ['cb'], { cid }).catch((e: unknown) => e);
    // Nothing started, and nothing of the upload left in the store.
    await expect(env.client.workflow.getHandle(cid).describe()).rejects.toThrow();
    expect(await storedUnder(`fanouts/${cid}/input/`)).toEqual([]);
    return error;
  };

  it('names each bad item by its place: not an item, a second name, a request its service refuses', async () => {
    const good = (i: number) => ({ name: `g${i}`, service: 'square', request: { n: i } });
    // Enough good items before the bad ones that a file of targets was written before the refusal.
    const many = Array.from({ length: STAGED_CHUNK_TARGETS + 2 }, (_, i) => good(i));
    const error = await refusal(
      listed([
        ...many,
        { name: 'has space', request: 1 },
        good(0),
        { name: 'x', service: 'square', request: { n: 'two' } },
        { name: 'y', request: 1, extra: true },
      ]),
      `bad-stream-${Date.now()}`,
    );
    expect(error).toBeInstanceOf(InvalidRequestError);
    const at = many.length;
    expect((error as InvalidRequestError).issues.map((i) => i.segments)).toEqual([
      ['targets', at, 'name'],
      ['targets', at + 1, 'name'],
      ['targets', at + 2, 'request', 'n'],
      ['targets', at + 3],
    ]);
  });

  it('unknown services are listed; an empty stream is refused', async () => {
    const unknown = await refusal(
      listed([
        { name: 'a', service: 'nope', request: 1 },
        { name: 'b.missing', request: 1 },
      ]),
      `unknown-${Date.now()}`,
    );
    expect(unknown).toBeInstanceOf(UnknownServiceError);
    expect((unknown as UnknownServiceError).unknownServices).toEqual(['nope', 'b.missing']);
    const empty = await refusal(listed([]), `empty-${Date.now()}`);
    expect((empty as InvalidRequestError).issues[0]).toMatchObject({
      segments: ['targets'],
      message: 'at least one target',
    });
  });
});
