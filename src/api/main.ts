/**
 * `npm run api`: the HTTP API. With TEMPORAL_ADDRESS set it is a client of that Temporal (workers run
 * elsewhere, e.g. the docker-compose worker service). Without it, it starts the official Temporal dev server (Web UI
 * on, state kept under .data/) and a worker in this process, so one command gives a working API for development.
 *
 * Env: API_KEYS (comma-separated; without TEMPORAL_ADDRESS a random key is made up and printed if unset),
 * API_HOST (127.0.0.1), API_PORT (8080), API_BODY_LIMIT (bytes, 1 MiB), API_MAX_CONNECTIONS (1024),
 * TEMPORAL_* (see worker/connection.ts),
 * and the delivery settings of delivery/config.ts.
 */
import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { FanoutClient } from '../client';
import { AddressPolicy, createDeliveryCallbacks, createDeliveryDeps, deliveryConfigFromEnv } from '../delivery';
import { EXAMPLE_WORKFLOWS_PATH, exampleRegistry } from '../services';
import { temporalSettings } from '../worker/connection';
import { apiKeysFromEnv } from './auth';
import type { LocalTemporal } from '../local/local-temporal';
import { startLocalTemporal } from '../local/local-temporal';
import { buildApi, DEFAULT_BODY_LIMIT, DEFAULT_MAX_CONNECTIONS } from './server';

async function main(): Promise<void> {
  const delivery = deliveryConfigFromEnv();
  const deliveryDeps = createDeliveryDeps(delivery);
  // The same registry as the worker: the API refuses unknown names and invalid target requests up front.
  const registry = exampleRegistry({ extraCallbacks: createDeliveryCallbacks(deliveryDeps) });

  let client: Client;
  let local: LocalTemporal | undefined;
  let apiKeys = apiKeysFromEnv();
  if (process.env.TEMPORAL_ADDRESS) {
    if (apiKeys.length === 0) throw new Error('Set API_KEYS: the API never runs without authentication');
    const settings = temporalSettings();
    client = new Client({
      connection: await Connection.connect(settings.connectionOptions),
      namespace: settings.namespace,
    });
    console.log(`Temporal: ${settings.address} (namespace ${settings.namespace})`);
  } else {
    local = await startLocalTemporal(registry, { workflowsPath: EXAMPLE_WORKFLOWS_PATH });
    client = local.client;
    console.log(`Temporal: dev server at ${local.address}, with a fan-out worker in this process`);
    console.log(`Temporal Web UI: ${local.uiUrl}`);
    if (apiKeys.length === 0) {
      apiKeys = [`dev_${randomBytes(18).toString('base64url')}`];
      console.log(`API_KEYS is not set; this run's API key: ${apiKeys[0]}`);
    }
  }

  const app = await buildApi({
    fanoutClient: new FanoutClient({ client, registry }),
    apiKeys,
    bodyLimit: Number(process.env.API_BODY_LIMIT ?? DEFAULT_BODY_LIMIT),
    maxConnections: Number(process.env.API_MAX_CONNECTIONS ?? DEFAULT_MAX_CONNECTIONS),
    addressPolicy: new AddressPolicy(delivery.webhookAllowList),
    logger: true,
  });
  const address = await app.listen({
    host: process.env.API_HOST ?? '127.0.0.1',
    port: Number(process.env.API_PORT ?? 8080),
  });
  console.log(`Fan-out API on ${address} (OpenAPI: ${address}/v1/openapi.json)`);

  const shutdown = async () => {
    await app.close();
    await deliveryDeps.amqp.close();
    await local?.shutdown();
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown());
  process.once('SIGTERM', () => void shutdown());
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
