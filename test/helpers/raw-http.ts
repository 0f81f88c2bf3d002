/**
 * Raw HTTP/1.1 over a loopback socket, for requests fetch cannot send: bad percent-encoding, no Host, oversized
 * headers, bytes that are not HTTP at all. Reads until the server closes (requests say "Connection: close") or the
 * time runs out, and parses status, headers and a (possibly chunked) body.
 */
import net from 'node:net';

export interface RawReply {
  /** 0 if nothing parseable came back. */
  status: number;
  headers: Record<string, string>;
  body: string;
  /** The body as JSON, if it is JSON. */
  json?: Record<string, unknown>;
  raw: string;
}

export async function rawRequest(port: number, request: string | Buffer, timeoutMs = 10_000): Promise<RawReply> {
  const raw = await new Promise<string>((resolve) => {
    const chunks: Buffer[] = [];
    const socket = net.connect({ host: '127.0.0.1', port });
    const done = () => resolve(Buffer.concat(chunks).toString('utf8'));
    socket.setTimeout(timeoutMs, () => socket.destroy());
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('close', done);
    socket.on('error', () => undefined); // a reset after the reply is fine; 'close' follows
    socket.end(request);
  });
  return parseReply(raw);
}

export function parseReply(raw: string): RawReply {
  // Skip interim 1xx responses (e.g. 100 Continue): the final one follows.
  while (/^HTTP\/1\.[01] 1\d\d[^\r\n]*\r\n/.test(raw) && raw.includes('\r\n\r\n')) {
    const rest = raw.slice(raw.indexOf('\r\n\r\n') + 4);
    if (!rest) break;
    raw = rest;
  }
  const match = /^HTTP\/1\.[01] (\d{3})[^\r\n]*\r\n/.exec(raw);
  if (!match) return { status: 0, headers: {}, body: '', raw };
  const end = raw.indexOf('\r\n\r\n');
  const head = raw.slice(match[0].length, end < 0 ? raw.length : end);
  const headers: Record<string, string> = {};
  for (const line of head.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = end < 0 ? '' : raw.slice(end + 4);
  if (/chunked/i.test(headers['transfer-encoding'] ?? '')) body = dechunk(body);
  let json: Record<string, unknown> | undefined;
  try {
    json = body ? (JSON.parse(body) as Record<string, unknown>) : undefined;
  } catch {
    json = undefined;
  }
  return { status: Number(match[1]), headers, body, json, raw };
}

function dechunk(text: string): string {
  let out = '';
  let rest = text;
  for (;;) {
    const eol = rest.indexOf('\r\n');
    if (eol < 0) return out;
    const size = parseInt(rest.slice(0, eol), 16);
    if (!Number.isFinite(size) || size === 0) return out;
    out += rest.slice(eol + 2, eol + 2 + size);
    rest = rest.slice(eol + 2 + size + 2);
  }
}
