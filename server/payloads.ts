/** Payload helpers: sizes for the blob limit, and JSON decoding for search attributes and visibility. */
export interface Payload {
  metadata?: Record<string, Uint8Array> | null;
  data?: Uint8Array | null;
}

export interface Payloads {
  payloads?: Payload[] | null;
}

export function payloadSize(payload: Payload | null | undefined): number {
  if (!payload) return 0;
  let size = payload.data?.length ?? 0;
  for (const [key, value] of Object.entries(payload.metadata ?? {})) size += key.length + (value?.length ?? 0);
  return size;
}

export function payloadsSize(payloads: Payloads | null | undefined): number {
  return (payloads?.payloads ?? []).reduce((sum, p) => sum + payloadSize(p), 0);
}

/** Decodes a json/plain payload (the SDK's default for search attributes); undefined for anything else. */
export function decodeJsonPayload(payload: Payload | null | undefined): unknown {
  if (!payload?.data) return undefined;
  const encoding = payload.metadata?.encoding ? Buffer.from(payload.metadata.encoding).toString() : 'json/plain';
  if (encoding !== 'json/plain') return undefined;
  try {
    return JSON.parse(Buffer.from(payload.data).toString('utf8'));
  } catch {
    return undefined;
  }
}
