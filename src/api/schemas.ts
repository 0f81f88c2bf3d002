/**
 * What the HTTP API reads and writes beyond the contract: each pattern's request as sent over HTTP, the control
 * body, the records query, and the small replies. The routes validate with these and the OpenAPI document
 * describes them, so both say the same.
 */
import { z } from 'zod';
import { CallbackList, FanoutRequest, InvokeRetryRequest, MAX_CONCURRENCY_LIMIT, ParallelRequest } from '../contracts';
import { DeliveryDestination } from './delivery-destination';

/**
 * What each pattern's request looks like over HTTP: the contract plus `delivery`, with the callback list optional
 * (the contract's "at least one" applies once `delivery` has been added to it).
 */
const callbacks = CallbackList.optional();
const delivery = DeliveryDestination.optional();
export const ApiRequests = {
  fanout: { schema: FanoutRequest.extend({ finalCallbacks: callbacks, delivery }), callbacks: 'finalCallbacks' },
  parallel: { schema: ParallelRequest.extend({ onTarget: callbacks, delivery }), callbacks: 'onTarget' },
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
});

export const Redriven = z
  .object({ cid: z.string(), redrive: z.number(), targets: z.number().describe('Targets run again') })
  .describe('The failed and cancelled targets run again under the same CID');

export const Accepted = z.object({ cid: z.string() }).describe('The fan-out was accepted; follow it by its CID');
