/** Queries and signals of the fan-out workflows, shared by the workflows and the client. */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { BatchProgress, FanoutControl, FanoutProgress, FanoutWorkflowInput } from '../contracts';
import { BATCH_PROGRESS_SIGNAL } from '../constants';

export const progressQuery = defineQuery<FanoutProgress>('progress');

/** A shard tells its fan-out that all its targets have settled and their records are stored (final callbacks may start). */
export const shardSettledSignal = defineSignal<[shardIndex: number]>('shardSettled');

/** A shard tells its fan-out that one of its targets failed, so the fan-out can apply its failure policy. */
export const targetFailedSignal = defineSignal<[shardIndex: number]>('targetFailed');

/** A shard tells its fan-out how many of its targets have succeeded so far, so the fan-out can check its quorum. */
export const shardSucceededSignal = defineSignal<[shardIndex: number, ok: number]>('shardSucceeded');

/** Targets in flight at most from now on (1 to MAX_CONCURRENCY_LIMIT), while the fan-out still starts targets. */
export const setMaxConcurrencyUpdate = defineUpdate<FanoutControl, [maxConcurrency: number]>('setMaxConcurrency');

/** Stop starting new targets (those running go on), e.g. while a backend is down; `resume` starts them again. */
export const pauseUpdate = defineUpdate<FanoutControl>('pause');
export const resumeUpdate = defineUpdate<FanoutControl>('resume');

/** The fan-out passes its concurrency and pause on to its running shards: `concurrency` is a shard's targets at once. */
export const shardControlSignal = defineSignal<[control: { concurrency: number; paused: boolean }]>('shardControl');

/**
 * For a redrive: the request this run was started with, its targets narrowed to the given positions in the whole
 * fan-out. Asked of a finished fan-out (a worker replays it to answer).
 */
export const redrivePlanQuery = defineQuery<FanoutWorkflowInput, [indexes: number[]]>('redrivePlan');

/** A worker tells the execution running its batches which of their targets have settled so far. */
export const batchProgressSignal = defineSignal<[batches: BatchProgress[]]>(BATCH_PROGRESS_SIGNAL);

/**
 * A service's limiter (`serviceLimiter`): at most `limit` leases held at once. Its concurrency limiter (workflow ID
 * `limiterWorkflowId(service)`): a target takes a lease for `leaseMs` before it calls the service, renews it while
 * it runs and releases it when done. Its window limiter (`windowLimiterWorkflowId(service)`): a target takes a lease
 * of a second and a margin, and neither renews nor releases it. The answer is when the lease was granted (the
 * limiter's clock, ms since the epoch); runs of 1.0.1 and earlier answered nothing. With `aheadMs`, when every lease
 * is held, the ask may be granted the place of the lease that ends first, if it ends within that time: the answer is
 * then when the new lease starts, in the future (limiters of 1.0.2 and earlier ignore it, and answer at once).
 */
export const acquireLeaseUpdate = defineUpdate<
  number | void,
  [holder: string, leaseMs: number, limit: number, aheadMs?: number]
>('acquire');
export const renewLeaseSignal = defineSignal<[holder: string, leaseMs: number]>('renew');
export const releaseLeaseSignal = defineSignal<[holder: string]>('release');
