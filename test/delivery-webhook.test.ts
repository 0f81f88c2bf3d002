import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { Webhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AddressPolicy } from '../src/delivery/address-policy';
import type { CallbackContext } from '../src/contracts';
import type { DeliveryDeps } from '../src/delivery/callbacks';
import { AmqpPublisher } from '../src/delivery/amqp';
import { deliveryMessageId } from '../src/delivery/message-id';
import { deliveryContext, deliveryHandler, failureOf, quietActivityEnv } from './helpers/activity-env';
import { WebhookReceiver } from './helpers/webhook-receiver';

const newSecret = () => `whsec_${randomBytes(24).toString('base64')}`;
const SECRET = newSecret();
const NEXT_SECRET = newSecret();

// The seed's on-final payload shape.
const FINAL_PAYLOAD = {
  source: 'fanout1.my-service',
  req_ts_utc: '2025-01-19 19:55:46',
  on_target: '',
  on_final: ['delivery.webhook'],
  data: {
    'my.service1': {
      source: 'fanout1.my-service',
      target: 'my.service1',
      response: 'My response',
      req_ts_utc: '2025-01-19 19:55:45',
      resp_ts_utc: '2025-01-19 19:55:46',
      ok: true,
      exception: null,
      cid: '63e7c3a2ba616badecb125ce',
    },
  },
};

let receiver: WebhookReceiver;

function deps(overrides: Partial<DeliveryDeps['webhook']> = {}): DeliveryDeps {
  return {
    webhook: {
      secrets: { default: [SECRET], rotating: [NEXT_SECRET, SECRET] },
      policy: new AddressPolicy(['127.0.0.1']),
      timeoutMs: 2_000,
      ...overrides,
    },
    amqp: new AmqpPublisher({ connections: {} }),
  };
}

function handlerOf(d: DeliveryDeps) {
  return deliveryHandler(d, 'delivery.webhook');
}

function ctx(options: unknown, extra: Partial<CallbackContext> = {}): CallbackContext {
  return deliveryContext('delivery.webhook', 'cid-webhook-1', options, extra);
}

async function deliver(d: DeliveryDeps, context: CallbackContext, payload: unknown = FINAL_PAYLOAD, attempt = 1) {
  return quietActivityEnv(attempt).run(handlerOf(d), payload, context);
}

beforeAll(async () => {
  receiver = await WebhookReceiver.start(SECRET);
});
afterAll(async () => {
  await receiver.close();
});
afterEach(() => {
  receiver.accepted.length = 0;
  receiver.attempts.length = 0;
});

