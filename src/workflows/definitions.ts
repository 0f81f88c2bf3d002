/** Queries of the fan-out workflows, shared by the workflows and the client. */
import { defineQuery } from '@temporalio/workflow';
import type { FanoutProgress } from '../contracts';

export const progressQuery = defineQuery<FanoutProgress>('progress');
