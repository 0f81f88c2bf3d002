/**
 * The built-in delivery callbacks, registered on the worker like any user callback and named in a fan-out as
 * `{ name: 'delivery.webhook', options: { url } }` or `{ name: 'delivery.amqp', options: { exchange, routingKey } }`.
 * A final payload over the configured size goes as a summary with a link to the records (see summary.ts).
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { z } from 'zod';
import type { CallbackContext } from '../contracts';
import type { AnyCallbackDefinition } from '../registry';
import { defineCallback } from '../registry';
import { AddressPolicy } from './address-policy';
import { AmqpPublisher } from './amqp';
import type { DeliveryConfig } from './config';
import type { DeliveryKey } from './message-id';
import { deliveryMessageId, occurrenceOf } from './message-id';
import { AMQP_CALLBACK, AmqpDeliveryOptions, WEBHOOK_CALLBACK, WebhookDeliveryOptions } from './options';
import type { WebhookDeps } from './webhook';
import type { DeliveryLimits } from './summary';
import { DEFAULT_DELIVERY_LIMITS, deliveryBody } from './summary';
import { deliverWebhook } from './webhook';

export interface DeliveryDeps {
  webhook: WebhookDeps;
  amqp: AmqpPublisher;
  /** When a final payload goes as a summary; `DEFAULT_DELIVERY_LIMITS` when absent. */
  limits?: DeliveryLimits;
}

export function createDeliveryDeps(config: DeliveryConfig): DeliveryDeps {
  return {
    webhook: {
      secrets: config.webhookSecrets,
      policy: new AddressPolicy(config.webhookAllowList),
      timeoutMs: config.webhookTimeoutMs,
    },
    amqp: new AmqpPublisher({ connections: config.amqpConnections }),
    limits: {
      maxPayloadBytes: config.maxPayloadBytes ?? DEFAULT_DELIVERY_LIMITS.maxPayloadBytes,
      ...(config.resultsUrl ? { resultsUrl: config.resultsUrl } : {}),
    },
  };
}

export function createDeliveryCallbacks(deps: DeliveryDeps): AnyCallbackDefinition[] {
  return [
    defineCallback({
      name: WEBHOOK_CALLBACK,
      description: 'POSTs the payload to options.url, signed per Standard Webhooks',
      options: WebhookDeliveryOptions,
      checkOptions: (options) => {
        const secret = (options as WebhookDeliveryOptions).secret ?? 'default';
        return Object.hasOwn(deps.webhook.secrets, secret) && deps.webhook.secrets[secret].length
          ? []
          : [`no webhook secret named "${secret}" is configured (${configName('WEBHOOK_SECRET', secret)})`];
      },
      async handler(payload, ctx) {
        const options = parseOptions(WebhookDeliveryOptions, ctx);
        const body = deliveryBody(payload, ctx, deps.limits ?? DEFAULT_DELIVERY_LIMITS);
        return deliverWebhook(deps.webhook, options, deliveryKey(ctx), body, cancellationSignal());
      },
    }),
    defineCallback({
      name: AMQP_CALLBACK,
      description: 'Publishes the payload to options.exchange with options.routingKey, with publisher confirms',
      options: AmqpDeliveryOptions,
      checkOptions: (options) => {
        const connection = (options as AmqpDeliveryOptions).connection ?? 'default';
        return deps.amqp.has(connection)
          ? []
          : [`no AMQP connection named "${connection}" is configured (${configName('AMQP_URL', connection)})`];
      },
      async handler(payload, ctx) {
        const options = parseOptions(AmqpDeliveryOptions, ctx);
        const messageId = deliveryMessageId(deliveryKey(ctx));
        const { body, kind } = deliveryBody(payload, ctx, deps.limits ?? DEFAULT_DELIVERY_LIMITS);
        await deps.amqp.publish(options.connection ?? 'default', {
          exchange: options.exchange,
          routingKey: options.routingKey,
          body: Buffer.from(body),
          messageId,
          correlationId: ctx.cid,
          headers: {
            'fanout-channel': ctx.channel,
            ...(ctx.target ? { 'fanout-target': ctx.target } : {}),
            ...(kind === 'summary' ? { 'fanout-payload': 'summary' } : {}),
          },
        });
        return { messageId };
      },
    }),
  ];
}

/** The variable that configures a named secret set or connection: PREFIX for "default", PREFIX_NAME otherwise. */
function configName(prefix: string, name: string): string {
  return name === 'default' ? prefix : `${prefix}_${name.toUpperCase()}`;
}

/** Bad options will not get better on retry. */
function parseOptions<T>(schema: z.ZodType<T>, ctx: CallbackContext): T {
  const parsed = schema.safeParse(ctx.options);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((i) => `${i.path.join('.') || 'options'}: ${i.message}`).join('; ');
  throw ApplicationFailure.nonRetryable(
    `Invalid options for callback ${ctx.callback}: ${issues}`,
    'InvalidDeliveryOptions',
  );
}

/** The delivery's identity: phase, target, callback, and which entry of that callback (from the activity ID). */
function deliveryKey(ctx: CallbackContext): DeliveryKey {
  let activityId: string | undefined;
  try {
    activityId = Context.current().info.activityId;
  } catch {
    activityId = undefined; // not running as an activity
  }
  return {
    cid: ctx.cid,
    channel: ctx.channel,
    target: ctx.target,
    callback: ctx.callback,
    occurrence: occurrenceOf(activityId),
    ...(ctx.redrive ? { redrive: ctx.redrive } : {}),
  };
}

/** Abort an in-flight request when Temporal cancels the activity (e.g. the fan-out was cancelled). */
function cancellationSignal(): AbortSignal | undefined {
  try {
    return Context.current().cancellationSignal;
  } catch {
    return undefined; // not running as an activity
  }
}
