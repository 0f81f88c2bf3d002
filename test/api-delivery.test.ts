/**
 * Delivery end to end: a fan-out POSTed to the HTTP API with a delivery destination reaches a real Standard
 * Webhooks receiver (signature verified, one accepted message per id, retries included) and a real RabbitMQ
 * reply queue, with exactly the seed's payloads.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { FinalPayload, TargetRecord } from '../src/contracts';
import { FanoutResult, InvokeRetryResult, RecordsPage } from '../src/contracts';
import { deliveryMessageId } from '../src/delivery/message-id';
import type { ApiStack } from './helpers/api-stack';
import { startApiStack } from './helpers/api-stack';
import { rabbitMqOnce, ReplyQueue } from './helpers/rabbitmq';
import { WebhookReceiver } from './helpers/webhook-receiver';

const SECRET = `whsec_${randomBytes(24).toString('base64')}`;
const SEED_TARGETS = {
  'crm.get-user': { user_id: '123' },
  'erp.get-user-information': { USER_ID: '123' },
  'scoring.get-score': { uid: '123' },
};

/** Final payloads over this many bytes are delivered as a summary (the seed's payloads are far smaller). */
const SUMMARY_OVER = 8 * 1024;

let stack: ApiStack;
let receiver: WebhookReceiver;
let replies: ReplyQueue;

async function post(path: string, body: unknown): Promise<string> {
  const response = await fetch(stack.url + path, {
    method: 'POST',
    headers: { authorization: `Bearer ${stack.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(response.status).toBe(202);
  return ((await response.json()) as { cid: string }).cid;
}

async function result(cid: string): Promise<unknown> {
  for (const deadline = Date.now() + 30_000; Date.now() < deadline;) {
    const response = await fetch(`${stack.url}/v1/fanouts/${cid}/result`, {
      headers: { authorization: `Bearer ${stack.apiKey}` },
    });
    if (response.status === 200) return response.json();
    expect(response.status).toBe(409);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no result for ${cid}`);
}

const broker = rabbitMqOnce();
let queue: Promise<ReplyQueue> | undefined;

/** The AMQP tests start with this: without RabbitMQ they fail with the reason (the webhook tests still run). */
function replyQueue(): Promise<ReplyQueue> {
  queue ??= broker().then(async (url) => (replies = await ReplyQueue.bind(url, '/exchange', 'zato.responses')));
  return queue;
}

beforeAll(async () => {
  const amqpUrl = await broker().catch(() => 'amqp://guest:guest@127.0.0.1:1'); // the AMQP tests report it
  receiver = await WebhookReceiver.start(SECRET);
  await replyQueue().catch(() => undefined);
  stack = await startApiStack({
    apiKeys: ['delivery-test-key'],
    webhookSecret: SECRET,
    amqpUrl,
    maxPayloadBytes: SUMMARY_OVER,
  });
}, 180_000);

afterAll(async () => {
  await stack?.close();
  await replies?.close();
  await receiver?.close();
});

afterEach(() => {
  receiver.accepted.length = 0;
  receiver.attempts.length = 0;
  if (replies) replies.messages.length = 0;
});

describe('webhook delivery through the API', () => {
  it('delivers each target record and the final payload, signed, one id per target and phase', async () => {
    const cid = await post('/v1/fanouts', {
      targets: SEED_TARGETS,
      onTarget: [{ name: 'delivery.webhook', options: { url: receiver.url('/on-target') } }],
      delivery: { webhook: { url: receiver.url('/final') } },
      source: 'credit-scoring',
    });
    const { payload, callbacks } = FanoutResult.parse(await result(cid));
    expect(callbacks.every((c) => c.ok)).toBe(true);

    // The final callback runs after all on-target ones were started, but they race: wait for all four.
    const accepted = await receiver.waitForAccepted(4);
    const final = accepted.find((w) => w.path === '/final');
    expect(final?.payload).toEqual(payload);
    expect(final?.id).toBe(deliveryMessageId({ cid, channel: 'FANOUT_ON_FINAL', callback: 'delivery.webhook' }));
    expect((final?.payload as FinalPayload).on_final).toEqual(['delivery.webhook']);

    const perTarget = accepted.filter((w) => w.path === '/on-target');
    expect(perTarget.map((w) => (w.payload as TargetRecord).target).sort()).toEqual(Object.keys(SEED_TARGETS).sort());
    for (const webhook of perTarget) {
      const record = webhook.payload as TargetRecord;
      expect(record).toEqual(payload.data[record.target]);
      expect(webhook.id).toBe(
        deliveryMessageId({
          cid,
          channel: 'FANOUT_ON_TARGET',
          target: record.target,
          callback: 'delivery.webhook',
        }),
      );
    }
    expect(receiver.attempts.every((a) => a.outcome === 'accepted')).toBe(true);
  });

  it('delivers a final payload over the size limit as a signed summary whose link pages through every record', async () => {
    const targets = Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`user-${i}`, { user_id: `u${i}` }]));
    const cid = await post('/v1/fanouts', {
      targets,
      targetOptions: Object.fromEntries(Object.keys(targets).map((name) => [name, { service: 'crm.get-user' }])),
      delivery: { webhook: { url: receiver.url('/final') } },
      source: 'wide-report',
    });
    const { payload, callbacks } = FanoutResult.parse(await result(cid));
    expect(callbacks).toEqual([expect.objectContaining({ callback: 'delivery.webhook', ok: true })]);
    const whole = Buffer.byteLength(JSON.stringify(payload));
    expect(whole).toBeGreaterThan(SUMMARY_OVER);

    const [webhook] = await receiver.waitForAccepted(1); // signature verified by the receiver
    expect(webhook.payloadKind).toBe('summary');
    expect(Buffer.byteLength(webhook.body)).toBeLessThan(1024);
    const recordsUrl = `${stack.url}/v1/fanouts/${cid}/records`;
    expect(webhook.payload).toEqual({
      source: 'wide-report',
      req_ts_utc: payload.req_ts_utc,
      on_target: '',
      on_final: ['delivery.webhook'],
      summary: { cid, targets: 60, ok: 60, failed: 0, payload_bytes: whole, records_url: recordsUrl },
    });

    // What a receiver does next: follow the link, a page at a time, and gets every record of the payload.
    const fetched: Record<string, TargetRecord> = {};
    let cursor: string | undefined;
    do {
      const response = await fetch(`${recordsUrl}?limit=25${cursor ? `&cursor=${cursor}` : ''}`, {
        headers: { authorization: `Bearer ${stack.apiKey}` },
      });
      expect(response.status).toBe(200);
      const page = RecordsPage.parse(await response.json());
      for (const { record } of page.records) fetched[record.target] = record;
      cursor = page.cursor;
    } while (cursor);
    expect(fetched).toEqual(payload.data);
  });

  it('retries a failing receiver with the same webhook-id until it accepts: exactly one message', async () => {
    receiver.failNext(2, 503);
    const cid = await post('/v1/fanouts', { targets: SEED_TARGETS, delivery: { webhook: { url: receiver.url() } } });
    const { payload, callbacks } = FanoutResult.parse(await result(cid));

    expect(callbacks).toEqual([{ callback: 'delivery.webhook', channel: 'FANOUT_ON_FINAL', ok: true }]);
    const id = deliveryMessageId({ cid, channel: 'FANOUT_ON_FINAL', callback: 'delivery.webhook' });
    expect(receiver.attempts.map((a) => [a.id, a.outcome])).toEqual([
      [id, 'failed'],
      [id, 'failed'],
      [id, 'accepted'],
    ]);
    expect(receiver.accepted.map((w) => w.payload)).toEqual([payload]);
  });

  it('gives up at once when the receiver rejects the request (4xx), recording the failed callback', async () => {
    receiver.failNext(1, 400);
    const cid = await post('/v1/fanouts', { targets: SEED_TARGETS, delivery: { webhook: { url: receiver.url() } } });
    const { callbacks } = FanoutResult.parse(await result(cid));

    expect(callbacks).toHaveLength(1);
    expect(callbacks[0]).toMatchObject({ callback: 'delivery.webhook', ok: false });
    expect(callbacks[0].error).toContain('returned 400');
    expect(receiver.attempts).toHaveLength(1);
    expect(receiver.accepted).toEqual([]);
  });
});

