/**
 * The API's routes, once: method, path, summary, the zod schemas of what each reads and writes, and every status
 * code it answers with. fastify's routes are registered from this table (./routes) and the OpenAPI document is
 * generated from it (./openapi), so what is served and what is described are the same list.
 */
import type { z } from 'zod';
import { FanoutList } from '../client/listing';
import {
  FanoutControl,
  FanoutPlan,
  FanoutProgress,
  FanoutResult,
  InvokeRetryResult,
  RecordsPage,
  ResultsManifest,
} from '../contracts';
import {
  Accepted,
  ApiRequests,
  EventsQuery,
  FanoutControlRequest,
  FanoutEventMessage,
  InvokeRetryProgress,
  ListFanoutsQuery,
  RecordsQuery,
  Redriven,
  StartQuery,
} from './schemas';

/** A schema under the name it has among the document's components. */
export interface NamedSchema {
  name: string;
  schema: z.ZodType;
}

export interface ResponseSpec {
  description: string;
  /** The body: a named schema, or `problem` for problem details (RFC 9457). */
  body?: NamedSchema | 'problem';
  /** The body invoke/retry sends instead: named in the description and listed among the components. */
  alternative?: NamedSchema;
  /** Header name to its description. */
  headers?: Record<string, string>;
  /** The body's media type when it is not JSON (e.g. text/event-stream). */
  mediaType?: string;
}

export interface RouteSpec {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** In fastify's syntax: `:name` is a path parameter. */
  path: string;
  summary: string;
  /** Served without an API key; every other route also answers 401. */
  public?: boolean;
  body?: NamedSchema;
  /** The body may also be NDJSON (application/x-ndjson), as described here: read as a stream, line by line. */
  ndjsonBody?: string;
  query?: z.ZodObject;
  /** Request headers the route reads, name to description. */
  requestHeaders?: Record<string, string>;
  /** By status code. */
  responses: Record<number, ResponseSpec>;
}

export const API_INFO = {
  title: 'Fan-out / fan-in on Temporal',
  version: '1',
  description: "Zato's fan-out / fan-in, parallel execution and invoke/retry patterns over HTTP",
};

const named = (name: string, schema: z.ZodType): NamedSchema => ({ name, schema });
const problem = (description: string): ResponseSpec => ({ description, body: 'problem' });

const invalidBody = problem('Invalid request; `errors` names each invalid field');
const accepted: Record<number, ResponseSpec> = {
  202: {
    description: 'Accepted: the work runs in the background',
    body: named('Accepted', Accepted),
    headers: { Location: 'Where to follow it: /v1/fanouts/{cid}' },
  },
  400: invalidBody,
  409: problem('The CID is already in use'),
  413: problem('The body is over the configured size limit'),
  415: problem('The body is not application/json'),
  422: problem(
    'Unknown services or callbacks, callbacks that cannot be delivered as configured, or a webhook URL pointing at an internal address',
  ),
};
/** A fan-out's or parallel execution's start, which may be a dry run: the same refusals, the plan instead of 202. */
const acceptedOrPlanned: Record<number, ResponseSpec> = {
  ...accepted,
  200: {
    description: 'Dry run (`?dryRun=true`): what it would do; nothing started',
    body: named('FanoutPlan', FanoutPlan),
  },
  400: problem(
    'Invalid request (`errors` names each invalid field; in an NDJSON body by line: /line/1 is the options), ' +
      '`dryRun` is neither true nor false, or a dry run of targets not in application/json `targets`',
  ),
  413: problem('The body is over the configured size limit (API_BODY_LIMIT; NDJSON bodies: API_NDJSON_LIMIT)'),
  415: problem('The body is neither application/json nor application/x-ndjson'),
  422: problem(
    'Unknown services or callbacks, callbacks that cannot be delivered as configured, a webhook URL pointing at an ' +
      'internal address, or `items` that cannot be read: no such object or file (`items-not-found`), a file URL ' +
      'where file items are not enabled or outside their folder (`items-refused`)',
  ),
};
/** How an NDJSON body of a fan-out or parallel execution reads. */
const ndjsonBody = (options: string) =>
  `NDJSON: the first line is ${options} as JSON (every field but \`targets\` and \`items\`), every further line one ` +
  'target item, { "name", "service"?, "request" }. Read as it arrives; problems name the line (/line/<n>); at most ' +
  '100,000 targets and API_NDJSON_LIMIT bytes (default 256 MiB); no dry run.';
const unknownCid = problem('No fan-out has this CID');

