/**
 * The production worker: serves the example services, the logging callback and the built-in delivery callbacks
 * against the Temporal named by TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE / TEMPORAL_API_KEY (see connection.ts), with
 * the workflows from WORKFLOW_BUNDLE when set (see workflow-bundle.ts).
 *   node dist/src/worker/main.js
 */
import { NativeConnection } from '@temporalio/worker';
import { FANOUT_TASK_QUEUE } from '../contracts';
import { createDeliveryCallbacks, createDeliveryDeps, deliveryConfigFromEnv } from '../delivery';
import { exampleRegistry } from '../services';
import { temporalSettings } from './connection';
import { createFanoutWorker } from './create-worker';
import { workflowBundleFromEnv } from './workflow-bundle';

async function main(): Promise<void> {
  const settings = temporalSettings();
  const connection = await NativeConnection.connect(settings.connectionOptions);
  // The built-in delivery callbacks (delivery.webhook, delivery.amqp) take their secrets and brokers from the
  // environment: WEBHOOK_SECRET[_<NAME>], WEBHOOK_ALLOWLIST, WEBHOOK_TIMEOUT_MS, AMQP_URL[_<NAME>].
  const delivery = createDeliveryCallbacks(createDeliveryDeps(deliveryConfigFromEnv()));
  const worker = await createFanoutWorker({
    connection,
    namespace: settings.namespace,
    registry: exampleRegistry({ extraCallbacks: delivery }),
    // WORKFLOW_BUNDLE: the bundle built ahead of time (the Docker image has one); else bundled here at start.
    workflowBundle: workflowBundleFromEnv(),
  });
  console.log(`fan-out worker polling ${FANOUT_TASK_QUEUE} on ${settings.address} (namespace ${settings.namespace})`);
  await worker.run();
  await connection.close();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
