/**
 * The typed client: start fan-outs, parallel executions and invoke/retries, get their CID back at once, then
 * follow them by CID (progress, result, cancel). The CID is the workflow ID.
 */
import { randomUUID } from 'node:crypto';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { WorkflowFailedError } from '@temporalio/client';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/common';
import type {
  CallbackRef,
  Catalog,
  Defaults,
  FanoutProgress,
  FanoutResult,
  FanoutWorkflowInput,
  InvokeRetryRequest,
  InvokeRetryResult,
  InvokeRetryWorkflowInput,
  TargetOptions,
} from '../contracts';
import { Cid, FANOUT_TASK_QUEUE, FanoutSourceKey, FanoutStateKey, callbackName } from '../contracts';
import { Registry } from '../registry';
import { progressQuery } from '../workflows/definitions';
import {
  DuplicateCidError,
  FanoutFailedError,
  FanoutNotFoundError,
  FanoutRunningError,
  PayloadTooLargeError,
} from './errors';
import { hasLoneSurrogate } from './bounds';
import type { Schemas } from './plan';
import { planFanout, planInvokeRetry } from './plan';

/** Temporal's default payload limit; a start request over it would be refused by the server. */
export const PAYLOAD_LIMIT_BYTES = 2 * 1024 * 1024;

export interface FanoutClientOptions {
  client: Client;
  /** The worker's registry (names, kinds and request schemas), or just its catalog of names and kinds. */
  registry: Registry | Catalog;
  taskQueue?: string;
}

export interface InvokeOptions {
  onTarget?: CallbackRef[];
  cid?: string;
  source?: string;
  targetOptions?: Record<string, TargetOptions>;
  maxConcurrency?: number;
  defaults?: Defaults;
}

export class FanoutClient {
  private readonly client: Client;
  private readonly taskQueue: string;
  private readonly catalog: Catalog;
  private readonly schemas?: Schemas;

  constructor(options: FanoutClientOptions) {
    this.client = options.client;
    this.taskQueue = options.taskQueue ?? FANOUT_TASK_QUEUE;
    if (options.registry instanceof Registry) {
      const registry = options.registry;
      this.catalog = registry.catalog();
      this.schemas = { requestSchema: (name) => registry.services.get(name)?.request };
    } else {
      this.catalog = options.registry;
    }
  }

  /** Fan-out / fan-in, Zato style: `invoke(targets, finalCallbacks, { onTarget, cid, source })` → CID. */
  async invoke(
    targets: Record<string, unknown>,
    finalCallbacks: CallbackRef[],
    options: InvokeOptions = {},
  ): Promise<string> {
    return this.startFanout({ targets, finalCallbacks, ...options });
  }

  /** Parallel execution: on-target callbacks only. */
  async parallel(
    targets: Record<string, unknown>,
    onTarget: CallbackRef[],
    options: Omit<InvokeOptions, 'onTarget'> = {},
  ): Promise<string> {
    return this.startParallel({ targets, onTarget, ...options });
  }

  /** Starts a fan-out from a raw request (e.g. an HTTP body), validated against the contract. */
  async startFanout(request: unknown): Promise<string> {
    return this.start('fanout', planFanout(this.catalog, this.schemas, request, 'fanout', randomUUID()));
  }

  async startParallel(request: unknown): Promise<string> {
    return this.start('parallelExecution', planFanout(this.catalog, this.schemas, request, 'parallel', randomUUID()));
  }

  /** Invoke/retry: one target, `attempts` tries `interval` apart, callbacks on success or final failure. */
  async invokeRetry(request: InvokeRetryRequest | unknown): Promise<string> {
    return this.start('invokeRetry', planInvokeRetry(this.catalog, this.schemas, request, randomUUID()));
  }

  async progress(cid: string): Promise<FanoutProgress> {
    return this.withHandle(cid, (handle) => handle.query(progressQuery));
  }

