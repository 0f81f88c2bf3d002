/**
 * Replays the saved histories (test/histories, recorded by `npm run histories:save`) against today's workflow
 * code: a change that would break running fan-outs on deploy fails here first. They replay too with the workflow
 * tracing interceptors bundled in (fan-outs a worker took over when tracing was turned on), updates completed among
 * other commands included, and one recorded with the SDK's own workflow tracing interceptors (a span per activity,
 * as this package bundled them before) replays with and without them.
 */
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { Worker } from '@temporalio/worker';
import { LocalBlobStore } from '../src/store/local-store';
import { fanoutDataConverter } from '../src/store/payload-driver';
import { tracingWorkflowModules } from '../src/tracing';
import { bundleFanoutWorkflows } from '../src/worker/workflow-bundle';
import { fanoutBundle } from './helpers/fanout-env';

const HISTORIES = path.join(__dirname, 'histories');
const files = fs.readdirSync(HISTORIES).filter((f) => f.endsWith('.json'));
// Payloads a history refers to in the result store (a wide fan-out's input), kept beside the histories.
const dataConverter = fanoutDataConverter(new LocalBlobStore(path.join(HISTORIES, 'store')));

let workflowBundle: WorkflowBundleWithSourceMap;
let tracedBundle: WorkflowBundleWithSourceMap;
// The workflow spans' way out of the sandbox; the SDK does not call sinks while replaying.
const sinks = { exporter: { export: { fn: () => undefined } } };

beforeAll(async () => {
  [workflowBundle, tracedBundle] = await Promise.all([
    fanoutBundle(),
    bundleFanoutWorkflows(undefined, { workflowInterceptorModules: tracingWorkflowModules() }),
  ]);
}, 120_000);

describe('saved histories replay without nondeterminism', () => {
  it('has histories of every pattern to replay', () => {
    // Fan-out / fan-in with on-target callbacks; failing targets and callbacks; a child-workflow target; parallel
    // execution; invoke/retry; a cancelled fan-out; one stopped by fail-fast, with a deadline; one paused before its
    // first target, resumed and raised; a sharded one, its concurrency spread over both shards; a sharded one raised
    // while its first shard runs (both in shards of 1,000 as before 1.1.0, and in shards of 500); one taken over by another worker mid-run; a batched one, and a batched one
    // cancelled while its batch runs; one stopped by its quorum; one whose circuit opened and was probed; one with
    // adaptive concurrency; one whose straggler was hedged; one recorded with the SDK's own workflow tracing
    // interceptors; a service's concurrency limiter, recorded before its leases were granted in one place; a
    // service's window limiter granting ahead.
    expect(files.sort()).toEqual(
      [
        'fanout-adaptive',
        'fanout-batched',
        'fanout-batched-cancelled',
        'fanout-breaker',
        'fanout-cancelled',
        'fanout-child',
        'fanout-control',
        'fanout-fail-fast',
        'fanout-failures',
        'fanout-hedged',
        'fanout-quorum',
        'fanout-restarted',
        'fanout-seed',
        'fanout-sharded',
        'fanout-sharded-control',
        'fanout-sharded-control-spread',
        'fanout-sharded-spread',
        'fanout-traced',
        'invoke-retry',
        'parallel',
        'service-limiter',
        'service-limiter-in-order',
        'window-limiter',
      ]
        .map((n) => `${n}.json`)
        .sort(),
    );
  });

  it.each(files)('%s', async (file) => {
    const history = JSON.parse(fs.readFileSync(path.join(HISTORIES, file), 'utf8'));
    await expect(Worker.runReplayHistory({ workflowBundle, dataConverter }, history, file)).resolves.toBeUndefined();
  });

  // Among them, recorded without tracing, updates completed in the same workflow task as other commands (a fan-out
  // paused by an update before the worker first saw it; a service's concurrency limiter, leases given as others
  // expire): the interceptors hand the workflow the update's own promise, so its completion keeps its place.
  it.each(files)('%s, with the workflow tracing interceptors', async (file) => {
    const history = JSON.parse(fs.readFileSync(path.join(HISTORIES, file), 'utf8'));
    await expect(
      Worker.runReplayHistory({ workflowBundle: tracedBundle, dataConverter, sinks }, history, file),
    ).resolves.toBeUndefined();
  });

  it('detects a change that breaks determinism (the check has teeth)', async () => {
    const history = JSON.parse(fs.readFileSync(path.join(HISTORIES, 'fanout-seed.json'), 'utf8'));
    // Pretend the first target activity had been scheduled for another service.
    const scheduled = history.events.find(
      (e: { activityTaskScheduledEventAttributes?: unknown }) => e.activityTaskScheduledEventAttributes,
    );
    scheduled.activityTaskScheduledEventAttributes.activityType.name = 'some.other.service';
    scheduled.activityTaskScheduledEventAttributes.activityId = 'target/some-other';
    await expect(Worker.runReplayHistory({ workflowBundle }, history, 'tampered')).rejects.toThrow(/[Nn]ondetermin/);
  });
});
