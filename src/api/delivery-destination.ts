/**
 * The request's optional `delivery` member: where the result goes, as a shorthand for naming the built-in
 * delivery callback with its options. Also checks, before a fan-out starts, that webhook URLs do not point at
 * internal addresses; the worker checks again on the resolved address at send time.
 */
import dns from 'node:dns/promises';
import { isIP } from 'node:net';
import { z } from 'zod';
import { AddressRefusedError } from '../delivery/address-policy';
import type { AddressPolicy } from '../delivery/address-policy';
import {
  AMQP_CALLBACK,
  AmqpDeliveryOptions,
  DELIVERY_OPTIONS,
  WEBHOOK_CALLBACK,
  WebhookDeliveryOptions,
} from '../delivery/options';
import type { InvalidParam } from './problem';
import { invalidParams } from './problem';

export const DeliveryDestination = z
  .union([z.strictObject({ webhook: WebhookDeliveryOptions }), z.strictObject({ amqp: AmqpDeliveryOptions })])
  .describe('Where to deliver the result: a signed webhook or an AMQP exchange and routing key');
export type DeliveryDestination = z.infer<typeof DeliveryDestination>;

export interface CallbackRefLike {
  name: string;
  options?: unknown;
}

export function destinationCallback(destination: DeliveryDestination): CallbackRefLike {
  return 'webhook' in destination
    ? { name: WEBHOOK_CALLBACK, options: destination.webhook }
    : { name: AMQP_CALLBACK, options: destination.amqp };
}

/** Invalid options of built-in delivery callbacks named explicitly in a callback list, by JSON Pointer. */
export function invalidDeliveryOptions(callbacks: unknown, pointer: string): InvalidParam[] {
  if (!Array.isArray(callbacks)) return [];
  return callbacks.flatMap((ref: unknown, index) => {
    if (typeof ref !== 'object' || ref === null) return [];
    const { name, options } = ref as CallbackRefLike;
    const schema = typeof name === 'string' && Object.hasOwn(DELIVERY_OPTIONS, name) ? DELIVERY_OPTIONS[name] : null;
    if (!schema) return [];
    const parsed = schema.safeParse(options);
    return parsed.success ? [] : invalidParams(parsed.error.issues, `${pointer}/${index}/options`);
  });
}

/**
 * Webhook URLs whose host is, or resolves to, an address the policy refuses. A name that does not resolve now is
 * let through: it may resolve later, and the worker checks again then.
 */
export async function refusedWebhookUrls(
  callbacks: readonly CallbackRefLike[],
  policy: AddressPolicy,
): Promise<string[]> {
  const urls = callbacks
    .filter((ref) => ref.name === WEBHOOK_CALLBACK)
    .map((ref) => (ref.options as { url: string }).url);
  const refused: string[] = [];
  for (const url of new Set(urls)) {
    const host = new URL(url).hostname.replace(/^\[(.*)\]$/, '$1');
    const addresses = isIP(host)
      ? [host]
      : await dns.lookup(host, { all: true }).then(
          (all) => all.map((a) => a.address),
          () => [],
        );
    try {
      for (const address of addresses) policy.check(host, address);
    } catch (err) {
      if (!(err instanceof AddressRefusedError)) throw err;
      refused.push(err.message);
    }
  }
  return refused;
}
