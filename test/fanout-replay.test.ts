/**
 * Replays the saved histories (test/histories, recorded by `npm run histories:save`) against today's workflow
 * code: a change that would break running fan-outs on deploy fails here first.
 */
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { Worker } from '@temporalio/worker';
import { fanoutBundle } from './helpers/fanout-env';

const HISTORIES = path.join(__dirname, 'histories');
const files = fs.readdirSync(HISTORIES).filter((f) => f.endsWith('.json'));

let workflowBundle: WorkflowBundleWithSourceMap;

beforeAll(async () => {
  workflowBundle = await fanoutBundle();
}, 120_000);

describe('saved histories replay without nondeterminism', () => {
  it('has histories of every pattern to replay', () => {
    expect(files.sort()).toEqual([
      'fanout-cancelled.json',
      'fanout-child.json',
      'fanout-failures.json',
      'fanout-seed.json',
      'invoke-retry.json',
      'parallel.json',
    ]);
  });

  it.each(files)('%s', async (file) => {
    const history = JSON.parse(fs.readFileSync(path.join(HISTORIES, file), 'utf8'));
    await expect(Worker.runReplayHistory({ workflowBundle }, history, file)).resolves.toBeUndefined();
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
