import { DefaultLogger } from '@temporalio/worker';
import { MockActivityEnvironment } from '@temporalio/testing';
import { ApplicationFailure } from '@temporalio/common';
import { expect } from 'vitest';
import type { CallbackContext } from '../../src/contracts';
import type { DeliveryDeps } from '../../src/delivery/callbacks';
import { createDeliveryCallbacks, createDeliveryDeps } from '../../src/delivery/callbacks';
import type { AnyCallbackDefinition } from '../../src/registry';

/** A MockActivityEnvironment whose logger only reports errors: expected activity failures would drown the output. */
export function quietActivityEnv(attempt = 1): MockActivityEnvironment {
  return new MockActivityEnvironment({ attempt }, { logger: new DefaultLogger('ERROR') });
}

/** The handler of one built-in delivery callback, built from `deps`. */
export function deliveryHandler(deps: DeliveryDeps, name: 'delivery.webhook' | 'delivery.amqp') {
  const callback = createDeliveryCallbacks(deps).find((c) => c.name === name);
  if (!callback) throw new Error(`${name} is not among the delivery callbacks`);
  // Tests hand it payloads of their own making, partial ones included.
  return (payload: unknown, ctx: CallbackContext) => callback.handler(payload as never, ctx);
}

/** The context a delivery callback receives on the final channel, with per-fan-out options. */
export function deliveryContext(
  callback: string,
  cid: string,
  options: unknown,
  extra: Partial<CallbackContext> = {},
): CallbackContext {
  return { channel: 'FANOUT_ON_FINAL', cid, callback, options: options as CallbackContext['options'], ...extra };
}

/** The ApplicationFailure a delivery raised; fails the test if it resolved or threw anything else. */
export async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApplicationFailure);
  return err as ApplicationFailure;
}

/**
 * The built-in delivery callbacks as a client's registry holds them, to check requests before they start: the
 * webhook secret set "default" configured (with `secret`), no AMQP connection.
 */
export function clientDeliveryCallbacks(secret: string): AnyCallbackDefinition[] {
  return createDeliveryCallbacks(
    createDeliveryDeps({
      webhookSecrets: { default: [secret] },
      webhookAllowList: [],
      webhookTimeoutMs: 1_000,
      amqpConnections: {},
    }),
  );
}
