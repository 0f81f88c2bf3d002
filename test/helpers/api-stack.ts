/**
 * The whole HTTP path for API tests: the official dev server (real time), a real fan-out worker
 * with the credit-scoring services and the delivery callbacks, the FanoutClient, and the API listening on a
 * loopback port, called with real HTTP requests.
 */
import type { FastifyInstance } from 'fastify';
import { buildApi } from '../../src/api/server';
import { FanoutClient } from '../../src/client';
import { AddressPolicy } from '../../src/delivery/address-policy';
import type { DeliveryDeps } from '../../src/delivery/callbacks';
import { createDeliveryCallbacks, createDeliveryDeps } from '../../src/delivery/callbacks';
import { Registry } from '../../src/registry';
import { creditScoringServices, logCallback } from '../../src/services';
import { createFanoutWorker } from '../../src/worker/create-worker';
import { fanoutBundle } from './fanout-env';
import type { FanoutTestEnv } from './temporal-env';
import { createDevServerEnv } from './temporal-env';

export interface ApiStackOptions {
  apiKeys: string[];
  webhookSecret: string;
  /** Where delivery.amqp publishes; only needed by tests that use it. */
  amqpUrl?: string;
  bodyLimit?: number;
  /** DELIVERY_MAX_BYTES: final payloads over it are delivered as a summary linking to this API's records. */
  maxPayloadBytes?: number;
  /** Between keep-alive comments on event streams. */
  eventsKeepAliveMs?: number;
  /** Streamed targets: the NDJSON body limit, the folder file items may be in, the environment S3 items are read with. */
  ndjsonLimit?: number;
  itemsFileRoot?: string;
  itemsEnv?: NodeJS.ProcessEnv;
}

export interface ApiStack {
  url: string;
  apiKey: string;
  env: FanoutTestEnv;
  /** The client the API serves with, for tests that compare it with the HTTP side. */
  fanoutClient: FanoutClient;
  close(): Promise<void>;
}

export async function startApiStack(options: ApiStackOptions): Promise<ApiStack> {
  const env = await createDevServerEnv();
  let delivery: DeliveryDeps | undefined;
  let app: FastifyInstance | undefined;
  try {
    delivery = createDeliveryDeps({
      webhookSecrets: { default: [options.webhookSecret] },
      // The receiver runs on loopback: allow-listed here, as an operator would for an internal receiver.
      webhookAllowList: ['127.0.0.1'],
      webhookTimeoutMs: 2_000,
      amqpConnections: options.amqpUrl ? { default: options.amqpUrl } : {},
    });
    const registry = new Registry(creditScoringServices({ latencyMs: { crm: 20, erp: 60, scoring: 40 } }), [
      logCallback({ write: () => undefined }),
      ...createDeliveryCallbacks(delivery),
    ]);
    const worker = await createFanoutWorker({
      store: env.store,
      connection: env.nativeConnection,
      registry,
      workflowBundle: await fanoutBundle(),
    });
    const running = worker.run();
    const fanoutClient = new FanoutClient({ client: env.client, registry, store: env.store });
    app = await buildApi({
      fanoutClient,
      eventsKeepAliveMs: options.eventsKeepAliveMs,
      apiKeys: options.apiKeys,
      bodyLimit: options.bodyLimit,
      ndjsonLimit: options.ndjsonLimit,
      itemsFileRoot: options.itemsFileRoot,
      itemsEnv: options.itemsEnv,
      addressPolicy: new AddressPolicy(['127.0.0.1']),
    });
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    // FANOUT_RESULTS_URL is this API, known once it listens; the callbacks read the limits at each delivery.
    if (options.maxPayloadBytes) delivery.limits = { maxPayloadBytes: options.maxPayloadBytes, resultsUrl: url };
    const api = app;
    const amqp = delivery;
    return {
      url,
      apiKey: options.apiKeys[0],
      env,
      fanoutClient,
      async close() {
        await api.close();
        worker.shutdown();
        await running;
        await amqp.amqp.close();
        await env.teardown();
      },
    };
  } catch (error) {
    await app?.close();
    await delivery?.amqp.close();
    await env.teardown();
    throw error;
  }
}
