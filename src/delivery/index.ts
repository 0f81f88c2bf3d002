export { AddressPolicy, AddressRefusedError } from './address-policy';
export { AmqpPublisher } from './amqp';
export { createDeliveryCallbacks, createDeliveryDeps } from './callbacks';
export type { DeliveryDeps } from './callbacks';
export { deliveryConfigFromEnv } from './config';
export type { DeliveryConfig } from './config';
export { deliveryMessageId } from './message-id';
export { AMQP_CALLBACK, AmqpDeliveryOptions, WEBHOOK_CALLBACK, WebhookDeliveryOptions } from './options';
export { signWebhook } from './webhook';
