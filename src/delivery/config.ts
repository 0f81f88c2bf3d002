/**
 * Delivery configuration from the environment, so secrets, broker URLs and the SSRF allow-list are set by
 * operators on the worker and never sent with a fan-out.
 */
import { Webhook } from 'standardwebhooks';

export interface DeliveryConfig {
  /** Signing secret sets by name; each set signs with all its secrets (old and new during a rotation). */
  webhookSecrets: Record<string, string[]>;
  /** IPs, CIDR ranges or host names webhooks may reach although they are internal. */
  webhookAllowList: string[];
  webhookTimeoutMs: number;
  /** AMQP URLs by connection name. */
  amqpConnections: Record<string, string>;
}

/**
 * WEBHOOK_SECRET / WEBHOOK_SECRET_<NAME>: whitespace- or comma-separated `whsec_…` secrets of the set "default" /
 * "<name>" (lower-cased); WEBHOOK_ALLOWLIST: comma-separated; WEBHOOK_TIMEOUT_MS; AMQP_URL / AMQP_URL_<NAME>.
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
  };
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
  try {
    new Webhook(secret);
  } catch (err) {
    throw new Error(`Webhook secret set "${name}": ${(err as Error).message}`);
  }
}
