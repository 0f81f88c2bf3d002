/**
 * Replays the saved histories (test/histories, recorded by `npm run histories:save`) against today's workflow
 * code: a change that would break running fan-outs on deploy fails here first.
 */
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { Worker } from '@temporalio/worker';
import { LocalBlobStore } from '../src/store/local-store';
import { fanoutDataConverter } from '../src/store/payload-driver';
import { fanoutBundle } from './helpers/fanout-env';

const HISTORIES = path.join(__dirname, 'histories');
const files = fs.readdirSync(HISTORIES).filter((f) => f.endsWith('.json'));
// Payloads a history refers to in the result store (a wide fan-out's input), kept beside the histories.
const dataConverter = fanoutDataConverter(new LocalBlobStore(path.join(HISTORIES, 'store')));

let workflowBundle: WorkflowBundleWithSourceMap;

beforeAll(async () => {
  workflowBundle = await fanoutBundle();
}, 120_000);

describe('saved histories replay without nondeterminism', () => {
  it('has histories of every pattern to replay', () => {
    // Each pattern as recorded before targets were cancelled with TRY_CANCEL, and after (`-try-cancel`); and a
    // fan-out whose server and worker were killed mid-run, its catalog check split over two workflow tasks; a
    // fan-out stopped by its failure policy, with a deadline; fan-outs keeping their counts in the memo as they run;
    // a fan-out paused before its first target and raised past the targets it had left to start; a sharded fan-out
    // whose concurrency is spread over its shards.
    const patterns = ['fanout-cancelled', 'fanout-child', 'fanout-failures', 'fanout-seed', 'invoke-retry', 'parallel'];
    expect(files.sort()).toEqual(
      [
        ...patterns,
        ...patterns.map((name) => `${name}-try-cancel`),
        'fanout-restarted',
        'fanout-fail-fast-policies',
        'fanout-seed-counts-memo',
        'fanout-cancelled-counts-memo',
        'fanout-control-runner-patches',
        'fanout-sharded-spread',
      ]
        .map((n) => `${n}.json`)
        .sort(),
    );
  });

  it.each(files)('%s', async (file) => {
    const history = JSON.parse(fs.readFileSync(path.join(HISTORIES, file), 'utf8'));
    await expect(Worker.runReplayHistory({ workflowBundle, dataConverter }, history, file)).resolves.toBeUndefined();
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
