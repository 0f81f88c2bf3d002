/**
 * The embedded server, judged by the real SDK: every scenario runs under both cache settings (default, and
 * maxCachedWorkflows: 0 = full replay on every task), and every history it produced is replayed afterwards.
 */
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import {
  ActivityFailure,
  ApplicationFailure,
  TimeoutFailure,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  TerminatedFailure,
  CancelledFailure,
  defineSearchAttributeKey,
  SearchAttributeType,
} from '@temporalio/common';
import {
  WithStartWorkflowOperation,
  WorkflowFailedError,
  WorkflowUpdateFailedError,
  WorkflowUpdateStage,
} from '@temporalio/client';
import { bundle, CACHE_MODES, createTimeSkippingEnv, replayAll, withWorker } from '../helpers/server-harness';
import { waitFor } from '../helpers/wait';
import * as activities from './scenario-activities';
import * as wf from './scenario-workflows';

const CustomKeyword = defineSearchAttributeKey('CustomKeyword', SearchAttributeType.KEYWORD_LIST);

let env: TestWorkflowEnvironment;
let workflowBundle: WorkflowBundleWithSourceMap;
const produced: string[] = [];

beforeAll(async () => {
  env = await createTimeSkippingEnv([{ name: 'CustomKeyword', type: SearchAttributeType.KEYWORD_LIST }]);
  workflowBundle = await bundle(path.join(__dirname, 'scenario-workflows.ts'));
}, 120_000);

function id(prefix: string): string {
  const workflowId = `${prefix}-${randomUUID().slice(0, 8)}`;
  produced.push(workflowId);
  return workflowId;
}