  /** The final payload and callback outcomes; waits for the end unless `wait: false` (then FanoutRunningError). */
  async result<T = FanoutResult | InvokeRetryResult>(cid: string, options: { wait?: boolean } = {}): Promise<T> {
    return this.withHandle(cid, async (handle) => {
      if (options.wait === false && (await handle.describe()).status.name === 'RUNNING')
        throw new FanoutRunningError(cid);
      try {
        return (await handle.result()) as T;
      } catch (error) {
        // A workflow that failed, was terminated or timed out has no result: say so, with its failure.
        if (error instanceof WorkflowFailedError) throw FanoutFailedError.from(cid, error);
        throw error;
      }
    });
  }

  /** Cancels the targets still running; final callbacks still run with what was collected. */
  async cancel(cid: string): Promise<void> {
    await this.withHandle(cid, (handle) => handle.cancel());
  }

  /** Status as Temporal sees it: RUNNING, COMPLETED, FAILED, … */
  async status(cid: string): Promise<string> {
    return this.withHandle(cid, async (handle) => (await handle.describe()).status.name);
  }

  private async withHandle<T>(cid: string, fn: (handle: WorkflowHandle) => Promise<T>): Promise<T> {
    // No fan-out can have a CID the contract refuses (empty, too long, slashes, lone surrogates): do not ask the
    // server, which would answer INVALID_ARGUMENT or INTERNAL rather than "not found".
    if (typeof cid !== 'string' || !Cid.safeParse(cid).success || hasLoneSurrogate(cid))
      throw new FanoutNotFoundError(String(cid));
    try {
      return await fn(this.client.workflow.getHandle(cid));
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) throw new FanoutNotFoundError(cid);
      throw error;
    }
  }

  private async start(workflowType: string, input: FanoutWorkflowInput | InvokeRetryWorkflowInput): Promise<string> {
    const bytes = Buffer.byteLength(JSON.stringify(input));
    if (bytes > PAYLOAD_LIMIT_BYTES) throw new PayloadTooLargeError(bytes, PAYLOAD_LIMIT_BYTES);
    const targets = 'targets' in input ? input.targets : [input.target];
    const callbacks = 'targets' in input ? [...input.onTarget, ...input.onFinal] : input.callbacks;
    const label =
      workflowType === 'fanout'
        ? 'fan-out'
        : workflowType === 'parallelExecution'
          ? 'parallel execution'
          : 'invoke/retry';
    try {
      await this.client.workflow.start(workflowType, {
        workflowId: input.cid,
        taskQueue: this.taskQueue,
        args: [input],
        // A CID names one request forever: never reuse it, even after the first one finished.
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        workflowIdConflictPolicy: 'FAIL',
        staticSummary: `${label} from ${input.source}: ${targets.length} target${targets.length === 1 ? '' : 's'}`,
        staticDetails: describeForUi(targets, callbacks),
        typedSearchAttributes: [
          { key: FanoutSourceKey, value: input.source },
          { key: FanoutStateKey, value: 'running' },
        ],
      });
    } catch (error) {
      if (error instanceof WorkflowExecutionAlreadyStartedError) throw new DuplicateCidError(input.cid);
      throw error;
    }
    return input.cid;
  }
}

/** What the Web UI shows under the summary: which target runs which service, and the callbacks. */
function describeForUi(targets: { name: string; service: string; kind: string }[], callbacks: CallbackRef[]): string {
  const shown = targets
    .slice(0, 50)
    .map((t) => `- ${t.name}${t.service !== t.name ? ` → ${t.service}` : ''} (${t.kind})`);
  if (targets.length > 50) shown.push(`- … ${targets.length - 50} more`);
  const names = [...new Set(callbacks.map(callbackName))];
  return `**Targets**\n${shown.join('\n')}\n\n**Callbacks**: ${names.length ? names.join(', ') : 'none'}`;
}
