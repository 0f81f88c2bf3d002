/**
 * `npm run demo:http`: the seed's credit-scoring request over the HTTP API. Starts the Temporal dev server, a worker,
 * the API, a loopback webhook receiver and (if available) RabbitMQ; POSTs the request, prints the 202 and the CID,
 * then the signed webhook and the AMQP message as they arrive.
 */
import { randomBytes } from 'node:crypto';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import type { ConsumeMessage } from 'amqplib';
import { startLocalTemporal } from '../local/local-temporal';
import { buildApi } from '../api/server';
import { FanoutClient } from '../client';
import { AddressPolicy, createDeliveryCallbacks, createDeliveryDeps } from '../delivery';
import { EXAMPLE_WORKFLOWS_PATH, exampleRegistry } from '../services';
import { findRabbitMq, listenForReplies } from './amqp-listener';
import type { VerifiedWebhook } from './webhook-receiver';
import { startWebhookReceiver } from './webhook-receiver';

const API_KEY = `demo_${randomBytes(12).toString('base64url')}`;
const SECRET = `whsec_${randomBytes(24).toString('base64')}`;
const SEED = { exchange: '/exchange', routingKey: 'zato.responses' };

const json = (value: unknown) => JSON.stringify(value, null, 2);

function printWebhook({ headers, payload }: VerifiedWebhook): void {
  console.log('\n── webhook received, signature verified with standardwebhooks ──');
  for (const [name, value] of Object.entries(headers)) console.log(`${name}: ${value}`);
  console.log(json(payload));
}

function printAmqp({ fields, properties, content }: ConsumeMessage): void {
  console.log(`\n── AMQP message on exchange "${fields.exchange}", routing key "${fields.routingKey}" ──`);
  const { correlationId, messageId, deliveryMode, contentType, headers } = properties;
  console.log(
    json({
      correlation_id: correlationId,
      message_id: messageId,
      delivery_mode: deliveryMode,
      content_type: contentType,
      headers,
    }),
  );
  // The same final payload as the webhook's, so shown on one line.
  console.log(content.toString('utf8'));
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  let pending = 1;
  let done: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const arrived = () => --pending === 0 && done();

  const receiver = await startWebhookReceiver(SECRET, (webhook) => (printWebhook(webhook), arrived()));
  const amqpUrl = await findRabbitMq();
  const stopListening = amqpUrl
    ? await listenForReplies(amqpUrl, SEED.exchange, SEED.routingKey, (message) => (printAmqp(message), arrived()))
    : undefined;
  if (amqpUrl) pending++;
  else console.log('RabbitMQ is not available (scripts/rabbitmq.sh start): showing the webhook only');

  const delivery = createDeliveryDeps({
    webhookSecrets: { default: [SECRET] },
    webhookAllowList: ['127.0.0.1'], // the demo receiver is on loopback
    webhookTimeoutMs: 5_000,
    amqpConnections: amqpUrl ? { default: amqpUrl } : {},
  });
  const registry = exampleRegistry({ write: () => undefined, extraCallbacks: createDeliveryCallbacks(delivery) });
  const temporal = await startLocalTemporal(registry, { workflowsPath: EXAMPLE_WORKFLOWS_PATH });
  const api = await buildApi({
    fanoutClient: new FanoutClient({ client: temporal.client, registry }),
    apiKeys: [API_KEY],
    addressPolicy: new AddressPolicy(['127.0.0.1']),
  });
  const base = await api.listen({ host: '127.0.0.1', port: 0 });
  console.log(
    `Temporal dev server at ${temporal.address} (Web UI ${temporal.uiUrl}), API at ${base}, webhook receiver at ${receiver.url}`,
  );

  const request = {
    source: 'demo.get-user-credit-scoring',
    targets: {
      'crm.get-user': { user_id: '123' },
      'erp.get-user-information': { USER_ID: '123' },
      'scoring.get-score': { uid: '123' },
    },
    finalCallbacks: amqpUrl ? [{ name: 'delivery.amqp', options: SEED }] : [],
    delivery: { webhook: { url: receiver.url } },
  };
  console.log(`\n$ curl -i -X POST ${base}/v1/fanouts \\`);
  console.log(`    -H 'Authorization: Bearer ${API_KEY}' -H 'Content-Type: application/json' \\`);
  console.log(`    -d '${JSON.stringify(request)}'`);
  const response = await fetch(`${base}/v1/fanouts`, {
    method: 'POST',
    headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify(request),
  });
  console.log(`HTTP/1.1 ${response.status} ${response.statusText}`);
  console.log(`location: ${response.headers.get('location')}`);
  const body = await response.text();
  console.log(`\n${body}`);
  if (response.status !== 202) throw new Error('the API did not accept the request');
  console.log(`\nCID ${JSON.parse(body).cid}: the caller is free; the targets run in the background …`);

  const timeout = setTimeout(() => {
    console.error('\nno delivery within 60 s');
    process.exit(1);
  }, 60_000);
  await finished;
  clearTimeout(timeout);

  await api.close();
  await temporal.shutdown();
  await delivery.amqp.close();
  await stopListening?.();
  await receiver.close();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
