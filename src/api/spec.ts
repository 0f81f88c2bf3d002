/** The API's operations, as served at /v1/openapi.json. */
import { FanoutControl, FanoutProgress, FanoutResult, InvokeRetryResult, RecordsPage } from '../contracts';
import type { OperationSpec, ResponseSpec } from './openapi';
import { buildOpenApiDocument } from './openapi';
import { Accepted, ApiRequests, FanoutControlRequest, InvokeRetryProgress, Redriven } from './schemas';

const problem = (description: string): ResponseSpec => ({ description, schema: 'problem' });
const common = { 401: problem('Missing or unknown API key') };
const accepted: Record<number, ResponseSpec> = {
  202: {
    description: 'Accepted: the work runs in the background',
    schema: 'Accepted',
    headers: { Location: 'Where to follow it: /v1/fanouts/{cid}' },
  },
  400: problem('Invalid request; `errors` names each invalid field'),
  ...common,
  409: problem('The CID is already in use'),
  413: problem('The body is over the configured size limit'),
  415: problem('The body is not application/json'),
  422: problem('Unknown services or callbacks, or a webhook URL pointing at an internal address'),
};
const byCid = { ...common, 404: problem('No fan-out has this CID') };

const OPERATIONS: OperationSpec[] = [
  {
    method: 'post',
    path: '/v1/fanouts',
    operationId: 'startFanout',
    summary: 'Fan-out / fan-in: invoke all targets in parallel, then the final callbacks with all responses',
    requestBody: 'FanoutRequest',
    responses: accepted,
  },
  {
    method: 'post',
    path: '/v1/parallel',
    operationId: 'startParallel',
    summary: 'Parallel execution: invoke all targets, an on-target callback after each',
    requestBody: 'ParallelRequest',
    responses: accepted,
  },
  {
    method: 'post',
    path: '/v1/invoke-retry',
    operationId: 'startInvokeRetry',
    summary: 'Invoke/retry: invoke one target up to `attempts` times, `interval` apart, then the callbacks',
    requestBody: 'InvokeRetryRequest',
    responses: accepted,
  },
  {
    method: 'get',
    path: '/v1/fanouts/:cid',
    operationId: 'getProgress',
    summary: 'State and progress of a fan-out, parallel execution or invoke/retry',
    responses: {
      200: {
        description: 'Progress (FanoutProgress, or InvokeRetryProgress for invoke/retry)',
        schema: 'FanoutProgress',
      },
      ...byCid,
    },
  },
  {
    method: 'get',
    path: '/v1/fanouts/:cid/result',
    operationId: 'getResult',
    summary: 'The final payload and callback outcomes, once finished',
    responses: {
      200: { description: 'Result (FanoutResult, or InvokeRetryResult for invoke/retry)', schema: 'FanoutResult' },
      ...byCid,
      409: problem(
        'Still running (`still-running`), or ended without a result (`fanout-failed`: `state` and `failure` say how)',
      ),
    },
  },
  {
    method: 'get',
    path: '/v1/fanouts/:cid/records',
    operationId: 'getRecords',
    summary:
      'The records settled so far, in target order: a page (?limit=1..1000, default 100, and ?cursor=), or with ' +
      '`Accept: application/x-ndjson` every record as one JSON line each, streamed',
    responses: {
      200: {
        description: 'A page of records (RecordsPage), or NDJSON lines of { state, record }',
        schema: 'RecordsPage',
      },
      ...byCid,
    },
  },
  {
    method: 'patch',
    path: '/v1/fanouts/:cid',
    operationId: 'control',
    summary: 'Change a running fan-out: targets in flight at most (maxConcurrency), pause or resume starting targets',
    requestBody: 'FanoutControlRequest',
    responses: {
      200: { description: 'The settings now in force', schema: 'FanoutControl' },
      400: problem('Invalid request; `errors` names each invalid field'),
      ...byCid,
      409: problem('The fan-out no longer starts targets (finished, finishing, stopped or cancelled)'),
    },
  },
  {
    method: 'post',
    path: '/v1/fanouts/:cid/redrive',
    operationId: 'redrive',
    summary: 'Run the failed and cancelled targets of a finished fan-out again; final callbacks run again',
    responses: {
      202: { description: 'Redrive started; follow it by its CID', schema: 'Redriven' },
      ...byCid,
      409: problem('Still running, ended without a result, or nothing failed or was cancelled'),
    },
  },
  {
    method: 'delete',
    path: '/v1/fanouts/:cid',
    operationId: 'cancel',
    summary: 'Cancel the targets still running; final callbacks still run with what was collected',
    responses: {
      202: { description: 'Cancellation requested', schema: 'Accepted' },
      ...byCid,
      409: problem('Already finished'),
    },
  },
  {
    method: 'get',
    path: '/v1/openapi.json',
    operationId: 'openapi',
    summary: 'This document (no API key needed)',
    responses: { 200: { description: 'OpenAPI 3.1 document' } },
  },
];

export function apiDocument(): Record<string, unknown> {
  return buildOpenApiDocument(
    {
      title: 'Fan-out / fan-in on Temporal',
      version: '1',
      description: "Zato's fan-out / fan-in, parallel execution and invoke/retry patterns over HTTP",
    },
    {
      requests: {
        FanoutRequest: ApiRequests.fanout.schema,
        ParallelRequest: ApiRequests.parallel.schema,
        InvokeRetryRequest: ApiRequests.invokeRetry.schema,
        FanoutControlRequest,
      },
      responses: {
        Accepted,
        Redriven,
        FanoutControl,
        FanoutProgress,
        InvokeRetryProgress,
        FanoutResult,
        InvokeRetryResult,
        RecordsPage,
      },
    },
    OPERATIONS,
  );
}
