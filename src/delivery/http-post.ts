/**
 * One HTTP POST, with the properties a webhook sender needs: an overall deadline, no redirects (node:http never
 * follows them; a 3xx is just a response), and connections only to addresses the AddressPolicy accepts.
 */
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import type { AddressPolicy } from './address-policy';
import { guardedLookup } from './guarded-lookup';

export interface PostOptions {
  url: URL;
  body: string;
  headers: Record<string, string>;
  policy: AddressPolicy;
  timeoutMs: number;
  signal?: AbortSignal;
}

export interface PostResponse {
  status: number;
  retryAfter?: string;
  /** The start of the response body, for error messages. */
  excerpt: string;
}

const EXCERPT_BYTES = 512;

export async function postJson({ url, body, headers, policy, timeoutMs, signal }: PostOptions): Promise<PostResponse> {
  // Node connects to IP literals without calling `lookup`, so those are checked here.
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (isIP(host)) policy.check(host, host);

  const deadline = AbortSignal.timeout(timeoutMs);
  const request = url.protocol === 'https:' ? https.request : http.request;
  return new Promise<PostResponse>((resolve, reject) => {
    const req = request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body).toString(), ...headers },
      lookup: guardedLookup(policy),
      signal: signal ? AbortSignal.any([deadline, signal]) : deadline,
    });
    req.on('error', (err) => reject(deadline.aborted ? new Error(`Timed out after ${timeoutMs} ms`) : err));
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        // Keep reading (to free the socket) but only remember the start.
        if (size < EXCERPT_BYTES) chunks.push(chunk);
        size += chunk.length;
      });
      res.on('error', reject);
      res.on('end', () => {
        const retryAfter = res.headers['retry-after'];
        const excerpt = Buffer.concat(chunks).subarray(0, EXCERPT_BYTES).toString('utf8');
        resolve({ status: res.statusCode ?? 0, retryAfter, excerpt });
      });
    });
    req.end(body);
  });
}
