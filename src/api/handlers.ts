/**
 * What each operation of the route table does. Requests are validated with the table's zod schemas (plus the
 * optional `delivery` shorthand) before the client is called, so every invalid field is reported by JSON Pointer;
 * the client's typed errors map to status codes.
 */
import { Readable } from 'node:stream';
import { QueryNotRegisteredError } from '@temporalio/client';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FanoutClient } from '../client';
import { InvalidRequestError } from '../client';
import type { AddressPolicy } from '../delivery/address-policy';
import type { CallbackRefLike, DeliveryDestination } from './delivery-destination';
import { destinationCallback, invalidDeliveryOptions, refusedWebhookUrls } from './delivery-destination';
import { sendClientError } from './errors';
import { streamEvents } from './event-stream';
import { buildOpenApiDocument } from './openapi';
import type { InvalidParam } from './problem';
import { invalidParams, problem, sendProblem } from './problem';
import type { OperationId } from './route-table';
import { API_INFO, ROUTES } from './route-table';
import type { InvokeRetryProgress, Pattern } from './schemas';
import { ApiRequests, FanoutControlRequest, ListFanoutsQuery, RecordsQuery, StartQuery } from './schemas';

export interface RouteDeps {
  fanoutClient: FanoutClient;
  addressPolicy?: AddressPolicy;
  /** Between keep-alive comments on an event stream (default 15 s). */
  eventsKeepAliveMs?: number;
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

const CALLBACK_LISTS = ['finalCallbacks', 'onTarget', 'callbacks'] as const;

export function createHandlers(deps: RouteDeps): Handlers {
  const { fanoutClient: client } = deps;
  const document = buildOpenApiDocument(API_INFO, ROUTES);
  const start: Record<Pattern, (request: unknown) => Promise<string>> = {
    fanout: (request) => client.startFanout(request),
    parallel: (request) => client.startParallel(request),
    invokeRetry: (request) => client.invokeRetry(request),
  };

  const accept = (pattern: Pattern) => async (request: FastifyRequest, reply: FastifyReply) => {
    // Fan-outs and parallel executions may be dry runs. Invoke/retry has none: asked for one, it refuses rather
    // than start for real.
    const query = StartQuery.safeParse(request.query);
    if (!query.success) return sendProblem(reply, problem(400, 'invalid-query', 'dryRun is true or false'));
    const dryRun = query.data.dryRun === 'true';
    if (dryRun && pattern === 'invokeRetry')
      return sendProblem(reply, problem(400, 'invalid-query', 'invoke/retry has no dry run; nothing was started'));
    const { schema, callbacks: listName } = ApiRequests[pattern];
    const parsed = schema.safeParse(request.body);
    const errors = parsed.success ? [] : invalidParams(parsed.error.issues);
    const body = (request.body ?? {}) as Record<string, unknown>;
    for (const list of CALLBACK_LISTS) errors.push(...invalidDeliveryOptions(body[list], `/${list}`));
    if (errors.length || !parsed.success) {
      return sendProblem(reply, problem(400, 'invalid-request', 'The request body is not valid', { errors }));
    }

    // The delivery destination is just one more callback of the list that reports the result.
    const { delivery, ...rest } = parsed.data as Record<string, unknown> & { delivery?: DeliveryDestination };
    const merged: Record<string, unknown> = { ...rest };
    if (delivery) merged[listName] = [...((rest[listName] as unknown[]) ?? []), destinationCallback(delivery)];

    if (deps.addressPolicy) {
      const refs = CALLBACK_LISTS.flatMap((list) => (merged[list] as CallbackRefLike[] | undefined) ?? []);
      const refused = await refusedWebhookUrls(
        refs.filter((ref) => typeof ref === 'object'),
        deps.addressPolicy,
      );
      if (refused.length) return sendProblem(reply, problem(422, 'webhook-url-refused', refused.join('; ')));
    }

    try {
      // Everything above and every check of the start itself (the same planning code), then the plan, not a start.
      if (dryRun && pattern !== 'invokeRetry') return reply.code(200).send(await client.plan(merged, { pattern }));
      const cid = await start[pattern](merged);
      return reply
        .code(202)
        .header('location', `/v1/fanouts/${encodeURIComponent(cid)}`)
        .send({ cid });
    } catch (error) {
      return sendClientError(reply, error);
    }
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

    startFanout: accept('fanout'),
    startParallel: accept('parallel'),
    startInvokeRetry: accept('invokeRetry'),

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
