/**
 * The HTTP API's metrics, on an endpoint of their own (`FANOUT_METRICS_ADDRESS` of the `api` command): requests by
 * route (its template, so labels stay bounded), method and status, their durations, starts by pattern and by how
 * the targets came (a JSON body, NDJSON, items), and the process's own figures (CPU, memory, event loop), in
 * Prometheus's text format with prom-client.
 */
import http from 'node:http';
import type { FastifyInstance } from 'fastify';
import type * as PromClient from 'prom-client';
import { requirePeer } from '../optional-peer';

export interface ApiMetricsServer {
  url: string;
  close(): Promise<void>;
}

/** Counts every answer of `app`, and serves the counts on `bindAddress` (`host:port`) at `/metrics`. */
export async function serveApiMetrics(app: FastifyInstance, bindAddress: string): Promise<ApiMetricsServer> {
  const prom = requirePeer<typeof PromClient>('prom-client', 'The API metrics endpoint');
  const registry = new prom.Registry();
  prom.collectDefaultMetrics({ register: registry });
  const requests = new prom.Counter({
    name: 'fanout_api_requests_total',
    help: 'HTTP requests answered, by route, method and status',
    labelNames: ['route', 'method', 'status'],
    registers: [registry],
  });
  const durations = new prom.Histogram({
    name: 'fanout_api_request_duration_seconds',
    help: 'How long answering an HTTP request took, by route and method',
    labelNames: ['route', 'method'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const starts = new prom.Counter({
    name: 'fanout_api_starts_total',
    help: 'Fan-outs, parallel executions and invoke/retries started, by pattern and by how their targets came',
    labelNames: ['pattern', 'targets'],
    registers: [registry],
  });
  app.addHook('onResponse', async (request, reply) => {
    // The route's template (`/v1/fanouts/:cid`), never the path itself: one series per route, whatever the CIDs.
    const route = request.routeOptions.url ?? 'unmatched';
    const labels = { route, method: request.method };
    requests.inc({ ...labels, status: String(reply.statusCode) });
    durations.observe(labels, reply.elapsedTime / 1000);
    if (reply.statusCode === 202 && request.method === 'POST')
      starts.inc({ pattern: patternOf(route), targets: targetsOf(request) });
  });

  const [host, port] = splitAddress(bindAddress);
  const server = http.createServer((request, response) => {
    if (request.method !== 'GET' || request.url !== '/metrics') {
      response.writeHead(404).end();
      return;
    }
    registry.metrics().then(
      (text) => response.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (error: unknown) => response.writeHead(500).end(String(error)),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  return {
    url: `http://${host}:${actualPort}/metrics`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function patternOf(route: string): string {
  if (route.endsWith('/parallel')) return 'parallel';
  if (route.endsWith('/invoke-retry')) return 'invoke-retry';
  if (route.endsWith('/redrive')) return 'redrive';
  return 'fanout';
}

function targetsOf(request: { headers: Record<string, unknown>; body?: unknown }): string {
  if (String(request.headers['content-type'] ?? '').startsWith('application/x-ndjson')) return 'ndjson';
  const body = request.body as { items?: unknown } | undefined;
  return body && typeof body === 'object' && 'items' in body ? 'items' : 'json';
}

function splitAddress(bindAddress: string): [string, number] {
  const colon = bindAddress.lastIndexOf(':');
  if (colon < 0) throw new Error(`FANOUT_METRICS_ADDRESS=${bindAddress}: expected host:port, e.g. 0.0.0.0:9464`);
  return [bindAddress.slice(0, colon).replace(/^\[|\]$/g, ''), Number(bindAddress.slice(colon + 1))];
}
