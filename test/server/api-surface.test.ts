/**
 * The embedded server's API surface as clients see it: idempotency and id policies, memo and user metadata,
 * describe, signal-with-start, run timeouts, queries during a task, unknown namespaces, and malformed input.
 */
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { Client, WorkflowFailedError } from '@temporalio/client';
import { NamespaceNotFoundError, TimeoutFailure, WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { msToTs } from '@temporalio/common/lib/time';
import { bundle, createTimeSkippingEnv, withWorker } from '../helpers/server-harness';
import * as activities from './scenario-activities';
import * as wf from './scenario-workflows';

let env: TestWorkflowEnvironment;
let workflowBundle: WorkflowBundleWithSourceMap;
const taskQueue = 'api-surface';

beforeAll(async () => {
  env = await createTimeSkippingEnv();
  workflowBundle = await bundle(path.join(__dirname, 'scenario-workflows.ts'));
}, 120_000);

afterAll(async () => {
  await env?.teardown();
});

const run = <T>(fn: () => Promise<T>) => withWorker({ env, workflowBundle, activities, taskQueue }, fn);

function startRequest(
  workflowId: string,
  extra: Partial<temporal.api.workflowservice.v1.IStartWorkflowExecutionRequest> = {},
) {
  return {
    namespace: 'default',
    workflowId,
    workflowType: { name: 'sleeper' },
    taskQueue: { name: taskQueue },
    requestId: randomUUID(),
    ...extra,
  };
}

describe('starting', () => {
  it('treats a repeated request id as the same start (idempotency)', async () => {
    const service = env.connection.workflowService;
    const workflowId = `idem-${randomUUID()}`;
    const request = startRequest(workflowId);
    const first = await service.startWorkflowExecution(request);
    const second = await service.startWorkflowExecution(request);
    expect(second.runId).toBe(first.runId);
    await env.client.workflow.getHandle(workflowId).terminate();
  });

  it('applies id conflict and reuse policies', async () => {
    const workflowId = `policy-${randomUUID()}`;
    const service = env.connection.workflowService;
    const { WorkflowIdConflictPolicy } = temporal.api.enums.v1;
    const first = await service.startWorkflowExecution(startRequest(workflowId));
    const existing = await service.startWorkflowExecution(
      startRequest(workflowId, {
        workflowIdConflictPolicy: WorkflowIdConflictPolicy.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
      }),
    );
    expect(existing.runId).toBe(first.runId);
    expect(existing.started).toBe(false);
    const replaced = await service.startWorkflowExecution(
      startRequest(workflowId, {
        workflowIdConflictPolicy: WorkflowIdConflictPolicy.WORKFLOW_ID_CONFLICT_POLICY_TERMINATE_EXISTING,
      }),
    );
    expect(replaced.runId).not.toBe(first.runId);
    expect((await env.client.workflow.getHandle(workflowId, first.runId ?? undefined).describe()).status.name).toBe(
      'TERMINATED',
    );
    await env.client.workflow.getHandle(workflowId).terminate();
    await expect(
      env.client.workflow.start(wf.sleeper, { taskQueue, workflowId, workflowIdReusePolicy: 'REJECT_DUPLICATE' }),
    ).rejects.toBeInstanceOf(WorkflowExecutionAlreadyStartedError);
    await expect(
      env.client.workflow.start(wf.sleeper, {
        taskQueue,
        workflowId,
        workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
      }),
    ).resolves.toBeDefined(); // terminated counts as failed
    await env.client.workflow.getHandle(workflowId).terminate();
  });

  it('returns the first workflow task inline when eager start is requested', async () => {
    const service = env.connection.workflowService;
    const { CommandType, EventType } = temporal.api.enums.v1;
    const workflowId = `eager-${randomUUID()}`;
    const response = await service.startWorkflowExecution(
      startRequest(workflowId, { requestEagerExecution: true, identity: 'eager-test' }),
    );
    const task = response.eagerWorkflowTask!;
    expect(task.taskToken?.length).toBeGreaterThan(0);
    expect(task.history!.events!.map((e) => e.eventType)).toEqual([
      EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
      EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
      EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
    ]);
    await service.respondWorkflowTaskCompleted({
      taskToken: task.taskToken,
      identity: 'eager-test',
      commands: [
        {
          commandType: CommandType.COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION,
          completeWorkflowExecutionCommandAttributes: {},
        },
      ],
    });
    expect((await env.client.workflow.getHandle(workflowId).describe()).status.name).toBe('COMPLETED');
  });

  it('stores memo and user metadata and returns them in describe', async () => {
    const workflowId = `memo-${randomUUID()}`;
    const handle = await env.client.workflow.start(wf.sleeper, {
      taskQueue,
      workflowId,
      memo: { owner: 'team-a', attempt: 1 },
      staticSummary: 'fan-out from crm: 3 targets',
      staticDetails: 'details in **markdown**',
    });
    const description = await handle.describe();
    expect(description.memo).toEqual({ owner: 'team-a', attempt: 1 });
    expect(await description.staticSummary()).toBe('fan-out from crm: 3 targets');
    expect(await description.staticDetails()).toBe('details in **markdown**');
    await handle.terminate();
  });

  it('signals with start, starting once and signalling the running workflow after', async () => {
    const workflowId = `sws-${randomUUID()}`;
    const total = await run(async () => {
      const handle = await env.client.workflow.signalWithStart(wf.signalsAndQueries, {
        taskQueue,
        workflowId,
        args: [2],
        signal: wf.addSignal,
        signalArgs: [10],
      });
      const again = await env.client.workflow.signalWithStart(wf.signalsAndQueries, {
        taskQueue,
        workflowId,
        args: [2],
        signal: wf.addSignal,
        signalArgs: [5],
      });
      expect(again.signaledRunId).toBe(handle.signaledRunId);
      return handle.result();
    });
    expect(total).toBe(15);
  });

  it('times a workflow run out', async () => {
    const err = await run(() =>
      env.client.workflow
        .execute(wf.sleeper, { taskQueue, workflowId: `run-timeout-${randomUUID()}`, workflowRunTimeout: '1 hour' })
        .catch((e: unknown) => e),
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect((err as WorkflowFailedError).cause).toBeInstanceOf(TimeoutFailure);
  });
});

describe('workflow tasks', () => {
  const { EventType, WorkflowTaskFailedCause } = temporal.api.enums.v1;
  const poll = (queue: string) =>
    env.connection.workflowService.pollWorkflowTaskQueue({
      namespace: 'default',
      taskQueue: { name: queue },
      identity: 'raw-worker',
    });

  it('times a workflow task out and hands it out again as attempt 2', async () => {
    const queue = `raw-${randomUUID()}`;
    const workflowId = `wft-timeout-${randomUUID()}`;
    await env.connection.workflowService.startWorkflowExecution(
      startRequest(workflowId, { taskQueue: { name: queue }, workflowTaskTimeout: msToTs('1s') }),
    );
    const first = await poll(queue);
    expect(first.attempt).toBe(1);
    const second = await poll(queue); // nobody answers the first: it times out after 1 s
    expect(second.attempt).toBe(2);
    const types = second.history!.events!.map((e) => e.eventType);
    expect(types).toContain(EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT);
    expect(types[types.length - 1]).toBe(EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED);
    await env.client.workflow.getHandle(workflowId).terminate();
  });

  it('records a failed workflow task and retries it', async () => {
    const queue = `raw-${randomUUID()}`;
    const workflowId = `wft-failed-${randomUUID()}`;
    await env.connection.workflowService.startWorkflowExecution(
      startRequest(workflowId, { taskQueue: { name: queue } }),
    );
    const first = await poll(queue);
    await env.connection.workflowService.respondWorkflowTaskFailed({
      taskToken: first.taskToken,
      cause: WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_WORKFLOW_WORKER_UNHANDLED_FAILURE,
      failure: { message: 'bug in workflow code' },
      identity: 'raw-worker',
    });
    const second = await poll(queue);
    expect(second.attempt).toBe(2);
    const failed = second.history!.events!.find((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED)!;
    expect(failed.workflowTaskFailedEventAttributes!.failure!.message).toBe('bug in workflow code');
    await expect(
      env.connection.workflowService.respondWorkflowTaskCompleted({ taskToken: first.taskToken }),
    ).rejects.toMatchObject({
      code: grpc.status.NOT_FOUND,
    });
    await env.client.workflow.getHandle(workflowId).terminate();
  });
});

describe('inspecting', () => {
  it('describes pending activities and children', async () => {
    const workflowId = `pending-${randomUUID()}`;
    await run(async () => {
      const handle = await env.client.workflow.start(wf.parentWithPendingWork, { taskQueue, workflowId });
      let description = await handle.describe();
      for (
        let i = 0;
        i < 100 && (!description.raw.pendingActivities?.length || !description.raw.pendingChildren?.length);
        i++
      ) {
        await new Promise((r) => setTimeout(r, 50));
        description = await handle.describe();
      }
      expect(description.raw.pendingActivities?.[0]?.activityType?.name).toBe('heartbeatUntilCancelled');
      expect(description.raw.pendingChildren?.[0]?.workflowId).toBe(`${workflowId}/sleeper`);
      expect(description.raw.pendingChildren?.[0]?.workflowTypeName).toBe('sleeper');
      await handle.terminate();
    });
  });

  it('answers a query that arrives while a workflow task is in flight', async () => {
    const workflowId = `slow-${randomUUID()}`;
    const answer = await run(async () => {
      const handle = await env.client.workflow.start(wf.slowTask, { taskQueue, workflowId, args: [30_000_000] });
      const value = await handle.query(wf.totalQuery);
      await handle.terminate();
      return value;
    });
    expect(typeof answer).toBe('number');
  });

  it('raises NamespaceNotFoundError for an unknown namespace', async () => {
    const client = new Client({ connection: env.connection, namespace: 'no-such-namespace' });
    await expect(client.workflow.start(wf.sleeper, { taskQueue, workflowId: 'x' })).rejects.toBeInstanceOf(
      NamespaceNotFoundError,
    );
  });
});

describe('malformed input', () => {
  it('answers INVALID_ARGUMENT with a clear message', async () => {
    const service = env.connection.workflowService;
    await expect(
      service.startWorkflowExecution({ namespace: 'default', workflowId: 'x', taskQueue: { name: 'q' } }),
    ).rejects.toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      details: 'WorkflowType is not set on request.',
    });
    await expect(service.respondActivityTaskCompleted({ taskToken: Buffer.from('garbage') })).rejects.toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
    });
    await expect(service.pollWorkflowTaskQueue({ namespace: 'default' })).rejects.toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
    });
  });

  it('refuses a gRPC message over 4 MiB with RESOURCE_EXHAUSTED, as the real server does', async () => {
    const workflowId = `big-message-${randomUUID()}`;
    await env.connection.workflowService.startWorkflowExecution(startRequest(workflowId));
    const huge = { metadata: { encoding: Buffer.from('binary/plain') }, data: Buffer.alloc(5 * 1024 * 1024) };
    await expect(
      env.connection.workflowService.signalWorkflowExecution({
        namespace: 'default',
        workflowExecution: { workflowId },
        signalName: 'x',
        input: { payloads: [huge] },
      }),
    ).rejects.toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED });
    await env.client.workflow.getHandle(workflowId).terminate();
  });

  it('survives undecodable bytes and keeps serving', async () => {
    const address = (env as unknown as { address: string }).address;
    const client = new grpc.Client(address, grpc.credentials.createInsecure());
    const code = await new Promise<number>((resolve) =>
      client.makeUnaryRequest(
        '/temporal.api.workflowservice.v1.WorkflowService/StartWorkflowExecution',
        (b: Buffer) => b,
        (b: Buffer) => b,
        Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]),
        (err) => resolve(err?.code ?? 0),
      ),
    );
    client.close();
    expect(code).not.toBe(0);
    const info = await env.connection.workflowService.getSystemInfo({});
    expect(info.serverVersion).toBeTruthy();
  });
});
