/**
 * The start routes (POST /v1/fanouts, /v1/parallel, /v1/invoke-retry): the body checked against the route's
 * schema, the `delivery` shorthand merged in and webhook URLs checked, then a start or a dry run. Fan-outs and
 * parallel executions may take their targets streamed in instead: as the lines of an NDJSON body (its first line
 * the options, checked the same way), or as `items` read from a file in the store.
 */
import { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import type { FanoutClient, ItemSourceOptions } from '../client';
import { InvalidRequestError, readTargetItems } from '../client';
import { boundsIssues } from '../client/bounds';
import { UnreadableItem } from '../client/staging';
import type { ItemsSource } from '../contracts';
import type { AddressPolicy } from '../delivery/address-policy';
import { continueTrace } from '../tracing/active-context';
import type { CallbackRefLike, DeliveryDestination } from './delivery-destination';
import { destinationCallback, invalidDeliveryOptions, refusedWebhookUrls } from './delivery-destination';
import { sendClientError } from './errors';
import { NdjsonTooLargeError, ndjsonLine, readNdjsonBody } from './ndjson-body';
import type { Problem } from './problem';
import { invalidParams, problem, sendProblem, toPointer } from './problem';
import type { Pattern } from './schemas';
import { ApiRequests, StartQuery } from './schemas';

export interface StartDeps {
  client: FanoutClient;
  addressPolicy?: AddressPolicy;
  /** An NDJSON body's bytes at most. */
  ndjsonLimit: number;
  /** Where `items` are read: the S3 connection's environment, and the folder file:// items must be in (if any). */
  items: ItemSourceOptions;
}

const CALLBACK_LISTS = ['finalCallbacks', 'onTarget', 'callbacks'] as const;
/** Where an NDJSON body's options are: its first line. */
const OPTIONS_LINE = ['line', 1];

type Checked = { request: Record<string, unknown> } | { problem: Problem };

export function startRoute(pattern: Pattern, deps: StartDeps) {
  const start = startHandler(pattern, deps);
  // A caller that sends `traceparent` gets the fan-out in its own trace (when tracing is on; a no-op otherwise).
  return (request: FastifyRequest, reply: FastifyReply): Promise<unknown> =>
    continueTrace(request.headers, () => start(request, reply));
}

function startHandler(pattern: Pattern, deps: StartDeps) {
  const { client } = deps;
  return async (request: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    // Fan-outs and parallel executions may be dry runs. Invoke/retry has none: asked for one, it refuses rather
    // than start for real.
    const query = StartQuery.safeParse(request.query);
    if (!query.success) return sendProblem(reply, problem(400, 'invalid-query', 'dryRun is true or false'));
    const dryRun = query.data.dryRun === 'true';
    if (dryRun && pattern === 'invokeRetry')
      return sendProblem(reply, problem(400, 'invalid-query', 'invoke/retry has no dry run; nothing was started'));
    if (request.body instanceof Readable && pattern !== 'invokeRetry')
      return startNdjson(pattern, request, reply, dryRun, deps);

    const checked = await checkStart(pattern, ApiRequests[pattern].schema, request.body, deps);
    if ('problem' in checked) return sendProblem(reply, checked.problem);
    const { items, ...rest } = checked.request as { items?: ItemsSource };
    try {
      if (items && pattern !== 'invokeRetry') {
        if (dryRun) return sendProblem(reply, problem(400, 'invalid-query', 'A dry run takes `targets`, not `items`'));
        if (items.url.startsWith('file:') && deps.items.fileRoot === undefined)
          return sendProblem(
            reply,
            problem(422, 'items-refused', 'File items are not enabled on this API (API_ITEMS_FILE_ROOT)', items),
          );
        return accepted(reply, await client.startStreamed(pattern, rest, readTargetItems(items, deps.items)));
      }
      // Everything above and every check of the start itself (the same planning code), then the plan, not a start.
      if (dryRun && pattern !== 'invokeRetry') return reply.code(200).send(await client.plan(rest, { pattern }));
      const started = {
        fanout: () => client.startFanout(rest),
        parallel: () => client.startParallel(rest),
        invokeRetry: () => client.invokeRetry(rest),
      };
      return accepted(reply, await started[pattern]());
    } catch (error) {
      return sendClientError(reply, error);
    }
  };
}

async function startNdjson(
  pattern: 'fanout' | 'parallel',
  request: FastifyRequest,
  reply: FastifyReply,
  dryRun: boolean,
  deps: StartDeps,
): Promise<unknown> {
  if (dryRun)
    return sendProblem(reply, problem(400, 'invalid-query', 'A dry run takes application/json; nothing was started'));
  const tooLarge = () =>
    sendProblem(
      reply.header('connection', 'close'),
      problem(413, 'body-too-large', `NDJSON bodies are at most ${deps.ndjsonLimit} bytes`),
    );
  if (Number(request.headers['content-length'] ?? 0) > deps.ndjsonLimit) return tooLarge();
  try {
    const { options, items } = await readNdjsonBody(request.body as Readable, deps.ndjsonLimit);
    const unreadable = options instanceof UnreadableItem ? [{ segments: [], message: options.reason }] : [];
    const issues = unreadable.length ? unreadable : boundsIssues(options);
    if (issues.length)
      return invalid(
        reply,
        issues.map((i) => ({ pointer: toPointer([...OPTIONS_LINE, ...i.segments]), reason: i.message })),
      );
    const checked = await checkStart(pattern, ApiRequests[pattern].options, options, deps, toPointer(OPTIONS_LINE));
    if ('problem' in checked) return sendProblem(reply, checked.problem);
    return accepted(reply, await deps.client.startStreamed(pattern, checked.request, items, ndjsonLine));
  } catch (error) {
    if (error instanceof NdjsonTooLargeError) return tooLarge();
    return sendClientError(reply, error instanceof InvalidRequestError ? onOptionsLine(error) : error);
  }
}

/**
 * A start's body (or an NDJSON body's options) checked against `schema`, with the `delivery` shorthand merged into
 * the callbacks and webhook URLs checked; problems are named from `at` (an NDJSON body's options: /line/1).
 */
async function checkStart(
  pattern: Pattern,
  schema: z.ZodType,
  body: unknown,
  deps: StartDeps,
  at = '',
): Promise<Checked> {
  const { callbacks: listName } = ApiRequests[pattern];
  const parsed = schema.safeParse(body);
  const errors = parsed.success ? [] : invalidParams(parsed.error.issues, at);
  const fields = (body ?? {}) as Record<string, unknown>;
  for (const list of CALLBACK_LISTS) errors.push(...invalidDeliveryOptions(fields[list], `${at}/${list}`));
  if (errors.length || !parsed.success) return { problem: invalidBody(errors) };

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
    if (refused.length) return { problem: problem(422, 'webhook-url-refused', refused.join('; ')) };
  }
  return { request: merged };
}

/** The options' own problems (found as the start plans them) named on line 1, where an NDJSON body has them. */
function onOptionsLine(error: InvalidRequestError): InvalidRequestError {
  return new InvalidRequestError(
    error.issues.map((issue) => {
      if (issue.segments[0] === 'line') return issue;
      const segments = [...OPTIONS_LINE, ...issue.segments];
      return { ...issue, segments, path: segments.join('.') };
    }),
  );
}

function invalidBody(errors: { pointer: string; reason: string }[]): Problem {
  return problem(400, 'invalid-request', 'The request body is not valid', { errors });
}

function invalid(reply: FastifyReply, errors: { pointer: string; reason: string }[]): FastifyReply {
  return sendProblem(reply, invalidBody(errors));
}

function accepted(reply: FastifyReply, cid: string): FastifyReply {
  return reply
    .code(202)
    .header('location', `/v1/fanouts/${encodeURIComponent(cid)}`)
    .send({ cid });
}
