/**
 * Per-fan-out options of the built-in delivery callbacks, given as `{ name, options }` callback references.
 * Secrets and broker credentials never travel here: options only name what the worker has configured, so nothing
 * sensitive ends up in workflow history.
 */
import { z } from 'zod';

export const WEBHOOK_CALLBACK = 'delivery.webhook';
export const AMQP_CALLBACK = 'delivery.amqp';

export const WebhookDeliveryOptions = z.strictObject({
  url: z
    .url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' })
    .describe('Where to POST the payload'),
  secret: z
    .string()
    .min(1)
    .optional()
    .describe('Name of a signing secret set configured on the worker (WEBHOOK_SECRET_<NAME>); default "default"'),
});
export type WebhookDeliveryOptions = z.infer<typeof WebhookDeliveryOptions>;

export const AmqpDeliveryOptions = z.strictObject({
  exchange: z.string().describe('Exchange to publish to; "" is the default exchange'),
  routingKey: z.string().describe('Routing key, e.g. "zato.responses"'),
  connection: z
    .string()
    .min(1)
    .optional()
    .describe('Name of an AMQP connection configured on the worker (AMQP_URL_<NAME>); default "default"'),
});
export type AmqpDeliveryOptions = z.infer<typeof AmqpDeliveryOptions>;

/** Options schemas of the built-in delivery callbacks, so the API can reject bad ones before a fan-out starts. */
export const DELIVERY_OPTIONS: Record<string, z.ZodType> = {
  [WEBHOOK_CALLBACK]: WebhookDeliveryOptions,
  [AMQP_CALLBACK]: AmqpDeliveryOptions,
};
