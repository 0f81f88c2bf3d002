/**
 * Task queues and long polls. A task is a thunk that turns into a poll response, or null when it went stale
 * (its execution closed or moved on), in which case the poller gets the next one. Cancelled polls never get a task.
 */
import type * as grpc from '@grpc/grpc-js';

export interface PollContext {
  identity?: string;
  requestId?: string;
}

export type TaskThunk = (poll: PollContext) => unknown | null;

interface Poller {
  context: PollContext;
  resolve: (response: unknown | null) => void;
  call?: grpc.ServerUnaryCall<unknown, unknown>;
  done: boolean;
}

class Queue {
  readonly tasks: TaskThunk[] = [];
  head = 0;
  readonly pollers: Poller[] = [];

  takeTask(): TaskThunk | undefined {
    if (this.head >= this.tasks.length) return undefined;
    const task = this.tasks[this.head++];
    if (this.head > 1024 && this.head * 2 > this.tasks.length) {
      this.tasks.splice(0, this.head);
      this.head = 0;
    }
    return task;
  }
}

export class Matching {
  private readonly queues = new Map<string, Queue>();

  constructor(private readonly pollTimeoutMs = 60_000) {}

  private queue(kind: 'workflow' | 'activity', namespace: string, name: string): Queue {
    const key = `${kind}\u0000${namespace}\u0000${name}`;
    let queue = this.queues.get(key);
    if (!queue) {
      queue = new Queue();
      this.queues.set(key, queue);
    }
    return queue;
  }

  /** Adds a task; hands it to a waiting poller at once if there is one. */
  add(kind: 'workflow' | 'activity', namespace: string, name: string, task: TaskThunk): void {
    const queue = this.queue(kind, namespace, name);
    while (queue.pollers.length > 0) {
      const poller = queue.pollers.shift()!;
      if (poller.done || poller.call?.cancelled) continue;
      const response = task(poller.context);
      if (response === null) return; // stale already
      poller.done = true;
      poller.resolve(response);
      return;
    }
    queue.tasks.push(task);
  }

  /** Long-polls a queue; resolves null after the poll timeout (an empty response means "no task"). */
  poll(
    kind: 'workflow' | 'activity',
    namespace: string,
    name: string,
    context: PollContext,
    call?: grpc.ServerUnaryCall<unknown, unknown>,
    timeoutMs = this.pollTimeoutMs,
  ): Promise<unknown | null> {
    const queue = this.queue(kind, namespace, name);
    for (let task = queue.takeTask(); task; task = queue.takeTask()) {
      const response = task(context);
      if (response !== null) return Promise.resolve(response);
    }
    return new Promise((resolve) => {
      const poller: Poller = { context, resolve, call, done: false };
      const finish = () => {
        if (poller.done) return;
        poller.done = true;
        const i = queue.pollers.indexOf(poller);
        if (i >= 0) queue.pollers.splice(i, 1);
        resolve(null);
      };
      const timer = setTimeout(finish, timeoutMs);
      timer.unref?.();
      poller.resolve = (response) => {
        clearTimeout(timer);
        resolve(response);
      };
      call?.on('cancelled', () => {
        clearTimeout(timer);
        finish();
      });
      queue.pollers.push(poller);
    });
  }

  /** Answers every waiting poll on every queue with "no task" (worker shutdown, server stop). */
  releaseAll(): void {
    for (const queue of this.queues.values()) {
      for (const poller of queue.pollers.splice(0)) {
        if (!poller.done) {
          poller.done = true;
          poller.resolve(null);
        }
      }
    }
  }
}
