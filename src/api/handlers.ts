/**
 * What each operation of the route table does. Requests are validated with the table's zod schemas (plus the
 * optional `delivery` shorthand) before the client is called, so every invalid field is reported by JSON Pointer;
 * the client's typed errors map to status codes. The starts, with their streamed targets, are in ./starts.
 */
import { Readable } from 'node:stream';
import { QueryNotRegisteredError } from '@temporalio/client';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FanoutClient } from '../client';
import { InvalidRequestError } from '../client';
import type { AddressPolicy } from '../delivery/address-policy';
import { sendClientError } from './errors';
import { streamEvents } from './event-stream';
import { DEFAULT_NDJSON_LIMIT } from './ndjson-body';
import { buildOpenApiDocument } from './openapi';
import type { InvalidParam } from './problem';
import { invalidParams, problem, sendProblem } from './problem';
import type { OperationId } from './route-table';
import { API_INFO, ROUTES } from './route-table';
import type { InvokeRetryProgress } from './schemas';
import { FanoutControlRequest, ListFanoutsQuery, RecordsQuery } from './schemas';
import type { StartDeps } from './starts';
import { startRoute } from './starts';

export interface RouteDeps {
  fanoutClient: FanoutClient;
  addressPolicy?: AddressPolicy;
  /** Between keep-alive comments on an event stream (default 15 s). */
  eventsKeepAliveMs?: number;
  /** An NDJSON start's body in bytes at most (default 256 MiB). */
  ndjsonLimit?: number;
  /** `items` may name file:// URLs inside this folder only; unset, file items are refused. */
  itemsFileRoot?: string;
  /** Where `items` in S3 are read with: S3_ENDPOINT, AWS_REGION, AWS_* credentials (default: process.env). */
  itemsEnv?: NodeJS.ProcessEnv;
}

/** `{ cid: string }` for '/v1/fanouts/:cid': a handler's params, read from its route's path. */
type PathParams<Path extends string> = Path extends `${string}:${infer Name}/${infer Rest}`
  ? Record<Name, string> & PathParams<`/${Rest}`>
  : Path extends `${string}:${infer Name}`
    ? Record<Name, string>
    : Record<string, never>;

type Handler<Path extends string> = (
  request: FastifyRequest<{ Params: PathParams<Path> }>,
  reply: FastifyReply,
) => Promise<unknown>;

/** One handler per operation of the table, no more, no fewer. */
export type Handlers = { [Id in OperationId]: Handler<(typeof ROUTES)[Id]['path']> };

