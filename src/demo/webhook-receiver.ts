/**
 * The receiving side of a webhook, as a caller would write it: verify the Standard Webhooks signature with the
 * library, then process each webhook-id once (retries reuse the id).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';

export interface VerifiedWebhook {
  headers: { 'webhook-id': string; 'webhook-timestamp': string; 'webhook-signature': string };
  payload: unknown;
}

export interface DemoReceiver {
  url: string;
  close(): Promise<void>;
}

export async function startWebhookReceiver(
  secret: string,
  onWebhook: (webhook: VerifiedWebhook) => void,
): Promise<DemoReceiver> {
  const verifier = new Webhook(secret);
  const seen = new Set<string>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const headers = req.headers as Record<string, string>;
      let payload: unknown;
      try {
        // Verifies the HMAC over id.timestamp.body and that the timestamp is recent (replay protection).
        payload = verifier.verify(Buffer.concat(chunks), headers);
      } catch (error) {
        res.writeHead(error instanceof WebhookVerificationError ? 400 : 500).end();
        return;
      }
      const id = headers['webhook-id'];
      if (!seen.has(id)) {
        seen.add(id);
        onWebhook({
          headers: {
            'webhook-id': id,
            'webhook-timestamp': headers['webhook-timestamp'],
            'webhook-signature': headers['webhook-signature'],
          },
          payload,
        });
      }
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/credit-scoring`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
