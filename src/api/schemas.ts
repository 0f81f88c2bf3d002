/**
 * What the HTTP API reads and writes beyond the contract: each pattern's request as sent over HTTP, the control
 * body, the records query, and the small replies. The routes validate with these and the OpenAPI document
 * describes them, so both say the same.
 */
import { z } from 'zod';
import { FanoutListOptions } from '../client/listing';
import {
  CallbackList,
  FanoutProgress,
  FanoutRequest,
  FanoutState,
  InvokeRetryRequest,
  ItemsSource,
  MAX_CONCURRENCY_LIMIT,
  ParallelRequest,
  StopReason,
  TargetRecord,
  TargetState,
} from '../contracts';
import { DeliveryDestination } from './delivery-destination';

/**
 * What each pattern's request looks like over HTTP: the contract plus `delivery`, with the callback list optional
 * (the contract's "at least one" applies once `delivery` has been added to it). Fan-outs and parallel executions
 * take their targets in the body (`targets`) or from a file (`items`), exactly one of the two; their `options`
 * schema is the rest, as the first line of an NDJSON upload holds it.
 */
const callbacks = CallbackList.optional();
const delivery = DeliveryDestination.optional();
const fanoutOptions = FanoutRequest.extend({ finalCallbacks: callbacks, delivery }).omit({ targets: true });
const parallelOptions = ParallelRequest.extend({ onTarget: callbacks, delivery }).omit({ targets: true });

function withTargetsOrItems<Options extends z.ZodObject>(options: Options) {
  return options
    .extend({
      targets: FanoutRequest.shape.targets.optional(),
      items: ItemsSource.optional().describe(
        'In place of `targets`: the target items, read from a file (s3:// or, where the API allows it, file://)',
      ),
    })
    .superRefine((body, context) => {
      const given = ['targets', 'items'].filter((key) => (body as Record<string, unknown>)[key] !== undefined);
      if (given.length !== 1)
        context.addIssue({
          code: 'custom',
          path: given.length ? ['items'] : ['targets'],
          message: given.length ? 'targets or items, not both' : 'targets (or items) is required',
        });
    })
    .describe('The targets are given in `targets` or read from a file with `items`: exactly one of the two');
}

export const ApiRequests = {
  fanout: { schema: withTargetsOrItems(fanoutOptions), options: fanoutOptions, callbacks: 'finalCallbacks' },
  parallel: { schema: withTargetsOrItems(parallelOptions), options: parallelOptions, callbacks: 'onTarget' },
  invokeRetry: { schema: InvokeRetryRequest.extend({ callbacks, delivery }), callbacks: 'callbacks' },
} as const;
export type Pattern = keyof typeof ApiRequests;

export const InvokeRetryProgress = z
  .object({ cid: z.string(), pattern: z.literal('invoke-retry'), state: z.string().describe('running, completed, …') })
  .describe('State of an invoke/retry');
export type InvokeRetryProgress = z.infer<typeof InvokeRetryProgress>;

export const FanoutControlRequest = z
  .strictObject({
    maxConcurrency: z.number().int().min(1).max(MAX_CONCURRENCY_LIMIT).optional(),
    paused: z.boolean().optional().describe('true: start no new targets (running ones go on); false: start them again'),
  })
  .refine((body) => body.maxConcurrency !== undefined || body.paused !== undefined, 'maxConcurrency or paused')
  .describe('What to change in a running fan-out');

/** `?dryRun=true` on a start: the plan (200), nothing started. Text, as query strings arrive. */
export const StartQuery = z.object({
  dryRun: z
    .enum(['true', 'false'])
    .optional()
    .describe('true: check the request and answer with what it would do (FanoutPlan); nothing is started'),
});

/** Query strings arrive as text: whole numbers are checked as digits, so "1e3" or "-1" never reach the store. */
const digits = (max: number) => z.string().regex(new RegExp(`^\\d{1,${max}}$`), 'a whole number');

export const RecordsQuery = z.object({
  cursor: z
    .string()
    .regex(/^\d{1,6}$/)
    .optional()
    .describe('Where the page starts: the `cursor` of the page before'),
  limit: z
    .string()
    .regex(/^\d{1,4}$/)
    .optional()
    .describe('Records per page, 1..1000 (default 100)'),
  state: TargetState.exclude(['pending', 'running'])
    .optional()
    .describe('Only records of targets in this state: ok, failed or cancelled (a page may then hold fewer than limit)'),
});

/** `GET /v1/fanouts`: the client's listing options, the limit as text. */
export const ListFanoutsQuery = FanoutListOptions.extend({
  limit: digits(4).optional().describe('Fan-outs per page, 1..1000 (default 100)'),
}).strip();

/** `GET /v1/fanouts/{cid}/events`. */
export const EventsQuery = z.object({
  records: z
    .enum(['true', 'false'])
    .optional()
    .describe("false: counts and the end only, no event per target's record (for wide fan-outs)"),
});

/** What one Server-Sent Event carries: its `event:` name, its `id:` and the JSON of its `data:`. */
export const FanoutEventMessage = z
  .discriminatedUnion('event', [
    z.object({
      event: z.literal('progress'),
      id: z.string(),
      data: FanoutProgress.omit({ targets: true, runningShards: true }).describe('The counts, when they change'),
    }),
    z.object({
      event: z.literal('record'),
      id: z.string(),
      data: z
        .object({
          position: z.number(),
          state: TargetState,
          record: TargetRecord,
          redrive: z.number().optional().describe('The redrive that wrote it (absent: the first run)'),
        })
        .describe("A newly settled target's record and its position among the targets"),
    }),
    z.object({
      event: z.literal('end'),
      id: z.string(),
      data: z
        .object({
          state: z.union([FanoutState, z.enum(['terminated', 'timed-out'])]),
          counts: z.record(z.string(), z.number()).optional(),
          stopped: StopReason.optional(),
          redrive: z.number().optional(),
          ok: z.boolean().optional().describe('Invoke/retry: whether its target succeeded'),
          failure: z.object({ type: z.string(), message: z.string() }).optional(),
        })
        .describe('How it ended; the stream then closes'),
    }),
  ])
  .describe(
    'One event of the stream. Each `id` names the records sent so far: reconnect with it as Last-Event-ID to get ' +
      'only the others. Comment lines (`: keep-alive`) keep the connection open.',
  );

export const Redriven = z
  .object({ cid: z.string(), redrive: z.number(), targets: z.number().describe('Targets run again') })
  .describe('The failed and cancelled targets run again under the same CID');

export const Accepted = z.object({ cid: z.string() }).describe('The fan-out was accepted; follow it by its CID');
