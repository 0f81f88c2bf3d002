/**
 * End to end on the official dev server: the app's own NativeConnection and client, one worker serving the app's
 * activities and workflows beside the fan-out, one fan-out with a child-workflow target. Prints a JSON summary.
 */
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { FanoutClient } from 'temporal-fanout';
import { createDevServerEnv } from 'temporal-fanout/testing';
import { createFanoutWorker } from 'temporal-fanout/worker';
import { greet } from './activities';
import { registry } from './services';

async function main(): Promise<void> {
  const env = await createDevServerEnv();
  try {
    const connection = await NativeConnection.connect({ address: env.address });
    const worker = await createFanoutWorker({
      connection,
      registry,
      store: env.store,
      taskQueue: 'consumer-app',
      workflowsPath: path.join(__dirname, 'workflows.js'),
      activities: { greet },
    });
    const client = new Client({ connection: await Connection.connect({ address: env.address }) });
    const fanout = new FanoutClient({ client, registry, store: env.store, taskQueue: 'consumer-app' });
    const summary = await worker.runUntil(async () => {
      const cid = await fanout.invoke(
        {
          'inventory.stock': { sku: 'abc-1' },
          'pricing.quote': { sku: 'abc-1' },
          'reports.summary': { delayMs: 100 },
        },
        ['audit.final'],
        { onTarget: ['audit.target'], source: 'consumer-app' },
      );
      const result = await fanout.result(cid); // typed by the CID: no type argument
      const greeting = await client.workflow.execute('greeting', {
        taskQueue: 'consumer-app',
        workflowId: `greeting-${cid}`,
        args: ['fan-out'],
      });
      return {
        cid,
        state: result.state,
        ok: Object.values(result.payload.data).filter((record) => record.ok).length,
        report: result.payload.data['reports.summary'].response,
        greeting,
      };
    });
    console.log(JSON.stringify(summary));
    await connection.close();
  } finally {
    await env.teardown();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
