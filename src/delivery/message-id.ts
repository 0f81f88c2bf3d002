import { createHash } from 'node:crypto';

/**
 * What identifies one logical delivery: the same fan-out, phase, target and callback entry always map to the
 * same message. `callback` is the callback's name; `occurrence` tells apart several entries of the same callback
 * in one phase for one target (two `delivery.webhook` entries with different URLs are two messages).
 */
export interface DeliveryKey {
  cid: string;
  channel: string;
  target?: string;
  callback?: string;
  /** 1 for the first entry of this callback in this phase (and target), 2 for the second, … */
  occurrence?: number;
  /** A redrive's number: its deliveries are new messages (the first run's ids are unchanged). */
  redrive?: number;
}

/**
 * A stable id for a delivery, used as the webhook-id header and the AMQP message_id. Every retry of the same
 * delivery reuses it, so receivers can deduplicate; it is hashed so any CID or service name yields a header-safe
 * value of fixed length.
 */
export function deliveryMessageId({ cid, channel, target, callback, occurrence, redrive }: DeliveryKey): string {
  const key = [cid, channel, target ?? null, callback ?? null, occurrence ?? 1, ...(redrive ? [redrive] : [])];
  const digest = createHash('sha256').update(JSON.stringify(key)).digest('base64url');
  return `msg_${digest.slice(0, 32)}`;
}

/**
 * The occurrence of a callback entry, from its activity ID: the workflow names the second use of one callback for
 * the same phase and target `…/<callback>#2` (callback names cannot contain "#").
 */
export function occurrenceOf(activityId: string | undefined): number {
  const match = /#(\d+)$/.exec(activityId ?? '');
  return match ? Number(match[1]) : 1;
}
