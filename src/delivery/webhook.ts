/**
 * Webhook delivery per the Standard Webhooks spec: the payload is POSTed as JSON with webhook-id,
 * webhook-timestamp and webhook-signature (one v1 signature per configured secret, so receivers can rotate keys),
 * and `fanout-payload: summary` when the body is a summary of a final payload too large to send (see summary.ts),
 * and the trace context (`traceparent`, `tracestate`) when tracing is on, so the receiver's work joins the fan-out's trace.
 * Failures are classified for Temporal's retry policy: transient ones are retried with backoff, the rest fail at
 * once as non-retryable.
 */
import { ApplicationFailure } from '@temporalio/common';
import type * as StandardWebhooks from 'standardwebhooks';
import { requirePeer } from '../optional-peer';
import { traceHeaders } from '../tracing/active-context';
import { countWebhookResponse } from '../worker/metrics';
import { AddressRefusedError } from './address-policy';
import type { AddressPolicy } from './address-policy';
import { postJson } from './http-post';
import type { DeliveryKey } from './message-id';
import { deliveryMessageId } from './message-id';
import type { DeliveryBody } from './summary';
import type { WebhookDeliveryOptions } from './options';

export interface WebhookDeps {
  /** Signing secret sets by name (`whsec_…`); every secret of the chosen set signs each message. */
  secrets: Record<string, string[]>;
  policy: AddressPolicy;
  timeoutMs: number;
  /** Retry-After values above this are not honoured; Temporal's own backoff applies instead. */
  maxRetryAfterMs?: number;
}

export interface WebhookDelivery {
  webhookId: string;
  status: number;
}

const RETRYABLE_STATUS = new Set([408, 429]);

/** The Standard Webhooks library, an optional peer dependency: loaded when webhooks are configured or sent. */
export function standardWebhooks(): typeof StandardWebhooks {
  return requirePeer<typeof StandardWebhooks>('standardwebhooks', 'webhook delivery');
}

/** The value of the webhook-signature header: space-separated `v1,<base64>` signatures, one per secret. */
export function signWebhook(secrets: readonly string[], id: string, timestamp: Date, body: string): string {
  const { Webhook } = standardWebhooks();
  return secrets.map((secret) => new Webhook(secret).sign(id, timestamp, body)).join(' ');
}

export async function deliverWebhook(
  deps: WebhookDeps,
  options: WebhookDeliveryOptions,
  key: DeliveryKey,
  { body, kind }: DeliveryBody,
  signal?: AbortSignal,
): Promise<WebhookDelivery> {
  const secretName = options.secret ?? 'default';
  const secrets = Object.hasOwn(deps.secrets, secretName) ? deps.secrets[secretName] : undefined;
  if (!secrets?.length) {
    throw ApplicationFailure.nonRetryable(`No webhook secret named "${secretName}" is configured`, 'WebhookConfig');
  }
  const webhookId = deliveryMessageId(key);
  // A fresh timestamp per attempt: receivers reject stale ones, and the id alone identifies the message.
  const timestamp = new Date();
  const headers = {
    'webhook-id': webhookId,
    'webhook-timestamp': Math.floor(timestamp.getTime() / 1000).toString(),
    'webhook-signature': signWebhook(secrets, webhookId, timestamp, body),
    ...(kind === 'summary' ? { 'fanout-payload': 'summary' } : {}),
    ...traceHeaders(),
  };

  let response;
  try {
    response = await postJson({
      url: new URL(options.url),
      body,
      headers,
      policy: deps.policy,
      timeoutMs: deps.timeoutMs,
      signal,
    });
  } catch (err) {
    // Cancelled by Temporal: report the cancellation itself, not a delivery failure.
    if (signal?.aborted) throw signal.reason;
    countWebhookResponse(0);
    if (err instanceof AddressRefusedError) throw ApplicationFailure.nonRetryable(err.message, 'WebhookAddressRefused');
    // DNS failures, refused connections, resets and timeouts may all pass: let Temporal retry.
    throw ApplicationFailure.retryable(`POST ${options.url} failed: ${(err as Error).message}`, 'WebhookNetworkError');
  }
  const { status } = response;
  countWebhookResponse(status);
  if (status >= 200 && status < 300) return { webhookId, status };

  const message = `POST ${options.url} returned ${status}${response.excerpt ? `: ${response.excerpt}` : ''}`;
  if (RETRYABLE_STATUS.has(status) || status >= 500) {
    throw ApplicationFailure.create({
      message,
      type: 'WebhookHttpError',
      details: [{ status }],
      nextRetryDelay: retryAfterMs(response.retryAfter, deps.maxRetryAfterMs ?? 600_000),
    });
  }
  // Redirects are not followed (they could point anywhere), and other 4xx mean the request itself is wrong.
  throw ApplicationFailure.create({ message, type: 'WebhookRejected', details: [{ status }], nonRetryable: true });
}

/** Retry-After as delta-seconds or an HTTP date, if present and within bounds. */
function retryAfterMs(header: string | undefined, maxMs: number): number | undefined {
  if (!header) return undefined;
  const ms = /^\d+$/.test(header.trim()) ? Number(header) * 1000 : Date.parse(header) - Date.now();
  return Number.isFinite(ms) && ms > 0 && ms <= maxMs ? ms : undefined;
}
