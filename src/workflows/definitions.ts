/** Queries and signals of the fan-out workflows, shared by the workflows and the client. */
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { FanoutProgress } from '../contracts';

export const progressQuery = defineQuery<FanoutProgress>('progress');

/** A shard tells its fan-out that all its targets have settled and their records are stored (final callbacks may start). */
export const shardSettledSignal = defineSignal<[shardIndex: number]>('shardSettled');

/** A shard tells its fan-out that one of its targets failed, so the fan-out can apply its failure policy. */
export const targetFailedSignal = defineSignal<[shardIndex: number]>('targetFailed');
