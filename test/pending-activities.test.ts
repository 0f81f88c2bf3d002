/**
 * Temporal refuses to schedule an activity once an execution has 2,000 pending (the default
 * `limit.numPendingActivities.error`), and a slow callback receiver keeps on-target callbacks pending long after
 * their targets settled. A fan-out with many on-target callbacks is therefore cut into shards small enough that
 * every callback of every settled target can be pending at once: on the official dev server, through the real SDK.
 */
import { temporal } from '@temporalio/proto';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { Registry, defineCallback, defineService } from '../src/registry';
import { HISTORY_EVENT_BUDGET, PENDING_ACTIVITIES_LIMIT, planShards, shardWorkflowId } from '../src/workflows/sharding';
import { fanoutTestFile, withFanoutWorker } from './helpers/fanout-env';
import { fanoutHistories } from './helpers/histories';
import type { FanoutTestEnv } from './helpers/temporal-env';
import { CACHE_MODES, createDevServerEnv } from './helpers/temporal-env';
import { waitFor } from './helpers/wait';

let env: FanoutTestEnv;
let workflowBundle: WorkflowBundleWithSourceMap;
fanoutTestFile((e, b) => ((env = e), (workflowBundle = b)), createDevServerEnv);

const CALLBACKS = ['slow.1', 'slow.2', 'slow.3', 'slow.4', 'slow.5'];
// 401 targets × 5 callbacks: 2,005 callbacks, more than one execution may hold pending (the history budget alone
// would have run the 401 targets in one execution).
const WIDTH = 401;

/** Callbacks whose receiver answers only once let through: until then they wait, pending. */
function registry() {
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let running = 0;
  const reg = new Registry(
    [defineService({ name: 'echo', handler: async (request: unknown) => request })],
    [
      ...CALLBACKS.map((name) =>
        defineCallback({
          name,
          handler: async () => {
            running++;
            await gate;
          },
        }),
      ),
      defineCallback({ name: 'final', handler: async () => undefined }),
    ],
  );
  return { reg, release, running: () => running };
}

describe.each(CACHE_MODES)('many on-target callbacks with $label', ({ maxCachedWorkflows }) => {
  it(`${WIDTH} targets × ${CALLBACKS.length} slow on-target callbacks: all ${(WIDTH * CALLBACKS.length).toLocaleString('en')} pending at once, no execution over the limit`, async () => {
    const plan = planShards(WIDTH, CALLBACKS.length, 1000);
    expect(plan.shardCount).toBe(2);
    // The history budget alone would hold them in one execution; the pending activities limit would not.
    expect(WIDTH * (6 + 3 * CALLBACKS.length)).toBeLessThanOrEqual(HISTORY_EVENT_BUDGET);
    expect(WIDTH * CALLBACKS.length).toBeGreaterThan(PENDING_ACTIVITIES_LIMIT);
    const targets = Object.fromEntries(Array.from({ length: WIDTH }, (_, i) => [`t${i}`, i]));
    const targetOptions = Object.fromEntries(Object.keys(targets).map((name) => [name, { service: 'echo' }]));
    const harness = {
      env,
      workflowBundle,
      maxCachedWorkflows,
      taskQueue: `pending-${maxCachedWorkflows ?? 'd'}`,
      // Room for every callback to wait at once, so that the targets are never starved of activity slots.
      workerOptions: { maxConcurrentActivityTaskExecutions: 3_000 },
    };
    const { reg, release, running } = registry();
    const { result, pendingPeak, all } = await withFanoutWorker(harness, reg, async (fanout) => {
      try {
        const cid = await fanout.invoke(targets, ['final'], {
          targetOptions,
          onTarget: CALLBACKS,
          maxConcurrency: 1000,
        });
        const pending = async () =>
          Promise.all(
            [cid, shardWorkflowId(cid, 0), shardWorkflowId(cid, 1)].map(async (id) => {
              const described = await env.client.workflow
                .getHandle(id)
                .describe()
                .catch(() => undefined);
              const types = (described?.raw.pendingActivities ?? []).map((a) => a.activityType?.name ?? '');
              // All pending activities count against the limit; the callbacks are the ones this test waits on
              // (a shard may also have, say, its records being stored at that moment).
              return { all: types.length, callbacks: types.filter((t) => CALLBACKS.includes(t)).length };
            }),
          );
        // Every callback scheduled and waiting, none refused for want of room.
        await waitFor(async () => running() === WIDTH * CALLBACKS.length, 120_000);
        const pendingPeak = await pending();
        release();
        const result = await fanout.result(cid);
        return { result, pendingPeak, all: await fanoutHistories(env.client, cid, plan.shardCount) };
      } finally {
        release();
      }
    });
    expect(pendingPeak.reduce((sum, n) => sum + n.callbacks, 0)).toBe(WIDTH * CALLBACKS.length);
    for (const n of pendingPeak) expect(n.all).toBeLessThanOrEqual(PENDING_ACTIVITIES_LIMIT);
    expect(result.counts).toEqual({
      total: WIDTH,
      ok: WIDTH,
      failed: 0,
      cancelled: 0,
      callbacks: WIDTH * CALLBACKS.length + 1,
      callbacksFailed: 0,
    });
    // No workflow task was refused for scheduling past the limit on the way. (Tasks the server closes to flush the
    // events that piled up meanwhile, FORCE_CLOSE_COMMAND, are its own housekeeping and retried at once.)
    const causes = all.flatMap((h) =>
      h.events!.flatMap((e) =>
        e.workflowTaskFailedEventAttributes ? [e.workflowTaskFailedEventAttributes.cause] : [],
      ),
    );
    expect(causes).not.toContain(
      temporal.api.enums.v1.WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_PENDING_ACTIVITIES_LIMIT_EXCEEDED,
    );
    for (const cause of causes)
      expect(cause).toBe(temporal.api.enums.v1.WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_FORCE_CLOSE_COMMAND);
  }, 180_000);
});
