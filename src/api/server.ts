/**
 * The HTTP API: a fastify instance with API-key auth, problem-details errors and the fan-out routes. It only
 * talks to Temporal through the FanoutClient, so it runs anywhere the client can reach the cluster.
 */
import http from 'node:http';
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import Fastify from 'fastify';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { FanoutClient } from '../client';
import { boundsIssues } from '../client/bounds';
import type { AddressPolicy } from '../delivery/address-policy';
import { apiKeyAuth } from './auth';
import type { Problem } from './problem';
import { PROBLEM_CONTENT_TYPE, problem, sendProblem, toPointer } from './problem';
import { registerRoutes } from './routes';

export interface ApiOptions {
  fanoutClient: FanoutClient;
  apiKeys: readonly string[];
  /** Largest accepted request body in bytes; larger ones get 413. */
  bodyLimit?: number;
  /** Webhook URLs pointing at addresses this refuses are rejected (422) before a fan-out starts. */
  addressPolicy?: AddressPolicy;
  logger?: boolean;
  /** Between keep-alive comments on an event stream (`GET /v1/fanouts/{cid}/events`); default 15 seconds. */
  eventsKeepAliveMs?: number;
  /**
   * Most connections served at once; more are closed on arrival. Each may buffer up to `bodyLimit` bytes of body
   * while it is read, so this and `bodyLimit` bound the memory requests can take at any one time.
   */
  maxConnections?: number;
  /** An NDJSON start's body in bytes at most (default 256 MiB); larger ones get 413, however they are sent. */
  ndjsonLimit?: number;
  /**
   * The folder `items` may name file:// URLs in (symbolic links resolved). Unset: file items are refused (422), so
   * no caller reads the API's files.
   */
  itemsFileRoot?: string;
  /** Where `items` in S3 are read with: S3_ENDPOINT, AWS_REGION and the AWS_* credentials; default process.env. */
  itemsEnv?: NodeJS.ProcessEnv;
}

export const DEFAULT_BODY_LIMIT = 1024 * 1024;

/** Longest CID in a path (the contract allows 255 characters; percent-encoding may triple that). */
const MAX_PARAM_LENGTH = 1000;

/**
 * Time limits per connection and request, so a client that sends slowly (or never finishes) cannot hold a socket
 * and its buffers for ever.
 */
const REQUEST_TIMEOUT_MS = 30_000;
const CONNECTION_TIMEOUT_MS = 60_000;
const KEEP_ALIVE_TIMEOUT_MS = 10_000;
export const DEFAULT_MAX_CONNECTIONS = 1024;

export async function buildApi(options: ApiOptions): Promise<FastifyInstance> {
  const app = Fastify({
    bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT,
    logger: options.logger ?? false,
    // CIDs are arbitrary strings: allow long, encoded path parameters.
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    requestTimeout: REQUEST_TIMEOUT_MS,
    connectionTimeout: CONNECTION_TIMEOUT_MS,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    // Node would answer a missing Host with an empty 400 of its own; the hook below answers with a problem.
    http: { requireHostHeader: false },
    // Errors fastify raises before any route runs: bad percent-encoding, over-long path parameters.
    frameworkErrors: (error, request, reply) => {
      const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 400;
      const detail =
        error.code === 'FST_ERR_BAD_URL'
          ? 'The path is not validly percent-encoded UTF-8'
          : error.code === 'FST_ERR_MAX_PARAM_LENGTH'
            ? `A path parameter is over ${MAX_PARAM_LENGTH} characters`
            : 'The request could not be routed';
      void sendProblem(reply, problem(status, frameworkSlug(error.code), detail));
    },
    // Requests Node's HTTP parser refuses (garbage, bad Content-Length, oversized headers, timeouts).
    clientErrorHandler: clientError,
  });

  app.server.maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;

  // Expect values other than 100-continue: Node would answer an empty 417 itself.
  app.server.on('checkExpectation', (request: http.IncomingMessage, response: http.ServerResponse) => {
    const body = problem(417, 'expectation-failed', 'Only "Expect: 100-continue" is supported', {
      instance: safeInstance(request.url),
    });
    response.writeHead(417, { 'content-type': PROBLEM_CONTENT_TYPE, connection: 'close' }).end(JSON.stringify(body));
  });

  // HTTP/1.1 requires Host (RFC 9112 §3.2): refuse its absence before anything else, with a problem body.
  app.addHook('onRequest', async (request, reply) => {
    if (request.raw.httpVersionMajor === 1 && request.raw.httpVersionMinor >= 1 && !request.headers.host) {
      return sendProblem(reply, problem(400, 'missing-host', 'HTTP/1.1 requests must have a Host header'));
    }
  });

  // JSON only: fastify would otherwise hand text/plain bodies to the routes as strings.
  app.removeContentTypeParser('text/plain');
  app.addHook('onRequest', apiKeyAuth(options.apiKeys));
  // Before validation or anything else walks or serialises the body: bounded depth, no lone surrogates.
  app.addHook('preValidation', refuseUnboundedBody);

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

  registerRoutes(app, options);
  return app;
}

async function refuseUnboundedBody(request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
  // An NDJSON body is a stream, read by its route: each of its lines is checked as it is taken.
  if (request.body === undefined || request.body === null || request.body instanceof Readable) return undefined;
  const issues = boundsIssues(request.body);
  if (!issues.length) return undefined;
  const errors = issues.map((i) => ({ pointer: toPointer(i.segments), reason: i.message }));
  return sendProblem(reply, problem(400, 'invalid-request', 'The request body is not valid', { errors }));
}

function frameworkSlug(code: string): string {
  switch (code) {
    case 'FST_ERR_BAD_URL':
      return 'bad-url';
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return 'path-parameter-too-long';
    default:
      return 'bad-request';
  }
}

/** The request line may itself be the problem: only a printable, short one is echoed as `instance`. */
function safeInstance(url: string | undefined): string | undefined {
  return url && url.length <= 2048 && /^[\x21-\x7e]+$/.test(url) ? url : undefined;
}

const CLIENT_ERRORS: Record<string, [number, string, string]> = {
  HPE_HEADER_OVERFLOW: [431, 'headers-too-large', 'The request line and headers are over the size limit'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'request-timeout', 'The request was not received in time'],
  HPE_INVALID_CONTENT_LENGTH: [400, 'bad-request', 'The Content-Length header is not valid'],
  HPE_UNEXPECTED_CONTENT_LENGTH: [400, 'bad-request', 'Content-Length and Transfer-Encoding must not both be sent'],
  HPE_INVALID_TRANSFER_ENCODING: [400, 'bad-request', 'The Transfer-Encoding header is not valid'],
  HPE_INVALID_METHOD: [400, 'bad-request', 'The request method is not valid'],
  HPE_INVALID_URL: [400, 'bad-request', 'The request target is not valid'],
};

/** Node's HTTP parser refused the request: answer with a problem (never echoing what was sent), then close. */
function clientError(error: NodeJS.ErrnoException, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const known = Object.hasOwn(CLIENT_ERRORS, error.code ?? '') ? CLIENT_ERRORS[error.code!] : undefined;
  const [status, slug, detail] = known ?? [400, 'bad-request', 'The request is not valid HTTP/1.1'];
  const body = JSON.stringify(problem(status, slug, detail, { code: error.code }) satisfies Problem);
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\n` +
        `Content-Type: ${PROBLEM_CONTENT_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `Connection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
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
