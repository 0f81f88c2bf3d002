/** Starts one fan-out on the Temporal at TEMPORAL_ADDRESS (served by `temporal-fanout worker`) and prints its result. */
import { Client, Connection } from '@temporalio/client';
import { FanoutClient } from 'temporal-fanout';
import { registry } from './services';

async function main(): Promise<void> {
  const connection = await Connection.connect({ address: process.env.TEMPORAL_ADDRESS });
  const fanout = new FanoutClient({ client: new Client({ connection }), registry });
  const cid = await fanout.invoke(
    { 'inventory.stock': { sku: 'xyz' }, 'reports.summary': { delayMs: 50 } },
    ['audit.final'],
    { onTarget: ['audit.target'] },
  );
  const result = await fanout.result(cid);
  console.log(JSON.stringify({ cid, state: result.state, targets: result.targets }));
  await connection.close();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
