/**
 * Tells the executions running batches which of their targets have settled, while the batches run, so that a
 * fan-out's progress and Web UI count targets as they settle rather than when their batch ends. One signal carries
 * every batch of one execution that this worker runs, at most every PROGRESS_INTERVAL_MS (every
 * LATE_PROGRESS_INTERVAL_MS once an execution has had LATE_AFTER_SIGNALS in a row, to spare a long run's history):
 * each signal is an event in that history. A batch that ends before its turn sends nothing: its result says it all.
 * Best effort: a signal that fails is dropped, the batch's result is what counts.
 */
import { AsyncResource } from 'node:async_hooks';
import type { Client } from '@temporalio/client';
import type { BatchProgress } from '../contracts';
import { BATCH_PROGRESS_SIGNAL } from '../constants';

export const PROGRESS_INTERVAL_MS = 2000;
export const LATE_PROGRESS_INTERVAL_MS = 10_000;
export const LATE_AFTER_SIGNALS = 60;

interface Execution {
  workflowId: string;
  runId: string;
}

interface Mailbox {
  client: Client;
  execution: Execution;
  pending: Map<number, string>;
  timer?: NodeJS.Timeout;
  sent: number;
}

export class BatchProgressReporter {
  private readonly mailboxes = new Map<string, Mailbox>();
  /**
   * Created outside any activity: its timers and signals run in no activity's context, so a batch cancelled (and
   * its client calls aborted with it) does not take another batch's progress down.
   */
  private readonly scope = new AsyncResource('temporal-fanout.batch-progress');

  /** The batch's targets settled so far (`.` for the others). */
  update(client: Client | undefined, execution: Execution | undefined, progress: BatchProgress): void {
    if (!client || !execution) return;
    const key = `${execution.workflowId}\u0000${execution.runId}`;
    let mailbox = this.mailboxes.get(key);
    if (!mailbox) {
      mailbox = { client, execution, pending: new Map(), sent: 0 };
      this.mailboxes.set(key, mailbox);
    }
    mailbox.pending.set(progress.batch, progress.states);
    if (!mailbox.timer) {
      const interval = mailbox.sent >= LATE_AFTER_SIGNALS ? LATE_PROGRESS_INTERVAL_MS : PROGRESS_INTERVAL_MS;
      const box = mailbox;
      mailbox.timer = this.scope.runInAsyncScope(() => setTimeout(() => this.flush(key, box), interval));
    }
  }

  /** The batch has ended: its result carries its states, so nothing more is sent for it. */
  ended(execution: Execution | undefined, batch: number): void {
    if (!execution) return;
    const mailbox = this.mailboxes.get(`${execution.workflowId}\u0000${execution.runId}`);
    mailbox?.pending.delete(batch);
  }

  private flush(key: string, mailbox: Mailbox): void {
    mailbox.timer = undefined;
    const batches = [...mailbox.pending].map(([batch, states]): BatchProgress => ({ batch, states }));
    mailbox.pending.clear();
    if (!batches.length) {
      // Nothing since the last signal: forget the execution until one of its batches reports again.
      if (this.mailboxes.get(key) === mailbox) this.mailboxes.delete(key);
      return;
    }
    mailbox.sent++;
    const { workflowId, runId } = mailbox.execution;
    mailbox.client.workflow
      .getHandle(workflowId, runId)
      .signal(BATCH_PROGRESS_SIGNAL, batches)
      .catch(() => undefined); // the execution may have ended, or the server be busy: progress is best effort
  }
}
