/**
 * The real server's limits, refused the real server's way, and both launch paths of @temporalio/testing
 * (createTimeSkipping and createLocal with an existing-path executable).
 */
import path from 'node:path';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { WorkflowFailedError } from '@temporalio/client';
import { ActivityFailure, TerminatedFailure } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import {
  bundle,
  CACHE_MODES,
  createLocalEnv,
  createTimeSkippingEnv,
  replayAll,
  SERVER_PATH,
  withWorker,
} from '../helpers/server-harness';
import { waitFor } from '../helpers/wait';
import * as activities from './scenario-activities';
import * as wf from './scenario-workflows';

const { EventType, WorkflowTaskFailedCause } = temporal.api.enums.v1;

let env: TestWorkflowEnvironment;
let workflowBundle: WorkflowBundleWithSourceMap;
const replayable: string[] = [];

beforeAll(async () => {
  env = await createTimeSkippingEnv(
    [],
    [
      '--dynamic-config-value',
      'limit.numPendingActivities.error=5',
      '--dynamic-config-value',
      'limit.historyCount.error=60',
      '--dynamic-config-value',
      'limit.blobSize.error=10000',
    ],
  );
  workflowBundle = await bundle(path.join(__dirname, 'scenario-workflows.ts'));
}, 120_000);

afterAll(async () => {
  await replayAll(env, workflowBundle, replayable);
  await env?.teardown();
}, 60_000);

describe.each(CACHE_MODES)('limits with $label', ({ maxCachedWorkflows }) => {
  const taskQueue = `limits-${maxCachedWorkflows ?? 'default'}`;
  const run = <T>(fn: () => Promise<T>) =>
    withWorker({ env, workflowBundle, activities, taskQueue, maxCachedWorkflows }, fn);

  it('accepts pending activities up to the limit', async () => {
    const workflowId = `at-limit-${randomUUID()}`;
    replayable.push(workflowId);
    expect(await run(() => env.client.workflow.execute(wf.manyActivities, { args: [5], taskQueue, workflowId }))).toBe(
      5,
    );
  });

  it('fails the workflow task that would exceed the pending activities limit, as the real server does', async () => {
    const workflowId = `over-limit-${randomUUID()}`;
    const history = await run(async () => {
      const handle = await env.client.workflow.start(wf.manyActivities, { args: [6], taskQueue, workflowId });
      await waitFor(async () =>
        (await handle.fetchHistory()).events!.some((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED),
      );
      await handle.terminate('test over');
      return handle.fetchHistory();
    });
    const failed = history.events!.find((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED)!;
    expect(failed.workflowTaskFailedEventAttributes!.cause).toBe(
      WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_PENDING_ACTIVITIES_LIMIT_EXCEEDED,
    );
    expect(failed.workflowTaskFailedEventAttributes!.failure!.message).toMatch(/per-workflow limit of 5/);
    expect(history.events!.some((e) => e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)).toBe(false);
  });

  it('terminates a workflow whose history exceeds the event count limit', async () => {
    const err = await run(() =>
      env.client.workflow
        .execute(wf.sequentialActivities, { args: [40], taskQueue, workflowId: `long-${randomUUID()}` })
        .catch((e: unknown) => e),
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect((err as WorkflowFailedError).cause).toBeInstanceOf(TerminatedFailure);
    expect((err as WorkflowFailedError).cause!.message).toMatch(/history count exceeds limit/);
  });

  it('turns an activity result over the blob limit into a non-retryable failure', async () => {
    const workflowId = `big-result-${randomUUID()}`;
    replayable.push(workflowId);
    const err = await run(() =>
      env.client.workflow
        .execute(wf.bigActivityResult, { args: [20_000], taskQueue, workflowId })
        .catch((e: unknown) => e),
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const cause = (err as WorkflowFailedError).cause as ActivityFailure;
    expect(cause).toBeInstanceOf(ActivityFailure);
    expect(cause.cause!.message).toMatch(/Complete result exceeds size limit/);
  });
});

describe('launch paths', () => {
  it('runs as the CLI dev server through TestWorkflowEnvironment.createLocal', async () => {
    const local = await createLocalEnv();
    try {
      expect(local.supportsTimeSkipping).toBe(false);
      const before = Date.now();
      await local.sleep(200); // real time on a dev server
      expect(Date.now() - before).toBeGreaterThanOrEqual(190);
      const result = await withWorker({ env: local, workflowBundle, activities, taskQueue: 'local' }, () =>
        local.client.workflow.execute(wf.echo, {
          args: ['local'],
          taskQueue: 'local',
          workflowId: `local-${randomUUID()}`,
        }),
      );
      expect(result).toBe('local');
    } finally {
      await local.teardown();
    }
  });

  it('advances virtual time with env.sleep', async () => {
    const before = await env.currentTimeMs();
    await env.sleep('3 hours');
    expect((await env.currentTimeMs()) - before).toBeGreaterThanOrEqual(3 * 3600 * 1000);
  });

  it('warns on flags it does not support instead of crashing', async () => {
    const port = 20000 + Math.floor(Math.random() * 20000);
    const child = spawn(
      process.execPath,
      [SERVER_PATH, 'server', 'start-dev', '--port', String(port), '--db-filename', 'x.db', '--no-such-flag', 'y'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    await waitFor(async () => stdout.includes('listening'));
    child.kill('SIGKILL');
    expect(stderr).toMatch(/db-filename/);
    expect(stderr).toMatch(/no-such-flag/);
    expect(stdout).toContain(`127.0.0.1:${port}`);
  });
});