/** Keyed by operation id: the document's `operationId`, and the name of each route's handler. */
export const ROUTES = {
  listFanouts: {
    method: 'GET',
    path: '/v1/fanouts',
    summary:
      'Top-level fan-outs, parallel executions and invoke/retries, most recent first, a page at a time ' +
      '(?limit=1..1000, default 100, and ?cursor=), filtered by ?source=, ?state= and ?pattern=',
    query: ListFanoutsQuery,
    responses: {
      200: { description: 'A page of fan-outs', body: named('FanoutList', FanoutList) },
      400: problem('A query parameter is not valid; `errors` names each one (e.g. /state)'),
    },
  },
  startFanout: {
    method: 'POST',
    path: '/v1/fanouts',
    summary: 'Fan-out / fan-in: invoke all targets in parallel, then the final callbacks with all responses',
    body: named('FanoutRequest', ApiRequests.fanout.schema),
    ndjsonBody: ndjsonBody('FanoutRequest'),
    query: StartQuery,
    responses: acceptedOrPlanned,
  },
  startParallel: {
    method: 'POST',
    path: '/v1/parallel',
    summary: 'Parallel execution: invoke all targets, an on-target callback after each',
    body: named('ParallelRequest', ApiRequests.parallel.schema),
    ndjsonBody: ndjsonBody('ParallelRequest'),
    query: StartQuery,
    responses: acceptedOrPlanned,
  },
  startInvokeRetry: {
    method: 'POST',
    path: '/v1/invoke-retry',
    summary: 'Invoke/retry: invoke one target up to `attempts` times, `interval` apart, then the callbacks',
    body: named('InvokeRetryRequest', ApiRequests.invokeRetry.schema),
    responses: accepted,
  },
  getProgress: {
    method: 'GET',
    path: '/v1/fanouts/:cid',
    summary: 'State and progress of a fan-out, parallel execution or invoke/retry',
    responses: {
      200: {
        description: 'Progress (FanoutProgress, or InvokeRetryProgress for invoke/retry)',
        body: named('FanoutProgress', FanoutProgress),
        alternative: named('InvokeRetryProgress', InvokeRetryProgress),
      },
      404: unknownCid,
    },
  },
  getResult: {
    method: 'GET',
    path: '/v1/fanouts/:cid/result',
    summary: 'The final payload and callback outcomes, once finished',
    responses: {
      200: {
        description: 'Result (FanoutResult, or InvokeRetryResult for invoke/retry)',
        body: named('FanoutResult', FanoutResult),
        alternative: named('InvokeRetryResult', InvokeRetryResult),
      },
      404: unknownCid,
      409: problem(
        'Still running (`still-running`), or ended without a result (`fanout-failed`: `state` and `failure` say how)',
      ),
    },
  },
  getRecords: {
    method: 'GET',
    path: '/v1/fanouts/:cid/records',
    summary:
      'The records settled so far, in target order: a page (?limit=1..1000, default 100, and ?cursor=), or with ' +
      '`Accept: application/x-ndjson` every record as one JSON line each, streamed',
    query: RecordsQuery,
    responses: {
      200: {
        description: 'A page of records (RecordsPage), or NDJSON lines of { state, record }',
        body: named('RecordsPage', RecordsPage),
      },
      400: problem('`cursor` or `limit` is not a whole number, or `state` is not ok, failed or cancelled'),
      404: unknownCid,
    },
  },
  getResultFiles: {
    method: 'GET',
    path: '/v1/fanouts/:cid/results/manifest',
    summary:
      'The manifest of the results files of a fan-out started with `writeResults`: a JSON-lines file of records ' +
      'per outcome in the result store, written once the targets have settled (again by each redrive)',
    responses: {
      200: { description: 'What each file holds and its key', body: named('ResultsManifest', ResultsManifest) },
      404: problem('No results written under this CID: not yet, or the fan-out did not ask for them'),
    },
  },
  getEvents: {
    method: 'GET',
    path: '/v1/fanouts/:cid/events',
    summary:
      'Server-Sent Events while it runs: `progress` with the counts when they change, `record` per target as it ' +
      'settles (unless ?records=false), then `end` with the outcome, and the stream closes',
    query: EventsQuery,
    requestHeaders: { 'Last-Event-ID': 'Resume: the `id` of the last event received; its records are not sent again' },
    responses: {
      200: {
        description: 'text/event-stream of FanoutEventMessage events',
        body: named('FanoutEventMessage', FanoutEventMessage),
        mediaType: 'text/event-stream',
      },
      400: problem('`records` is not true or false, or Last-Event-ID is not an ID of this stream'),
      404: unknownCid,
    },
  },
  control: {
    method: 'PATCH',
    path: '/v1/fanouts/:cid',
    summary: 'Change a running fan-out: targets in flight at most (maxConcurrency), pause or resume starting targets',
    body: named('FanoutControlRequest', FanoutControlRequest),
    responses: {
      200: { description: 'The settings now in force', body: named('FanoutControl', FanoutControl) },
      400: invalidBody,
      404: unknownCid,
      409: problem('The fan-out no longer starts targets (finished, finishing, stopped or cancelled)'),
    },
  },
  redrive: {
    method: 'POST',
    path: '/v1/fanouts/:cid/redrive',
    summary: 'Run the failed and cancelled targets of a finished fan-out again; final callbacks run again',
    responses: {
      202: { description: 'Redrive started; follow it by its CID', body: named('Redriven', Redriven) },
      404: unknownCid,
      409: problem('Still running, ended without a result, or nothing failed or was cancelled'),
    },
  },
  cancel: {
    method: 'DELETE',
    path: '/v1/fanouts/:cid',
    summary: 'Cancel the targets still running; final callbacks still run with what was collected',
    responses: {
      202: { description: 'Cancellation requested', body: named('Accepted', Accepted) },
      404: unknownCid,
      409: problem('Already finished'),
    },
  },
  openapi: {
    method: 'GET',
    path: '/v1/openapi.json',
    summary: 'This document (no API key needed)',
    public: true,
    responses: { 200: { description: 'OpenAPI 3.1 document' } },
  },
  health: {
    method: 'GET',
    path: '/healthz',
    summary: 'Liveness: answers while the process serves requests (no API key needed)',
    public: true,
    responses: { 200: { description: '{ "ok": true }' } },
  },
} as const satisfies Record<string, RouteSpec>;

export type OperationId = keyof typeof ROUTES;