describe('AMQP delivery through the API', () => {
  it('publishes the final payload to the seed’s exchange and routing key, correlated by CID', async () => {
    await replyQueue();
    const cid = await post('/v1/fanouts', {
      targets: SEED_TARGETS,
      delivery: { amqp: { exchange: '/exchange', routingKey: 'zato.responses' } },
      source: 'credit-scoring',
    });
    const { payload } = FanoutResult.parse(await result(cid));

    const [message] = await (await replyQueue()).waitFor(1);
    expect(JSON.parse(message.content.toString('utf8'))).toEqual(payload);
    expect(message.fields).toMatchObject({ exchange: '/exchange', routingKey: 'zato.responses' });
    expect(message.properties).toMatchObject({
      correlationId: cid,
      messageId: deliveryMessageId({ cid, channel: 'FANOUT_ON_FINAL', callback: 'delivery.amqp' }),
      deliveryMode: 2,
      contentType: 'application/json',
      headers: { 'fanout-channel': 'FANOUT_ON_FINAL' },
    });
  });

  it('publishes the invoke/retry outcome with its channel', async () => {
    await replyQueue();
    const cid = await post('/v1/invoke-retry', {
      target: 'scoring.get-score',
      request: { uid: '42' },
      attempts: 2,
      interval: '1s',
      delivery: { amqp: { exchange: '/exchange', routingKey: 'zato.responses' } },
    });
    const { record } = InvokeRetryResult.parse(await result(cid));

    const [message] = await (await replyQueue()).waitFor(1);
    expect(JSON.parse(message.content.toString('utf8'))).toEqual(record);
    expect(message.properties).toMatchObject({
      correlationId: cid,
      headers: { 'fanout-channel': 'INVOKE_RETRY_ON_SUCCESS', 'fanout-target': 'scoring.get-score' },
    });
  });
});
