import { createHash } from 'node:crypto';

/** What identifies one logical delivery: the same fan-out, phase and target always map to the same message. */
export interface DeliveryKey {
  cid: string;
  channel: string;
  target?: string;
}

/**
 * A stable id for a delivery, used as the webhook-id header and the AMQP message_id. Every retry of the same
 * delivery reuses it, so receivers can deduplicate; it is hashed so any CID or service name yields a header-safe
 * value of fixed length.
 */
export function deliveryMessageId({ cid, channel, target }: DeliveryKey): string {
  const digest = createHash('sha256')
    .update(JSON.stringify([cid, channel, target ?? null]))
    .digest('base64url');
  return `msg_${digest.slice(0, 32)}`;
}