describe.each(CACHE_MODES)('embedded server with $label', ({ maxCachedWorkflows }) => {
  const taskQueue = `scenarios-${maxCachedWorkflows ?? 'default'}`;
  const run = <T>(fn: () => Promise<T>) =>
    withWorker({ env, workflowBundle, activities, taskQueue, maxCachedWorkflows }, fn);

  it('runs an activity and returns its result', async () => {
    const result = await run(() =>
      env.client.workflow.execute(wf.echo, { args: ['hello'], taskQueue, workflowId: id('echo') }),
    );
    expect(result).toBe('hello');
  });

  it('retries an activity twice with a one-minute backoff, skipping the waits', async () => {
    const started = await env.currentTimeMs();
    const wallStart = Date.now();
    const result = await run(() =>
      env.client.workflow.execute(wf.flaky, { args: [2], taskQueue, workflowId: id('flaky') }),
    );
    expect(result).toBe('succeeded on attempt 3');
    expect((await env.currentTimeMs()) - started).toBeGreaterThanOrEqual(2 * 60_000);
    expect(Date.now() - wallStart).toBeLessThan(30_000);
  });

  it('does not retry a non-retryable activity failure', async () => {
    const err = await run(() =>
      env.client.workflow
        .execute(wf.nonRetryable, { taskQueue, workflowId: id('nonretryable') })
        .catch((e: unknown) => e),
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const cause = (err as WorkflowFailedError).cause;
    expect(cause).toBeInstanceOf(ActivityFailure);
    expect((cause as ActivityFailure).cause).toBeInstanceOf(ApplicationFailure);
    expect(((cause as ActivityFailure).cause as ApplicationFailure).type).toBe('Fatal');
  });

  it.each(['startToClose', 'heartbeat', 'scheduleToClose', 'scheduleToStart'] as const)(
    'times out an activity on %s',
    async (kind) => {
      const err = await run(() =>
        env.client.workflow
          .execute(wf.activityTimeout, { args: [kind], taskQueue, workflowId: id(`timeout-${kind}`) })
          .catch((e: unknown) => e),
      );
      expect(err).toBeInstanceOf(WorkflowFailedError);
      const activityFailure = (err as WorkflowFailedError).cause as ActivityFailure;
      expect(activityFailure).toBeInstanceOf(ActivityFailure);
      expect(activityFailure.cause).toBeInstanceOf(TimeoutFailure);
    },
  );

  it('skips a 30-day timer in well under a second', async () => {
    const wallStart = Date.now();
    const elapsed = await run(() =>
      env.client.workflow.execute(wf.timers, { args: [30], taskQueue, workflowId: id('timer') }),
    );
    expect(elapsed).toBeGreaterThanOrEqual(30 * 24 * 3600 * 1000);
    expect(Date.now() - wallStart).toBeLessThan(5_000);
  });

  it('delivers signals and answers queries', async () => {
    const total = await run(async () => {
      const handle = await env.client.workflow.start(wf.signalsAndQueries, {
        args: [3],
        taskQueue,
        workflowId: id('signals'),
      });
      await handle.signal(wf.addSignal, 1);
      await handle.signal(wf.addSignal, 2);
      expect(await handle.query(wf.totalQuery)).toBe(3);
      await handle.signal(wf.addSignal, 4);
      const result = await handle.result();
      expect(await handle.query(wf.totalQuery)).toBe(7); // queries work on closed workflows too
      return result;
    });
    expect(total).toBe(7);
  });

  it('cancels a workflow and its running activity', async () => {
    const err = await run(async () => {
      const handle = await env.client.workflow.start(wf.cancellable, { taskQueue, workflowId: id('cancel') });
      await waitFor(async () => (await handle.describe()).raw.pendingActivities?.some((a) => a.state === 2) ?? false);
      await handle.cancel();
      return handle.result().catch((e: unknown) => e);
    });
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
  });

  it('terminates a workflow', async () => {
    const err = await run(async () => {
      const handle = await env.client.workflow.start(wf.sleeper, { taskQueue, workflowId: id('terminate') });
      await handle.terminate('enough');
      return handle.result().catch((e: unknown) => e);
    });
    expect((err as WorkflowFailedError).cause).toBeInstanceOf(TerminatedFailure);
  });

  it('runs child workflows, cancels one, signals another, and terminates it with the parent', async () => {
    const parentId = id('parent');
    produced.push(`${parentId}/child-1`, `${parentId}/child-3`);
    const result = await run(() =>
      env.client.workflow.execute(wf.childWorkflowParent, { taskQueue, workflowId: parentId }),
    );
    expect(result).toEqual(['child:one', 'cancelled', `${parentId}/child-2`]);
    const second = await env.client.workflow.getHandle(`${parentId}/child-2`).describe();
    expect(second.status.name).toBe('TERMINATED');
  });

  it('continues as new until done', async () => {
    const workflowId = id('counter');
    const result = await run(() => env.client.workflow.execute(wf.counter, { args: [0, 3], taskQueue, workflowId }));
    expect(result).toBe(3);
  });

  it('upserts search attributes and lists by them', async () => {
    const workflowId = id('searchable');
    await run(() =>
      env.client.workflow.execute(wf.searchable, {
        taskQueue,
        workflowId,
        typedSearchAttributes: [{ key: CustomKeyword, value: ['initial'] }],
      }),
    );
    const description = await env.client.workflow.getHandle(workflowId).describe();
    expect(description.typedSearchAttributes.get(CustomKeyword)).toEqual(['updated']);
    expect(description.memo).toEqual({ note: 'upserted' });
    const listed = [];
    for await (const info of env.client.workflow.list({
      query: `CustomKeyword = 'updated' AND WorkflowId = '${workflowId}'`,
    }))
      listed.push(info.workflowId);
    expect(listed).toEqual([workflowId]);
    const count = await env.client.workflow.count(`WorkflowType = 'searchable' AND ExecutionStatus = 'Completed'`);
    expect(count.count).toBeGreaterThanOrEqual(1);
  });

  it('runs updates: validator rejection, wait for acceptance, completion, update-with-start', async () => {
    const workflowId = id('update');
    const result = await run(async () => {
      const handle = await env.client.workflow.start(wf.updatable, { taskQueue, workflowId });
      expect(await handle.executeUpdate(wf.setValue, { args: [5] })).toBe(0);
      await expect(handle.executeUpdate(wf.setValue, { args: [-1] })).rejects.toBeInstanceOf(WorkflowUpdateFailedError);
      const accepted = await handle.startUpdate(wf.setValue, { args: [7], waitForStage: WorkflowUpdateStage.ACCEPTED });
      expect(await accepted.result()).toBe(5);
      await handle.signal(wf.finish);
      return handle.result();
    });
    expect(result).toBe(7);

    const withStartId = id('update-with-start');
    const startOp = new WithStartWorkflowOperation(wf.updatable, {
      taskQueue,
      workflowId: withStartId,
      workflowIdConflictPolicy: 'FAIL',
    });
    const previous = await run(async () => {
      const value = await env.client.workflow.executeUpdateWithStart(wf.setValue, {
        args: [3],
        startWorkflowOperation: startOp,
      });
      const handle = await startOp.workflowHandle();
      await handle.signal(wf.finish);
      expect(await handle.result()).toBe(3);
      return value;
    });
    expect(previous).toBe(0);
  });

  it('completes an activity by workflow and activity id, after a heartbeat by id', async () => {
    const workflowId = id('async');
    const result = await run(async () => {
      const handle = await env.client.workflow.start(wf.asyncCompletion, { taskQueue, workflowId });
      await waitFor(async () => (await handle.describe()).raw.pendingActivities?.[0]?.state === 2);
      await env.client.activity.heartbeat({ workflowId, activityId: 'outside' }, 'progress');
      expect((await handle.describe()).raw.pendingActivities?.[0]?.heartbeatDetails?.payloads?.length).toBe(1);
      await env.client.activity.complete({ workflowId, activityId: 'outside' }, 'completed from outside');
      return handle.result();
    });
    expect(result).toBe('completed from outside');
  });

  it('refuses a duplicate workflow ID with the typed error', async () => {
    const workflowId = id('duplicate');
    await run(async () => {
      const handle = await env.client.workflow.start(wf.sleeper, { taskQueue, workflowId });
      await expect(env.client.workflow.start(wf.sleeper, { taskQueue, workflowId })).rejects.toBeInstanceOf(
        WorkflowExecutionAlreadyStartedError,
      );
      await handle.terminate();
    });
  });
});

describe('errors and limits', () => {
  it('raises WorkflowNotFoundError for an unknown workflow', async () => {
    await expect(env.client.workflow.getHandle('no-such-workflow').describe()).rejects.toBeInstanceOf(
      WorkflowNotFoundError,
    );
    await expect(env.client.workflow.getHandle('no-such-workflow').signal(wf.addSignal, 1)).rejects.toBeInstanceOf(
      WorkflowNotFoundError,
    );
  });

  it('refuses a workflow input over the 2 MiB payload limit', async () => {
    const err = await env.client.workflow
      .start(wf.echo, { args: ['x'.repeat(2 * 1024 * 1024 + 10)], taskQueue: 'nobody', workflowId: id('too-big') })
      .catch((e: unknown) => e);
    expect(causeMessage(err)).toMatch(/size exceeds limit/);
  });

  it('refuses an unregistered search attribute', async () => {
    const Unknown = defineSearchAttributeKey('NotRegistered', SearchAttributeType.KEYWORD);
    const err = await env.client.workflow
      .start(wf.sleeper, {
        taskQueue: 'nobody',
        workflowId: id('bad-sa'),
        typedSearchAttributes: [{ key: Unknown, value: 'x' }],
      })
      .catch((e: unknown) => e);
    expect(causeMessage(err)).toMatch(/NotRegistered is not defined/);
  });
});

afterAll(async () => {
  // Every history the scenarios produced must replay cleanly.
  const existing = [];
  for (const workflowId of produced) {
    try {
      await env.client.workflow.getHandle(workflowId).describe();
      existing.push(workflowId);
    } catch {
      // scenarios that were refused at start have no history
    }
  }
  const replayed = await replayAll(env, workflowBundle, existing);
  expect(replayed).toBe(existing.length);
  expect(replayed).toBeGreaterThan(20);
  await env.teardown();
}, 120_000);

/** The client wraps gRPC errors ("Failed to start Workflow"); the server's words are in the cause. */
function causeMessage(err: unknown): string {
  const e = err as { message?: string; cause?: { message?: string; details?: string } };
  return `${e?.message} / ${e?.cause?.details ?? e?.cause?.message}`;
}
