/**
 * Listing fan-outs through Temporal visibility: the search attributes every fan-out sets (FanoutSource,
 * FanoutState) and its workflow type (the pattern) make the filter. Only top-level fan-outs are listed: shards and
 * child-workflow targets have other workflow types. Paging uses the server's page token, handed out as an opaque
 * base64url cursor with a check of its own, so a mangled cursor (or one of another filter) is refused up front.
 */
import { createHash } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { isGrpcServiceError } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import { defaultPayloadConverter } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { z } from 'zod';
import { FanoutState, SEARCH_ATTRIBUTES } from '../contracts';
import { hasLoneSurrogate } from './bounds';
import { InvalidRequestError } from './errors';

/** The pattern as the API names it, to the workflow type that runs it. */
const WORKFLOW_TYPES = { fanout: 'fanout', parallel: 'parallelExecution', 'invoke-retry': 'invokeRetry' } as const;
export const ListedPattern = z.enum(['fanout', 'parallel', 'invoke-retry']);
export type ListedPattern = z.infer<typeof ListedPattern>;

/** gRPC status INVALID_ARGUMENT: the server's answer to a page token it did not hand out. */
const GRPC_INVALID_ARGUMENT = 3;

/** Bytes of the check a cursor carries after the server's page token. */
const CURSOR_CHECK_BYTES = 8;

/**
 * What a listing may filter by. Every value that goes into the visibility query is checked here first. The source
 * is a source a fan-out can have (1 to 200 characters) less control characters, backslashes and double quotes:
 * visibility stores differ on how those are escaped (the dev server's SQLite matches neither escaped nor raw), so a
 * filter with them is refused rather than quietly matching nothing.
 */
