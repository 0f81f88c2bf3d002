/** A workflow of the app's, served as a child-workflow target: a report that takes a while. */
import { sleep } from '@temporalio/workflow';

export async function summaryReport(request: { delayMs: number }): Promise<{ report: string }> {
  await sleep(request.delayMs);
  return { report: `summary after ${request.delayMs} ms` };
}
