/**
 * An example workflow service (workflow code: it runs in the workflow sandbox): a long report (hours), the kind of
 * target that should be a child workflow.
 */
import { ApplicationFailure, sleep, workflowInfo } from '@temporalio/workflow';

export interface CreditReportRequest {
  user_id: string;
  hours?: number;
  /** Its first this many attempts fail (a reporting database that is busy), for retries of child-workflow targets. */
  busyAttempts?: number;
}

export async function buildCreditReport(
  request: CreditReportRequest,
): Promise<{ user_id: string; report: string; took_hours: number }> {
  const hours = request.hours ?? 2;
  await sleep(`${hours} hours`); // stands for a slow reporting database
  const { attempt } = workflowInfo();
  if (attempt <= (request.busyAttempts ?? 0))
    throw ApplicationFailure.create({ message: `reporting database busy (attempt ${attempt})`, type: 'Busy' });
  return { user_id: request.user_id, report: `credit report for ${request.user_id}`, took_hours: hours };
}
