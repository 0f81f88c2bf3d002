import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AddressPolicy } from '../src/delivery/address-policy';
import { AmqpPublisher } from '../src/delivery/amqp';
import type { CallbackContext } from '../src/contracts';
import type { DeliveryDeps } from '../src/delivery/callbacks';
import { deliveryMessageId } from '../src/delivery/message-id';
import { deliveryContext, deliveryHandler, failureOf, quietActivityEnv } from './helpers/activity-env';
import { rabbitMqOnce, ReplyQueue } from './helpers/rabbitmq';

// The seed's callback: exchange '/exchange', routing key 'zato.responses'.
const SEED = { exchange: '/exchange', routingKey: 'zato.responses' };
const TARGET_PAYLOAD = {
  source: 'fanout1.my-service',
  target: 'crm.get-user',
  response: { user_id: 123, name: 'Jane' },
  req_ts_utc: '2025-01-19 19:55:45',
  resp_ts_utc: '2025-01-19 19:55:46',
  ok: true,
  exception: null,
  cid: 'cid-amqp-1',
};

let url: string;
let publisher: AmqpPublisher;
let replies: ReplyQueue;

function deps(p: AmqpPublisher = publisher): DeliveryDeps {
  return { webhook: { secrets: {}, policy: new AddressPolicy(), timeoutMs: 1_000 }, amqp: p };
}

function handlerOf(d: DeliveryDeps) {
  return deliveryHandler(d, 'delivery.amqp');
}

function ctx(options: unknown, extra: Partial<CallbackContext> = {}): CallbackContext {
  return deliveryContext('delivery.amqp', 'cid-amqp-1', options, extra);
}

async function publish(context: CallbackContext, payload: unknown = TARGET_PAYLOAD, d = deps()) {
  return quietActivityEnv().run(handlerOf(d), payload, context);
}

const broker = rabbitMqOnce();
let ready: Promise<void> | undefined;

/** Each test starts with this: without RabbitMQ every test fails with the reason. */
function setUp(): Promise<void> {
  ready ??= (async () => {
    url = await broker();
    publisher = new AmqpPublisher({ connections: { default: url, responses: url } });
    replies = await ReplyQueue.bind(url, SEED.exchange, SEED.routingKey);
  })();
  return ready;
}

beforeAll(async () => {
  await setUp().catch(() => undefined); // start the broker early; the tests report any failure
}, 180_000);

afterAll(async () => {
  await replies?.close();
  await publisher?.close();
});