export const FanoutListOptions = z.strictObject({
  source: z
    .string()
    .min(1)
    .max(200)
    .refine(
      (value) => !/[\p{Cc}\\"]/u.test(value) && !hasLoneSurrogate(value),
      'no control characters, backslashes or double quotes',
    )
    .optional()
    .describe('Only fan-outs started with this source'),
  state: FanoutState.optional().describe('Only fan-outs in this state (FanoutState)'),
  pattern: ListedPattern.optional().describe('Only this pattern: fanout, parallel or invoke-retry'),
  cursor: z
    .string()
    .max(8192)
    .regex(/^[A-Za-z0-9_-]+$/, 'a cursor from the page before')
    .optional()
    .describe('Where the page starts: the `cursor` of the page before'),
  limit: z.number().int().min(1).max(1000).optional().describe('Fan-outs per page, 1..1000 (default 100)'),
});
export type FanoutListOptions = z.input<typeof FanoutListOptions>;

export const FanoutListItem = z.object({
  cid: z.string(),
  pattern: ListedPattern,
  source: z.string().optional(),
  state: FanoutState.optional().describe('FanoutState as last set by the fan-out (stays `running` if terminated)'),
  started: z.string().describe('ISO 8601'),
  closed: z.string().optional().describe('ISO 8601; absent while running'),
  status: z.string().describe("Temporal's status: RUNNING, COMPLETED, FAILED, CANCELED, TERMINATED, …"),
});
export type FanoutListItem = z.infer<typeof FanoutListItem>;

export const FanoutList = z.object({
  fanouts: z.array(FanoutListItem).describe('Most recent first'),
  cursor: z.string().optional().describe('Pass as ?cursor= for the next page; absent on the last page'),
});
export type FanoutList = z.infer<typeof FanoutList>;

/**
 * A string literal of the visibility query language, for a value without backslashes (refused above): a quote is
 * doubled, as in SQL, so no value can end the literal and add to the query.
 */
export function quoteLiteral(value: string): string {
  if (value.includes('\\')) throw new Error('a backslash cannot be quoted portably in a visibility query');
  return `'${value.replace(/'/g, "''")}'`;
}

/** The visibility query for checked filters: always limited to the workflow types of top-level fan-outs. */
export function visibilityQuery(filter: { source?: string; state?: string; pattern?: ListedPattern }): string {
  const types = filter.pattern ? [WORKFLOW_TYPES[filter.pattern]] : Object.values(WORKFLOW_TYPES);
  const clauses = [`WorkflowType IN (${types.map(quoteLiteral).join(', ')})`];
  if (filter.source !== undefined) clauses.push(`${SEARCH_ATTRIBUTES.source} = ${quoteLiteral(filter.source)}`);
  if (filter.state !== undefined) clauses.push(`${SEARCH_ATTRIBUTES.state} = ${quoteLiteral(filter.state)}`);
  return clauses.join(' AND ');
}

/** One page of fan-outs matching `options`; InvalidRequestError (naming the option) for a value refused. */
export async function listFanouts(client: Client, options: FanoutListOptions = {}): Promise<FanoutList> {
  const parsed = FanoutListOptions.safeParse(options);
  if (!parsed.success)
    throw new InvalidRequestError(
      parsed.error.issues.map((issue) => ({
        path: issue.path.join('.'),
        segments: issue.path.map((key) => (typeof key === 'number' ? key : String(key))),
        message: issue.message,
      })),
    );
  const { cursor, limit = 100, ...filter } = parsed.data;
  const query = visibilityQuery(filter);
  const notOurs = () =>
    new InvalidRequestError([
      { path: 'cursor', segments: ['cursor'], message: 'not a cursor of this listing (with these filters)' },
    ]);
  const token = cursor === undefined ? undefined : readCursor(cursor, query);
  if (token === null) throw notOurs();
  let response: temporal.api.workflowservice.v1.IListWorkflowExecutionsResponse;
  try {
    response = await client.workflowService.listWorkflowExecutions({
      namespace: client.options.namespace,
      query,
      pageSize: limit,
      nextPageToken: token,
    });
  } catch (error) {
    if (token !== undefined && isGrpcServiceError(error) && error.code === GRPC_INVALID_ARGUMENT) throw notOurs();
    throw error;
  }
  const next = response.nextPageToken;
  return {
    fanouts: (response.executions ?? []).map(toItem),
    ...(next && next.length ? { cursor: writeCursor(next, query) } : {}),
  };
}

/** The server's page token and a check binding it to the query it pages through. */
function writeCursor(token: Uint8Array, query: string): string {
  return Buffer.concat([token, cursorCheck(token, query)]).toString('base64url');
}

/** The page token a cursor carries; null if the cursor was not written for this query. */
function readCursor(cursor: string, query: string): Buffer | null {
  const bytes = Buffer.from(cursor, 'base64url');
  if (bytes.length <= CURSOR_CHECK_BYTES) return null;
  const token = bytes.subarray(0, bytes.length - CURSOR_CHECK_BYTES);
  return cursorCheck(token, query).equals(bytes.subarray(bytes.length - CURSOR_CHECK_BYTES)) ? token : null;
}

function cursorCheck(token: Uint8Array, query: string): Buffer {
  return createHash('sha256').update(query).update('\0').update(token).digest().subarray(0, CURSOR_CHECK_BYTES);
}

const PATTERN_OF: Record<string, ListedPattern> = {
  fanout: 'fanout',
  parallelExecution: 'parallel',
  invokeRetry: 'invoke-retry',
};

function toItem(raw: temporal.api.workflow.v1.IWorkflowExecutionInfo): FanoutListItem {
  const fields = raw.searchAttributes?.indexedFields ?? {};
  const source = keyword(fields[SEARCH_ATTRIBUTES.source]);
  const state = FanoutState.safeParse(keyword(fields[SEARCH_ATTRIBUTES.state]));
  const statusName = temporal.api.enums.v1.WorkflowExecutionStatus[raw.status ?? 0] ?? 'UNSPECIFIED';
  const closed = isoTime(raw.closeTime);
  return {
    cid: raw.execution?.workflowId ?? '',
    pattern: PATTERN_OF[raw.type?.name ?? ''] ?? 'fanout',
    ...(source !== undefined ? { source } : {}),
    ...(state.success ? { state: state.data } : {}),
    started: isoTime(raw.startTime) ?? '',
    ...(closed ? { closed } : {}),
    status: statusName.replace(/^WORKFLOW_EXECUTION_STATUS_/, ''),
  };
}

/** A keyword search attribute's value: a JSON string (older servers: a list of one). */
function keyword(payload: Payload | undefined): string | undefined {
  if (!payload) return undefined;
  const value: unknown = defaultPayloadConverter.fromPayload(payload);
  const first = Array.isArray(value) ? value[0] : value;
  return typeof first === 'string' ? first : undefined;
}

function isoTime(timestamp: temporal.api.workflow.v1.IWorkflowExecutionInfo['startTime']): string | undefined {
  if (!timestamp || timestamp.seconds == null) return undefined;
  return new Date(Number(timestamp.seconds) * 1000 + Math.floor((timestamp.nanos ?? 0) / 1e6)).toISOString();
}
