/** Workflows for the server benchmark: bare workflows, and fan-outs of no-op activities. */
import { proxyActivities } from '@temporalio/workflow';
import type * as activities from './server-activities';

const { noop } = proxyActivities<typeof activities>({ startToCloseTimeout: '1 minute' });

export async function bare(): Promise<number> {
  return 1;
}

export async function activityBatch(count: number): Promise<number> {
  await Promise.all(Array.from({ length: count }, () => noop()));
  return count;
}
