/**
 * Delivery configuration from the environment, so secrets, broker URLs and the SSRF allow-list are set by
 * operators on the worker and never sent with a fan-out.
 */
import { standardWebhooks } from './webhook';

export interface DeliveryConfig {
  /** Signing secret sets by name; each set signs with all its secrets (old and new during a rotation). */
  webhookSecrets: Record<string, string[]>;
  /** IPs, CIDR ranges or host names webhooks may reach although they are internal. */
  webhookAllowList: string[];
  webhookTimeoutMs: number;
  /** AMQP URLs by connection name. */
  amqpConnections: Record<string, string>;
  /** Final payloads larger than this (bytes of JSON) are delivered as a summary with a link; 1 MiB by default. */
  maxPayloadBytes?: number;
  /** The HTTP API's address as receivers reach it, for the link in a summary. */
  resultsUrl?: string;
}

/**
 * WEBHOOK_SECRET / WEBHOOK_SECRET_<NAME>: whitespace- or comma-separated `whsec_…` secrets of the set "default" /
 * "<name>" (lower-cased); WEBHOOK_ALLOWLIST: comma-separated; WEBHOOK_TIMEOUT_MS; AMQP_URL / AMQP_URL_<NAME>;
 * DELIVERY_MAX_BYTES (final payloads over it go as a summary) and FANOUT_RESULTS_URL (the summary's link).
 */
export function deliveryConfigFromEnv(env: NodeJS.ProcessEnv = process.env): DeliveryConfig {
  const webhookSecrets = named(env, 'WEBHOOK_SECRET', (value) => value.split(/[\s,]+/).filter(Boolean));
  for (const [name, secrets] of Object.entries(webhookSecrets)) {
    for (const secret of secrets) assertSecret(name, secret);
  }
  return {
    webhookSecrets,
    webhookAllowList: (env.WEBHOOK_ALLOWLIST ?? '')
      .split(',')
      .map((e) => e.trim())
      .filter(Boolean),
    webhookTimeoutMs: Number(env.WEBHOOK_TIMEOUT_MS ?? 10_000),
    amqpConnections: named(env, 'AMQP_URL', (value) => value.trim()),
    ...(env.DELIVERY_MAX_BYTES
      ? { maxPayloadBytes: positiveInteger('DELIVERY_MAX_BYTES', env.DELIVERY_MAX_BYTES) }
      : {}),
    ...(env.FANOUT_RESULTS_URL ? { resultsUrl: httpUrl('FANOUT_RESULTS_URL', env.FANOUT_RESULTS_URL) } : {}),
  };
}

function positiveInteger(name: string, value: string): number {
  const number = Number(value);
  if (!Number.isSafeInteger(number) || number <= 0) throw new Error(`${name} must be a positive whole number of bytes`);
  return number;
}

function httpUrl(name: string, value: string): string {
  if (!/^https?:\/\//.test(value) || !URL.canParse(value))
    throw new Error(`${name} must be an http:// or https:// URL`);
  return value;
}

function named<T>(env: NodeJS.ProcessEnv, prefix: string, parse: (value: string) => T): Record<string, T> {
  const result: Record<string, T> = {};
  for (const [key, value] of Object.entries(env)) {
    if (!value) continue;
    if (key === prefix) result.default = parse(value);
    else if (key.startsWith(`${prefix}_`)) result[key.slice(prefix.length + 1).toLowerCase()] = parse(value);
  }
  return result;
}

/** Fail at start-up, not at the first delivery, on a secret the library cannot use. */
function assertSecret(name: string, secret: string): void {
  if (!secret.startsWith('whsec_')) throw new Error(`Webhook secret set "${name}": secrets must start with whsec_`);
  const { Webhook } = standardWebhooks();
  try {
    new Webhook(secret);
  } catch (err) {
    throw new Error(`Webhook secret set "${name}": ${(err as Error).message}`);
  }
}
