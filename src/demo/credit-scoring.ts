/**
 * `npm start`: the seed's credit-scoring fan-out, end to end. Starts the official Temporal dev server (Web UI on,
 * state kept under .data/) and a worker (or, where a Temporal is configured as the Temporal CLI resolves it —
 * TEMPORAL_ADDRESS, a profile, the config file — uses that one, with a worker in this process),
 * asks for a user's credit data, prints the CID at once, each target callback's record as it fires, the final
 * callback's payload and the fan-out's page in the Web UI. `npm start -- --keep-open` keeps server and UI up
 * until Ctrl-C, for a person to look.
 */
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { FanoutClient } from '../client';
import { startLocalTemporal } from '../local/local-temporal';
import { localDataDir } from '../local/paths';
import { EXAMPLE_WORKFLOWS_PATH, exampleRegistry } from '../services';
import { temporalConfigured, temporalSettings } from '../worker/connection';
import { createFanoutWorker } from '../worker/create-worker';

const args = process.argv.slice(2);
const keepOpen = args.includes('--keep-open');
const userId = args.find((arg) => !arg.startsWith('--')) ?? 'user-1234';

function print(line: string, payload: unknown): void {
  console.log(`\n${line}\n${JSON.stringify(payload, null, 2)}`);
}

async function connect(
  registry: ReturnType<typeof exampleRegistry>,
): Promise<{ client: Client; where: string; pageOf?: (cid: string) => string; close: () => Promise<void> }> {
  if (!temporalConfigured()) {
    const local = await startLocalTemporal(registry, { workflowsPath: EXAMPLE_WORKFLOWS_PATH });
    return {
      client: local.client,
      where: `Temporal dev server at ${local.address} (Web UI ${local.uiUrl}, data in ${localDataDir()})`,
      pageOf: local.workflowUrl,
      close: () => local.shutdown(),
    };
  }
  const settings = temporalSettings();
  const nativeConnection = await NativeConnection.connect(settings.connectionOptions);
  const connection = await Connection.connect(settings.connectionOptions);
  const worker = await createFanoutWorker({
    connection: nativeConnection,
    namespace: settings.namespace,
    registry,
    workflowsPath: EXAMPLE_WORKFLOWS_PATH,
  });
  const running = worker.run();
  return {
    client: new Client({ connection, namespace: settings.namespace }),
    where: `Temporal at ${settings.address}`,
    close: async () => {
      worker.shutdown();
      await running;
      await connection.close();
      await nativeConnection.close();
    },
  };
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') }); // the demo's own lines are the point, not the worker's
  const registry = exampleRegistry({ write: print });
  const temporal = await connect(registry);
  console.log(`fan-out / fan-in demo on the ${temporal.where}`);
  const fanout = new FanoutClient({ client: temporal.client, registry });

  const cid = await fanout.invoke(
    {
      'crm.get-user': { user_id: userId },
      'erp.get-user-information': { USER_ID: userId },
      'scoring.get-score': { uid: userId },
    },
    ['log.input'],
    { onTarget: ['log.input'], source: 'demo.get-user-credit-scoring' },
  );
  console.log(`\nCID: ${cid}   (returned at once; the targets run in the background)`);

  const result = await fanout.result(cid);
  const failed = result.callbacks.filter((c) => !c.ok);
  console.log(
    `\nfan-out ${cid} ${result.state}: ${Object.keys(result.payload.data).length} targets, ${result.callbacks.length} callbacks, ${failed.length} failed`,
  );
  if (temporal.pageOf) console.log(`In the Temporal Web UI: ${temporal.pageOf(cid)}`);
  if (keepOpen) {
    console.log('Server, UI and worker stay up until Ctrl-C.');
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
  }
  await temporal.close();
  process.exit(failed.length ? 1 : 0);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