describe('delivery.webhook', () => {
  it('POSTs the payload as JSON, signed per Standard Webhooks, with an id derived from CID, phase and target', async () => {
    const result = await deliver(deps(), ctx({ url: receiver.url() }));

    const [webhook] = await receiver.waitForAccepted(1);
    const expectedId = deliveryMessageId({
      cid: 'cid-webhook-1',
      channel: 'FANOUT_ON_FINAL',
      callback: 'delivery.webhook',
    });
    expect(result).toEqual({ webhookId: expectedId, status: 204 });
    expect(webhook.id).toBe(expectedId);
    expect(webhook.payload).toEqual(FINAL_PAYLOAD);
    expect(webhook.body).toBe(JSON.stringify(FINAL_PAYLOAD));
    expect(Math.abs(Number(webhook.timestamp) - Date.now() / 1000)).toBeLessThan(5);
    expect(webhook.signature).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
  });

  it('sends a final payload over the size limit as a signed summary with a link to its records', async () => {
    const limited = { ...deps(), limits: { maxPayloadBytes: 100, resultsUrl: 'https://fanout.example.com/' } };
    await deliver(limited, ctx({ url: receiver.url() }));

    const [webhook] = await receiver.waitForAccepted(1);
    expect(webhook.payloadKind).toBe('summary');
    const { data, ...envelope } = FINAL_PAYLOAD;
    expect(webhook.payload).toEqual({
      ...envelope,
      summary: {
        cid: 'cid-webhook-1',
        targets: Object.keys(data).length,
        ok: 1,
        failed: 0,
        payload_bytes: Buffer.byteLength(JSON.stringify(FINAL_PAYLOAD)),
        records_url: 'https://fanout.example.com/v1/fanouts/cid-webhook-1/records',
      },
    });
  });

  it('sends payloads within the limit, and every on-target record, whole', async () => {
    const limit = Buffer.byteLength(JSON.stringify(FINAL_PAYLOAD));
    await deliver({ ...deps(), limits: { maxPayloadBytes: limit } }, ctx({ url: receiver.url('/final') }));
    const record = FINAL_PAYLOAD.data['my.service1'];
    await deliver(
      { ...deps(), limits: { maxPayloadBytes: 10 } },
      ctx({ url: receiver.url('/on-target') }, { channel: 'FANOUT_ON_TARGET', target: 'my.service1' }),
      record,
    );

    const accepted = await receiver.waitForAccepted(2);
    expect(accepted.find((w) => w.path === '/final')).toMatchObject({ payload: FINAL_PAYLOAD });
    expect(accepted.find((w) => w.path === '/on-target')).toMatchObject({ payload: record });
    expect(accepted.every((w) => w.payloadKind === undefined)).toBe(true);
  });

  it('signs with every secret of the set, so receivers on the old or the new secret both verify', async () => {
    await deliver(deps(), ctx({ url: receiver.url(), secret: 'rotating' }));

    const [webhook] = await receiver.waitForAccepted(1);
    expect(webhook.signature.split(' ')).toHaveLength(2);
    const headers = {
      'webhook-id': webhook.id,
      'webhook-timestamp': webhook.timestamp,
      'webhook-signature': webhook.signature,
    };
    expect(new Webhook(NEXT_SECRET).verify(webhook.body, headers)).toEqual(FINAL_PAYLOAD);
    expect(new Webhook(SECRET).verify(webhook.body, headers)).toEqual(FINAL_PAYLOAD);
  });

  it('gives each redrive its own ids, and leaves the first run’s as they were', () => {
    const key = { cid: 'c', channel: 'FANOUT_ON_FINAL', callback: 'delivery.webhook' };
    const first = deliveryMessageId(key);
    expect(deliveryMessageId({ ...key, redrive: 0 })).toBe(first);
    const ids = [first, deliveryMessageId({ ...key, redrive: 1 }), deliveryMessageId({ ...key, redrive: 2 })];
    expect(new Set(ids).size).toBe(3);
    expect(deliveryMessageId({ ...key, redrive: 1 })).toBe(ids[1]);
  });

  it('gives each target and phase its own id, and the same id on every retry', () => {
    const base = { cid: 'c1', channel: 'FANOUT_ON_TARGET' };
    const a = deliveryMessageId({ ...base, target: 'crm.get-user' });
    expect(deliveryMessageId({ ...base, target: 'crm.get-user' })).toBe(a);
    expect(deliveryMessageId({ ...base, target: 'erp.get-user-information' })).not.toBe(a);
    expect(deliveryMessageId({ cid: 'c1', channel: 'FANOUT_ON_FINAL' })).not.toBe(deliveryMessageId(base));
    expect(deliveryMessageId({ cid: 'c2', channel: 'FANOUT_ON_FINAL' })).not.toBe(
      deliveryMessageId({ cid: 'c1', channel: 'FANOUT_ON_FINAL' }),
    );
    expect(a).toMatch(/^msg_[A-Za-z0-9_-]{32}$/);
    // Two entries of the same callback for the same phase and target are two messages; another callback too.
    const key = { ...base, target: 'crm.get-user', callback: 'delivery.webhook' };
    expect(deliveryMessageId({ ...key, occurrence: 2 })).not.toBe(deliveryMessageId(key));
    expect(deliveryMessageId({ ...key, occurrence: 1 })).toBe(deliveryMessageId(key));
    expect(deliveryMessageId({ ...key, callback: 'delivery.amqp' })).not.toBe(deliveryMessageId(key));
  });

  it('two delivery.webhook entries for the same phase and target get distinct webhook-ids', async () => {
    const context = ctx({ url: receiver.url() }, { target: 'crm.get-user', channel: 'FANOUT_ON_TARGET' });
    const run = (activityId: string) =>
      new MockActivityEnvironment({ activityId }, { logger: new DefaultLogger('ERROR') }).run(
        handlerOf(deps()),
        FINAL_PAYLOAD,
        context,
      );
    // The activity IDs the workflow gives the first and the second entry (CallbackIds).
    await run('on-target/crm.get-user/delivery.webhook');
    await run('on-target/crm.get-user/delivery.webhook#2');
    expect(receiver.accepted).toHaveLength(2);
    const ids = receiver.attempts.map((a) => a.id);
    expect(new Set(ids).size).toBe(2);
    expect(receiver.attempts.every((a) => a.outcome === 'accepted')).toBe(true);
  });

  it.each([503, 500, 408, 429])(
    'retries on %i with the same webhook-id; exactly one message is accepted',
    async (status) => {
      receiver.failNext(2, status);
      const context = ctx({ url: receiver.url() }, { target: 'crm.get-user', channel: 'FANOUT_ON_TARGET' });

      for (const attempt of [1, 2]) {
        const failure = await failureOf(deliver(deps(), context, FINAL_PAYLOAD, attempt));
        expect(failure.nonRetryable).toBe(false);
        expect(failure.type).toBe('WebhookHttpError');
        expect(failure.details).toEqual([{ status }]);
      }
      await deliver(deps(), context, FINAL_PAYLOAD, 3);
      // A retry after an unacknowledged success (e.g. the worker died before reporting it) is deduplicated.
      await deliver(deps(), context, FINAL_PAYLOAD, 4);

      const id = deliveryMessageId({
        cid: 'cid-webhook-1',
        channel: 'FANOUT_ON_TARGET',
        target: 'crm.get-user',
        callback: 'delivery.webhook',
      });
      expect(receiver.attempts).toEqual([
        { id, path: '/hooks', outcome: 'failed', status },
        { id, path: '/hooks', outcome: 'failed', status },
        { id, path: '/hooks', outcome: 'accepted', status: 204 },
        { id, path: '/hooks', outcome: 'duplicate', status: 200 },
      ]);
      expect(receiver.accepted).toHaveLength(1);
    },
  );

  it('passes Retry-After on to Temporal as the next retry delay', async () => {
    receiver.failNext(1, 429, { 'retry-after': '7' });
    const failure = await failureOf(deliver(deps(), ctx({ url: receiver.url() })));
    expect(failure.nonRetryable).toBe(false);
    expect(failure.nextRetryDelay).toBe(7_000);
  });

  it.each([400, 401, 404, 410, 422])('gives up at once on %i (non-retryable)', async (status) => {
    receiver.failNext(1, status);
    const failure = await failureOf(deliver(deps(), ctx({ url: receiver.url() })));
    expect(failure.nonRetryable).toBe(true);
    expect(failure.type).toBe('WebhookRejected');
    expect(failure.message).toContain(`returned ${status}`);
  });

  it('does not follow redirects', async () => {
    receiver.failNext(1, 302, { location: receiver.url('/elsewhere') });
    const failure = await failureOf(deliver(deps(), ctx({ url: receiver.url() })));
    expect(failure.nonRetryable).toBe(true);
    expect(receiver.attempts.map((a) => a.path)).toEqual(['/hooks']);
  });

  it('times out a receiver that does not answer, as a retryable failure', async () => {
    receiver.hangNext(1);
    const started = Date.now();
    const failure = await failureOf(deliver(deps({ timeoutMs: 300 }), ctx({ url: receiver.url() })));
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(failure.nonRetryable).toBe(false);
    expect(failure.type).toBe('WebhookNetworkError');
    expect(failure.message).toContain('Timed out after 300 ms');
  });

  it('retries when the receiver cannot be reached', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise((resolve) => closed.close(resolve));

    const failure = await failureOf(deliver(deps(), ctx({ url: `http://127.0.0.1:${port}/hooks` })));
    expect(failure.nonRetryable).toBe(false);
    expect(failure.type).toBe('WebhookNetworkError');
    expect(failure.message).toContain('ECONNREFUSED');
  });

  it('rejects bad options and unknown secrets without retrying', async () => {
    for (const options of [
      undefined,
      {},
      { url: 'ftp://example.com/x' },
      { url: 'not a url' },
      { url: receiver.url(), x: 1 },
    ]) {
      const failure = await failureOf(deliver(deps(), ctx(options)));
      expect(failure.nonRetryable).toBe(true);
      expect(failure.type).toBe('InvalidDeliveryOptions');
    }
    const failure = await failureOf(deliver(deps(), ctx({ url: receiver.url(), secret: 'nope' })));
    expect(failure).toMatchObject({ nonRetryable: true, type: 'WebhookConfig' });
    expect(receiver.attempts).toEqual([]);
  });

  it('aborts the request when the activity is cancelled', async () => {
    receiver.hangNext(1);
    const started = Date.now();
    const env = quietActivityEnv();
    const running = env.run(handlerOf(deps({ timeoutMs: 10_000 })), {}, ctx({ url: receiver.url() }));
    await new Promise((resolve) => setTimeout(resolve, 200));
    env.cancel();
    await expect(running).rejects.toBeInstanceOf(CancelledFailure);
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});

describe('SSRF guard', () => {
  it.each([
    ['loopback IP', () => receiver.url()],
    ['loopback by name, checked on the resolved address', () => receiver.url().replace('127.0.0.1', 'localhost')],
    ['IPv6 loopback', () => 'http://[::1]:9/hooks'],
    ['IPv4-mapped IPv6 loopback', () => 'http://[::ffff:127.0.0.1]:9/hooks'],
    ['cloud metadata', () => 'http://169.254.169.254/latest/meta-data/'],
    ['private network', () => 'http://10.1.2.3/hooks'],
    ['unspecified address', () => 'http://0.0.0.0:9/hooks'],
  ])('refuses %s when not allow-listed, without sending anything', async (_, url) => {
    const failure = await failureOf(deliver(deps({ policy: new AddressPolicy() }), ctx({ url: url() })));
    expect(failure.nonRetryable).toBe(true);
    expect(failure.type).toBe('WebhookAddressRefused');
    expect(receiver.attempts).toEqual([]);
  });

  it('delivers to an allow-listed host name or CIDR range', async () => {
    const byName = deps({ policy: new AddressPolicy(['localhost']) });
    await deliver(byName, ctx({ url: receiver.url().replace('127.0.0.1', 'localhost') }, { cid: 'by-name' }));
    const byRange = deps({ policy: new AddressPolicy(['127.0.0.0/8']) });
    await deliver(byRange, ctx({ url: receiver.url() }, { cid: 'by-range' }));
    expect(receiver.accepted).toHaveLength(2);
  });

  it('classifies addresses', () => {
    const policy = new AddressPolicy(['10.9.0.0/16', 'hooks.internal']);
    const refused = [
      '127.0.0.1',
      '10.0.0.1',
      '172.16.5.4',
      '192.168.1.1',
      '169.254.169.254',
      '100.100.100.200',
      '::1',
      'fe80::1',
      'fd00:ec2::254',
      '::ffff:10.0.0.1',
      '0.0.0.0',
      '224.0.0.1',
      '255.255.255.255',
    ];
    for (const address of refused) expect(() => policy.check('example.com', address), address).toThrow(/Refusing/);
    for (const address of ['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946', '10.9.3.4']) {
      expect(() => policy.check('example.com', address), address).not.toThrow();
    }
    expect(() => policy.check('hooks.internal', '10.0.0.1')).not.toThrow();
    expect(() => new AddressPolicy(['10.0.0.0/99'])).toThrow(/Invalid allow-list entry/);
  });
});
