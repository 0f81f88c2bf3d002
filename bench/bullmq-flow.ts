/**
 * The BullMQ contender: a FlowProducer adds one parent job with N children on a private Redis; a worker runs the
 * children (the same 50 ms target) with concurrency min(N, 1,000); the parent reads its children's values.
 */
import type { ConnectionOptions } from 'bullmq';
import { FlowProducer, QueueEvents, Worker } from 'bullmq';
import { target, windowFor } from './workload';

const CHILD_QUEUE = 'bench-children';
const PARENT_QUEUE = 'bench-parent';

export interface BullmqFlow {
  run(width: number): Promise<void>;
  close(): Promise<void>;
}

export async function startBullmqFlow(port: number): Promise<BullmqFlow> {
  const connection: ConnectionOptions = { host: '127.0.0.1', port };
  const children = new Worker<{ n: number }, number>(CHILD_QUEUE, async (job) => target(job.data.n), {
    connection,
    concurrency: 1,
  });
  const parents = new Worker(PARENT_QUEUE, async (job) => Object.keys(await job.getChildrenValues()).length, {
    connection,
  });
  const flows = new FlowProducer({ connection });
  const parentEvents = new QueueEvents(PARENT_QUEUE, { connection });
  await Promise.all([children.waitUntilReady(), parents.waitUntilReady(), parentEvents.waitUntilReady()]);
  let runs = 0;
  return {
    async run(width: number): Promise<void> {
      children.concurrency = windowFor(width);
      const flow = await flows.add({
        name: `parent-${runs++}`,
        queueName: PARENT_QUEUE,
        children: Array.from({ length: width }, (_, n) => ({ name: 'target', queueName: CHILD_QUEUE, data: { n } })),
      });
      const count: unknown = await flow.job.waitUntilFinished(parentEvents);
      if (count !== width) throw new Error(`BullMQ ${width}: the parent read ${String(count)} children's values`);
    },
    async close(): Promise<void> {
      await Promise.all([children.close(), parents.close(), flows.close(), parentEvents.close()]);
    },
  };
}
