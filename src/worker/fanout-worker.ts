/**
 * What `createFanoutWorker` returns: the worker on the fan-out's task queue and, for each service limited to so
 * many targets a second, a worker on that service's own task queue (whose dispatch rate the server limits), run and
 * stopped as one, with the SDK Worker's `run`, `runUntil` and `shutdown`.
 */
import type { State, Worker } from '@temporalio/worker';

export class FanoutWorker {
  constructor(
    /** The worker on the fan-out's task queue: workflows, and every activity but a rate-limited service's. */
    readonly worker: Worker,
    /** One per rate-limited service, on its own task queue. */
    readonly serviceWorkers: readonly Worker[] = [],
  ) {}

  private get all(): Worker[] {
    return [this.worker, ...this.serviceWorkers];
  }

  /** Runs every worker until `shutdown` (or one fails: the others are then shut down, and its error thrown). */
  async run(): Promise<void> {
    const runs = this.all.map((worker) => worker.run());
    try {
      await Promise.all(runs);
    } catch (error) {
      this.shutdown();
      await Promise.allSettled(runs);
      throw error;
    }
  }

  /** Runs every worker until `fnOrPromise` settles, then shuts them down; resolves with its result. */
  async runUntil<R>(fnOrPromise: Promise<R> | (() => Promise<R>)): Promise<R> {
    const others = this.serviceWorkers.map((worker) => worker.run());
    try {
      return await this.worker.runUntil(fnOrPromise);
    } finally {
      for (const worker of this.serviceWorkers) if (worker.getState() === 'RUNNING') worker.shutdown();
      const ended = await Promise.allSettled(others);
      const failed = ended.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
      if (failed) throw failed.reason;
    }
  }

  /** Stops every worker polling; `run` resolves once what they run has finished. */
  shutdown(): void {
    for (const worker of this.all) if (worker.getState() === 'RUNNING') worker.shutdown();
  }

  /** The fan-out task queue's worker's state. */
  getState(): State {
    return this.worker.getState();
  }
}
