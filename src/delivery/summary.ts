/**
 * A final payload too large for one message (over `DELIVERY_MAX_BYTES`, 1 MiB by default) is delivered as a
 * summary instead: Zato's envelope without `data`, plus the fan-out's counts and a link to its records in the HTTP
 * API (`GET /v1/fanouts/{cid}/records`, paged or NDJSON). Receivers tell the two apart by the `summary` key and the
 * `fanout-payload: summary` header; a receiver that reads `data` finds none rather than an empty set.
 */
import type { CallbackContext, FinalPayload } from '../contracts';

export interface DeliveryLimits {
  /** Largest JSON body delivered whole, in bytes. */
  maxPayloadBytes: number;
  /** The HTTP API's address as receivers reach it (FANOUT_RESULTS_URL); without it the link is a path. */
  resultsUrl?: string;
}

export const DEFAULT_DELIVERY_LIMITS: DeliveryLimits = { maxPayloadBytes: 1024 * 1024 };

export interface DeliveryBody {
  body: string;
  kind: 'payload' | 'summary';
}

export interface FinalSummary {
  cid: string;
  targets: number;
  ok: number;
  failed: number;
  /** Size of the whole payload the summary stands for. */
  payload_bytes: number;
  records_url: string;
}

/** The message body for `payload`: the payload itself, or its summary when it is a final payload over the limit. */
export function deliveryBody(payload: unknown, ctx: CallbackContext, limits: DeliveryLimits): DeliveryBody {
  const body = JSON.stringify(payload);
  const bytes = Buffer.byteLength(body);
  if (ctx.channel !== 'FANOUT_ON_FINAL' || bytes <= limits.maxPayloadBytes) return { body, kind: 'payload' };
  const { data, ...envelope } = payload as FinalPayload;
  const records = Object.values(data ?? {});
  const ok = records.filter((record) => record.ok).length;
  const summary: FinalSummary = {
    cid: ctx.cid,
    targets: records.length,
    ok,
    failed: records.length - ok,
    payload_bytes: bytes,
    records_url: `${(limits.resultsUrl ?? '').replace(/\/+$/, '')}/v1/fanouts/${encodeURIComponent(ctx.cid)}/records`,
  };
  return { body: JSON.stringify({ ...envelope, summary }), kind: 'summary' };
}