export function createHandlers(deps: RouteDeps): Handlers {
  const { fanoutClient: client } = deps;
  const document = buildOpenApiDocument(API_INFO, ROUTES);
  const starts: StartDeps = {
    client,
    addressPolicy: deps.addressPolicy,
    ndjsonLimit: deps.ndjsonLimit ?? DEFAULT_NDJSON_LIMIT,
    items: { fileRoot: deps.itemsFileRoot, env: deps.itemsEnv },
  };

  return {
    listFanouts: async (request, reply) => {
      const query = ListFanoutsQuery.safeParse(request.query);
      if (!query.success) return invalidQuery(reply, invalidParams(query.error.issues));
      const { limit, ...filter } = query.data;
      try {
        return await client.list({ ...filter, ...(limit !== undefined ? { limit: Number(limit) } : {}) });
      } catch (error) {
        // The limit out of range, or a cursor the server does not know: still a parameter of the query.
        if (error instanceof InvalidRequestError)
          return invalidQuery(
            reply,
            error.issues.map((issue) => ({ pointer: `/${issue.path}`, reason: issue.message })),
          );
        return sendClientError(reply, error);
      }
    },

    startFanout: startRoute('fanout', starts),
    startParallel: startRoute('parallel', starts),
    startInvokeRetry: startRoute('invokeRetry', starts),

    getProgress: async (request, reply) => {
      const { cid } = request.params;
      try {
        return await client.progress(cid);
      } catch (error) {
        // Invoke/retry has no progress query: its Temporal status is all there is to say.
        if (!(error instanceof QueryNotRegisteredError)) return sendClientError(reply, error);
      }
      try {
        return {
          cid,
          pattern: 'invoke-retry',
          state: (await client.status(cid)).toLowerCase(),
        } satisfies InvokeRetryProgress;
      } catch (error) {
        return sendClientError(reply, error);
      }
    },

    getResult: async (request, reply) => {
      try {
        return await client.result(request.params.cid, { wait: false });
      } catch (error) {
        return sendClientError(reply, error);
      }
    },

    getRecords: async (request, reply) => {
      const { cid } = request.params;
      const query = RecordsQuery.safeParse(request.query);
      if (!query.success) return invalidQuery(reply, invalidParams(query.error.issues), { cid });
      const { cursor, limit, state } = query.data;
      try {
        if (!String(request.headers.accept ?? '').includes('application/x-ndjson'))
          return await client.recordsPage(cid, {
            cursor,
            state,
            limit: limit === undefined ? undefined : Number(limit),
          });
        await client.recordsPage(cid, { limit: 1 }); // 404 before the stream starts
        reply.type('application/x-ndjson');
        return reply.send(Readable.from(ndjson(client.records.all(cid, undefined, state))));
      } catch (error) {
        return sendClientError(reply, error);
      }
    },

    getResultFiles: async (request, reply) => {
      const { cid } = request.params;
      const manifest = await client.resultFiles(cid);
      return (
        manifest ??
        sendProblem(reply, problem(404, 'results-not-found', `Fan-out ${cid} has no results written`, { cid }))
      );
    },

    getEvents: (request, reply) => streamEvents(request, reply, client, deps.eventsKeepAliveMs),

    control: async (request, reply) => {
      const { cid } = request.params;
      const parsed = FanoutControlRequest.safeParse(request.body);
      if (!parsed.success) {
        const errors = invalidParams(parsed.error.issues);
        return sendProblem(reply, problem(400, 'invalid-request', 'The request body is not valid', { errors }));
      }
      try {
        const { maxConcurrency, paused } = parsed.data;
        let control = maxConcurrency !== undefined ? await client.setMaxConcurrency(cid, maxConcurrency) : undefined;
        if (paused !== undefined) control = paused ? await client.pause(cid) : await client.resume(cid);
        return control;
      } catch (error) {
        return sendClientError(reply, error);
      }
    },

    redrive: async (request, reply) => {
      try {
        const redriven = await client.redrive(request.params.cid);
        return reply
          .code(202)
          .header('location', `/v1/fanouts/${encodeURIComponent(redriven.cid)}`)
          .send(redriven);
      } catch (error) {
        return sendClientError(reply, error);
      }
    },

    cancel: async (request, reply) => {
      const { cid } = request.params;
      try {
        const status = await client.status(cid);
        if (status !== 'RUNNING') {
          return sendProblem(
            reply,
            problem(409, 'not-running', `Fan-out ${cid} is no longer running (${status})`, { cid }),
          );
        }
        await client.cancel(cid);
        return reply.code(202).send({ cid });
      } catch (error) {
        return sendClientError(reply, error);
      }
    },

    openapi: async () => document,
    health: async () => ({ ok: true }),
  };
}

/** A 400 naming each invalid query parameter (`/name`). */
function invalidQuery(reply: FastifyReply, errors: InvalidParam[], extra: Record<string, unknown> = {}) {
  return sendProblem(reply, problem(400, 'invalid-query', 'A query parameter is not valid', { ...extra, errors }));
}

/** One JSON line per record: a reader holds one page at a time, whatever the width. */
async function* ndjson(records: AsyncIterable<unknown>): AsyncGenerator<string> {
  for await (const record of records) yield `${JSON.stringify(record)}\n`;
}
