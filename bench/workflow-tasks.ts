/**
 * A fan-out's executions, and what one execution's history says of its workflow tasks: how many completed, the
 * slowest (and the events it carried), how many timed out and how many the server force-closed; and those counts
 * summed over several executions. Shared by the benchmarks.
 */
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { planShards, shardWorkflowId } from '../src/workflows/sharding';

/**
 * The fan-out's own workflow ID and, when it is sharded, its shards', as planned for this width, concurrency and
 * batch width (`maxTargets` when every target is batched, else 1), as the workflow plans them.
 */
export function fanoutExecutionIds(
  cid: string,
  width: number,
  onTarget: number,
  maxConcurrency: number,
  batchWidth = 1,
): string[] {
  const { shardCount } = planShards(width, onTarget, maxConcurrency, batchWidth);
  return shardCount > 1 ? [cid, ...Array.from({ length: shardCount }, (_, i) => shardWorkflowId(cid, i))] : [cid];
}

/** Workflow tasks of one history: how many, the longest from started to completed, how many timed out. */
export function workflowTaskStats(history: temporal.api.history.v1.IHistory) {
  const stats = { count: 0, slowestMs: 0, slowestAt: 0, timedOut: 0, forceClosed: 0, slowestBatch: '' };
  const startedAt = new Map<string, number>();
  let batch = new Map<string, number>();
  const millis = (e: temporal.api.history.v1.IHistoryEvent) =>
    Number(e.eventTime!.seconds) * 1000 + Math.round((e.eventTime!.nanos ?? 0) / 1e6);
  for (const e of history.events ?? []) {
    if (e.workflowTaskStartedEventAttributes) startedAt.set(String(e.eventId), millis(e));
    const completed = e.workflowTaskCompletedEventAttributes;
    if (completed) {
      stats.count++;
      const started = startedAt.get(String(completed.startedEventId));
      if (started !== undefined && millis(e) - started > stats.slowestMs)
        Object.assign(stats, {
          slowestMs: millis(e) - started,
          slowestAt: Number(e.eventId),
          slowestBatch: [...batch].map(([k, v]) => `${k}×${v}`).join(' '),
        });
      batch = new Map();
    } else {
      const kind = String(e.eventType);
      batch.set(kind, (batch.get(kind) ?? 0) + 1);
    }
    if (e.workflowTaskTimedOutEventAttributes) stats.timedOut++;
    // Closed by the server because over 100 events were buffered while the worker held the task: the worker's work
    // is thrown away, and the run replayed (history.maximumBufferedEventsBatch).
    if (
      e.workflowTaskFailedEventAttributes?.cause ===
      temporal.api.enums.v1.WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_FORCE_CLOSE_COMMAND
    )
      stats.forceClosed++;
  }
  return stats;
}

/** Events and workflow tasks (completed, timed out, force-closed) summed over these executions' histories. */
export async function historyTotals(client: Client, workflowIds: string[]) {
  const totals = { events: 0, workflowTasks: 0, timedOut: 0, forceClosed: 0 };
  for (const id of workflowIds) {
    const history = await client.workflow.getHandle(id).fetchHistory();
    const stats = workflowTaskStats(history);
    totals.events += history.events?.length ?? 0;
    totals.workflowTasks += stats.count;
    totals.timedOut += stats.timedOut;
    totals.forceClosed += stats.forceClosed;
  }
  return totals;
}
