/**
 * A real Standard Webhooks receiver on loopback for the delivery tests: verifies every request's signature with
 * the standardwebhooks library, deduplicates by webhook-id, and can be told to fail (or hang) the next N requests
 * to prove that retries end in exactly one accepted message per id.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

export interface ReceivedWebhook {
  id: string;
  timestamp: string;
  signature: string;
  body: string;
  payload: unknown;
  path: string;
  /** The fanout-payload header: 'summary' when a final payload too large to send came as its summary. */
  payloadKind?: string;
  /** The W3C trace context header, sent when the sender traces. */
  traceparent?: string;
}

export interface Attempt {
  id: string | undefined;
  path: string;
  outcome: 'accepted' | 'duplicate' | 'bad-signature' | 'failed' | 'hung';
  status?: number;
}

interface Failure {
  status?: number;
  headers?: Record<string, string>;
  hang?: boolean;
}

export class WebhookReceiver {
  readonly accepted: ReceivedWebhook[] = [];
  readonly attempts: Attempt[] = [];
  private readonly failures: Failure[] = [];
  private readonly waiters = new Set<() => void>();
  private readonly verifier: Webhook;

  private constructor(
    private readonly server: http.Server,
    secret: string,
  ) {
    this.verifier = new Webhook(secret);
    server.on('request', (req, res) => this.handle(req, res));
  }

  /** Starts on 127.0.0.1 on a free port; `secret` is the one the receiver verifies with. */
  static async start(secret: string): Promise<WebhookReceiver> {
    const server = http.createServer();
    const receiver = new WebhookReceiver(server, secret);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  url(path = '/hooks'): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${path}`;
  }

  /** The next `count` correctly signed requests get `status` (with `headers`) instead of being accepted. */
  failNext(count: number, status: number, headers: Record<string, string> = {}): void {
    for (let i = 0; i < count; i++) this.failures.push({ status, headers });
  }

  /** The next `count` correctly signed requests never get an answer (until close). */
  hangNext(count: number): void {
    for (let i = 0; i < count; i++) this.failures.push({ hang: true });
  }

  async waitForAccepted(count: number, timeoutMs = 30_000): Promise<ReceivedWebhook[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.accepted.length < count) {
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`Expected ${count} accepted webhooks, got ${this.accepted.length} in ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.add(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.accepted.slice(0, count);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const id = req.headers['webhook-id'] as string | undefined;
      const path = req.url ?? '/';
      let payload: unknown;
      try {
        payload = this.verifier.verify(body, req.headers as Record<string, string>);
      } catch {
        this.attempts.push({ id, path, outcome: 'bad-signature', status: 400 });
        res.writeHead(400).end('bad signature');
        return;
      }
      const failure = this.failures.shift();
      if (failure?.hang) {
        this.attempts.push({ id, path, outcome: 'hung' });
        return;
      }
      if (failure) {
        this.attempts.push({ id, path, outcome: 'failed', status: failure.status });
        res.writeHead(failure.status ?? 500, failure.headers).end('failing on purpose');
        return;
      }
      if (this.accepted.some((w) => w.id === id)) {
        // Already processed: acknowledge again so the sender stops, but do not process twice.
        this.attempts.push({ id, path, outcome: 'duplicate', status: 200 });
        res.writeHead(200).end('duplicate');
        return;
      }
      this.accepted.push({
        id: id as string,
        timestamp: req.headers['webhook-timestamp'] as string,
        signature: req.headers['webhook-signature'] as string,
        ...(req.headers['fanout-payload'] ? { payloadKind: req.headers['fanout-payload'] as string } : {}),
        ...(req.headers.traceparent ? { traceparent: String(req.headers.traceparent) } : {}),
        body,
        payload,
        path,
      });
      this.attempts.push({ id, path, outcome: 'accepted', status: 204 });
      res.writeHead(204).end();
      for (const wake of this.waiters) wake();
      this.waiters.clear();
    });
  }
}