describe('delivery.amqp', () => {
  it('publishes the payload to the exchange and routing key, persistent, with correlation_id and message_id', async () => {
    await setUp();
    const context = ctx({ ...SEED, connection: 'responses' }, { channel: 'FANOUT_ON_TARGET', target: 'crm.get-user' });
    const result = await publish(context);

    const [message] = await replies.waitFor(1);
    const messageId = deliveryMessageId({
      cid: 'cid-amqp-1',
      channel: 'FANOUT_ON_TARGET',
      target: 'crm.get-user',
      callback: 'delivery.amqp',
    });
    expect(result).toEqual({ messageId });
    expect(JSON.parse(message.content.toString('utf8'))).toEqual(TARGET_PAYLOAD);
    expect(message.content.toString('utf8')).toBe(JSON.stringify(TARGET_PAYLOAD));
    expect(message.fields).toMatchObject({ exchange: SEED.exchange, routingKey: SEED.routingKey, redelivered: false });
    expect(message.properties).toMatchObject({
      deliveryMode: 2,
      correlationId: 'cid-amqp-1',
      messageId,
      contentType: 'application/json',
      contentEncoding: 'utf-8',
      headers: { 'fanout-channel': 'FANOUT_ON_TARGET', 'fanout-target': 'crm.get-user' },
    });
    expect(Math.abs(message.properties.timestamp - Date.now() / 1000)).toBeLessThan(5);
  });

  it('gives the final delivery its own message id and no target header', async () => {
    await setUp();
    replies.messages.length = 0;
    await publish(ctx(SEED), { source: 'fanout1.my-service', data: {} });

    const [message] = await replies.waitFor(1);
    expect(message.properties.messageId).toBe(
      deliveryMessageId({ cid: 'cid-amqp-1', channel: 'FANOUT_ON_FINAL', callback: 'delivery.amqp' }),
    );
    expect(message.properties.headers).toEqual({ 'fanout-channel': 'FANOUT_ON_FINAL' });
  });

  it('publishes a final payload over the size limit as a summary, marked in its headers', async () => {
    await setUp();
    replies.messages.length = 0;
    const final = {
      source: 's',
      req_ts_utc: 't',
      on_target: '',
      on_final: ['delivery.amqp'],
      data: { a: TARGET_PAYLOAD },
    };
    await publish(ctx(SEED), final, { ...deps(), limits: { maxPayloadBytes: 64 } });

    const [message] = await replies.waitFor(1);
    expect(message.properties.headers).toEqual({ 'fanout-channel': 'FANOUT_ON_FINAL', 'fanout-payload': 'summary' });
    expect(JSON.parse(message.content.toString('utf8'))).toEqual({
      source: 's',
      req_ts_utc: 't',
      on_target: '',
      on_final: ['delivery.amqp'],
      summary: {
        cid: 'cid-amqp-1',
        targets: 1,
        ok: 1,
        failed: 0,
        payload_bytes: Buffer.byteLength(JSON.stringify(final)),
        records_url: '/v1/fanouts/cid-amqp-1/records',
      },
    });
  });

  it('fails retryably while no queue takes the message, and delivers once one is bound', async () => {
    await setUp();
    const routingKey = `unbound.${Date.now()}`;
    const failure = await failureOf(publish(ctx({ exchange: SEED.exchange, routingKey })));
    expect(failure).toMatchObject({ type: 'AmqpUnroutable', nonRetryable: false });

    const late = await ReplyQueue.bind(url, SEED.exchange, routingKey);
    try {
      await publish(ctx({ exchange: SEED.exchange, routingKey }));
      const [message] = await late.waitFor(1);
      expect(JSON.parse(message.content.toString())).toEqual(TARGET_PAYLOAD);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(late.messages).toHaveLength(1);
    } finally {
      await late.close();
    }
  });

  it('fails retryably on a missing exchange and keeps the connection usable', async () => {
    await setUp();
    const failure = await failureOf(publish(ctx({ exchange: `missing.${Date.now()}`, routingKey: 'x' })));
    expect(failure.type).toBe('AmqpPublishError');
    expect(failure.nonRetryable).toBe(false);
    expect(failure.message).toContain('NOT_FOUND');

    replies.messages.length = 0;
    await publish(ctx(SEED, { cid: 'after-missing-exchange' }));
    const [message] = await replies.waitFor(1);
    expect(message.properties.correlationId).toBe('after-missing-exchange');
  });

  it('fails retryably when the broker is unreachable or drops the connection, and recovers on retry', async () => {
    await setUp();
    const broker = new URL(url);
    const proxy = await TcpProxy.start(broker.hostname, Number(broker.port));
    const viaProxy = new AmqpPublisher({
      connections: { default: url.replace(`:${broker.port}`, `:${proxy.port}`) },
      timeoutMs: 2_000,
    });
    try {
      replies.messages.length = 0;
      await publish(ctx(SEED, { cid: 'via-proxy-1' }), TARGET_PAYLOAD, deps(viaProxy));

      proxy.dropAll();
      proxy.refuse = true;
      const failure = await failureOf(publish(ctx(SEED, { cid: 'via-proxy-2' }), TARGET_PAYLOAD, deps(viaProxy)));
      expect(failure).toMatchObject({ type: 'AmqpPublishError', nonRetryable: false });

      proxy.refuse = false;
      await publish(ctx(SEED, { cid: 'via-proxy-2' }), TARGET_PAYLOAD, deps(viaProxy));
      const messages = await replies.waitFor(2);
      expect(messages.map((m) => m.properties.correlationId)).toEqual(['via-proxy-1', 'via-proxy-2']);
    } finally {
      await viaProxy.close();
      await proxy.close();
    }
  });

  it('rejects bad options and unknown connections without retrying', async () => {
    await setUp();
    for (const options of [undefined, {}, { exchange: 'x' }, { ...SEED, extra: true }]) {
      expect(await failureOf(publish(ctx(options)))).toMatchObject({
        type: 'InvalidDeliveryOptions',
        nonRetryable: true,
      });
    }
    const failure = await failureOf(publish(ctx({ ...SEED, connection: 'nope' })));
    expect(failure).toMatchObject({ type: 'AmqpConfig', nonRetryable: true });
  });
});

/** A loopback TCP proxy to the broker that can drop its connections and refuse new ones. */
class TcpProxy {
  refuse = false;
  private readonly sockets = new Set<net.Socket>();

  private constructor(private readonly server: net.Server) {}

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  static async start(host: string, port: number): Promise<TcpProxy> {
    const server = net.createServer();
    const proxy = new TcpProxy(server);
    server.on('connection', (client) => {
      if (proxy.refuse) return client.destroy();
      const upstream = net.connect(port, host);
      for (const socket of [client, upstream]) {
        proxy.sockets.add(socket);
        socket.on('error', () => undefined).on('close', () => proxy.sockets.delete(socket));
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  dropAll(): void {
    for (const socket of this.sockets) socket.destroy();
  }

  async close(): Promise<void> {
    this.dropAll();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
