/**
 * `temporal-fanout api`: the HTTP API serving the app's registry. Against the Temporal the environment configures
 * (as the Temporal CLI resolves it: variables, profiles, the config file), with workers running elsewhere; where
 * nothing is configured at all, it starts the official Temporal dev server (Web UI on, state under .data/) and a
 * worker in this process, so one command gives a working API for development.
 *
 * Env: API_KEYS (comma-separated; in development a key is made up and printed if unset), API_HOST (127.0.0.1),
 * API_PORT (8080), API_BODY_LIMIT (bytes, 1 MiB), API_NDJSON_LIMIT (bytes of an NDJSON start's body, 256 MiB),
 * API_MAX_CONNECTIONS (1024), API_ITEMS_FILE_ROOT (the folder `items` may name file:// URLs in; unset: none), the
 * FANOUT_METRICS_ADDRESS (host:port of a Prometheus /metrics endpoint; unset: none), the delivery settings of
 * delivery/config.ts; `items` in S3 are read as the S3 store reads (S3_ENDPOINT, AWS_*).
 * Traces when OTEL_* configure an OTLP endpoint (tracing/config.ts): a start continues the caller's `traceparent`.
 */
import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { FanoutClient } from '../client';
import { AddressPolicy, deliveryConfigFromEnv } from '../delivery';
import type { LocalTemporal } from '../local/local-temporal';
import { startLocalTemporal } from '../local/local-temporal';
import type { Registry } from '../registry';
import { temporalConfigured, temporalSettings } from '../worker/connection';
import { DEFAULT_BODY_LIMIT, DEFAULT_MAX_CONNECTIONS, DEFAULT_NDJSON_LIMIT, apiKeysFromEnv, buildApi } from '../api';
import { serveApiMetrics } from '../api/metrics';
import { startTracing, tracingConfigured } from '../tracing';
import { withDelivery } from './registry-module';

export interface ApiCommandOptions {
  registry: Registry;
  /** For the in-process worker of development: the app's workflows module. */
  workflowsPath?: string;
  taskQueue?: string;
}

export async function runApi(options: ApiCommandOptions): Promise<void> {
  // The worker's registry: the API refuses unknown names, invalid requests and undeliverable callbacks up front.
  const { registry, delivery } = withDelivery(options.registry);
  const tracing = tracingConfigured() ? startTracing({ serviceName: 'temporal-fanout-api' }) : undefined;

  let client: Client;
  let local: LocalTemporal | undefined;
  let apiKeys = apiKeysFromEnv();
  if (temporalConfigured()) {
    if (apiKeys.length === 0) throw new Error('Set API_KEYS: the API never runs without authentication');
    const settings = temporalSettings();
    client = new Client({
      connection: await Connection.connect(settings.connectionOptions),
      namespace: settings.namespace,
      interceptors: tracing?.client.interceptors,
    });
    console.log(`Temporal: ${settings.address} (namespace ${settings.namespace})`);
  } else {
    local = await startLocalTemporal(registry, {
      workflowsPath: options.workflowsPath,
      taskQueue: options.taskQueue,
      tracing,
    });
    client = local.client;
    console.log(
      `Temporal: nothing configured, so a dev server at ${local.address} with a fan-out worker in this process`,
    );
    console.log(`Temporal Web UI: ${local.uiUrl}`);
    if (apiKeys.length === 0) {
      apiKeys = [`dev_${randomBytes(18).toString('base64url')}`];
      console.log(`API_KEYS is not set; this run's API key: ${apiKeys[0]}`);
    }
  }

  const app = await buildApi({
    fanoutClient: new FanoutClient({
      client,
      registry,
      ...(options.taskQueue ? { taskQueue: options.taskQueue } : {}),
    }),
    apiKeys,
    bodyLimit: Number(process.env.API_BODY_LIMIT ?? DEFAULT_BODY_LIMIT),
    ndjsonLimit: Number(process.env.API_NDJSON_LIMIT ?? DEFAULT_NDJSON_LIMIT),
    ...(process.env.API_ITEMS_FILE_ROOT ? { itemsFileRoot: process.env.API_ITEMS_FILE_ROOT } : {}),
    maxConnections: Number(process.env.API_MAX_CONNECTIONS ?? DEFAULT_MAX_CONNECTIONS),
    addressPolicy: new AddressPolicy(deliveryConfigFromEnv().webhookAllowList),
    logger: true,
  });
  // Before it listens: the metrics count every answer from the first.
  const metricsAddress = process.env.FANOUT_METRICS_ADDRESS?.trim();
  const metrics = metricsAddress ? await serveApiMetrics(app, metricsAddress) : undefined;
  if (metrics) console.log(`API metrics on ${metrics.url}`);
  const address = await app.listen({
    host: process.env.API_HOST ?? '127.0.0.1',
    port: Number(process.env.API_PORT ?? 8080),
  });
  console.log(`Fan-out API on ${address} (OpenAPI: ${address}/v1/openapi.json)`);

  const shutdown = async () => {
    await app.close();
    await metrics?.close();
    await delivery.amqp.close();
    await local?.shutdown();
    await tracing?.shutdown();
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown());
  process.once('SIGTERM', () => void shutdown());
}
