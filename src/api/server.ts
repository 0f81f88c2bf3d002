/**
 * The HTTP API: a fastify instance with API-key auth, problem-details errors and the fan-out routes. It only
 * talks to Temporal through the FanoutClient, so it runs anywhere the client can reach the cluster.
 */
import Fastify from 'fastify';
import type { FastifyError, FastifyInstance } from 'fastify';
import type { FanoutClient } from '../client';
import type { AddressPolicy } from '../delivery/address-policy';
import { apiKeyAuth } from './auth';
import { problem, sendProblem } from './problem';
import { registerRoutes } from './routes';
import { apiDocument } from './spec';

export interface ApiOptions {
  fanoutClient: FanoutClient;
  apiKeys: readonly string[];
  /** Largest accepted request body in bytes; larger ones get 413. */
  bodyLimit?: number;
  /** Webhook URLs pointing at addresses this refuses are rejected (422) before a fan-out starts. */
  addressPolicy?: AddressPolicy;
  logger?: boolean;
}

export const DEFAULT_BODY_LIMIT = 1024 * 1024;

export async function buildApi(options: ApiOptions): Promise<FastifyInstance> {
  const app = Fastify({
    bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT,
    logger: options.logger ?? false,
    // CIDs are arbitrary strings: allow long, encoded path parameters.
    routerOptions: { maxParamLength: 1000 },
  });

  // JSON only: fastify would otherwise hand text/plain bodies to the routes as strings.
  app.removeContentTypeParser('text/plain');
  app.addHook('onRequest', apiKeyAuth(options.apiKeys));

  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, problem(404, 'not-found', `No route for ${request.method} ${request.url.split('?')[0]}`)),
  );

  // Anything fastify rejects before a handler runs (unparseable JSON, wrong media type, too large) is the
  // client's doing and keeps its 4xx status; only real faults are 500s, and they do not leak internals.
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      return sendProblem(reply, problem(status, slugOf(error), error.message));
    }
    request.log.error({ err: error }, 'request failed');
    return sendProblem(reply, problem(500, 'internal', 'The request could not be processed; it may be retried'));
  });

  const document = apiDocument();
  app.get('/v1/openapi.json', async () => document);
  app.get('/healthz', async () => ({ ok: true }));
  registerRoutes(app, options);
  return app;
}

function slugOf(error: FastifyError): string {
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return 'body-too-large';
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return 'unsupported-media-type';
    default:
      return 'bad-request';
  }
}
