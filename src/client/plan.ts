/**
 * Turns a caller's request into the workflow's input: validates it against the contract, resolves target names
 * to services, checks every name and request against the catalog. Pure: shared by the client and the HTTP API.
 */
import type { ZodType } from 'zod';
import type { AnyCallbackDefinition, CallbackKind } from '../registry';
import type {
  Batching,
  CallbackRef,
  Catalog,
  FanoutWorkflowInput,
  InvokeRetryWorkflowInput,
  PlannedTarget,
  TargetOptions,
} from '../contracts';
import {
  DEFAULT_MAX_CONCURRENCY,
  FanoutRequest,
  InvokeRetryRequest,
  ParallelRequest,
  callbackName,
} from '../contracts';
import { boundsIssues } from './bounds';
import type { FieldIssue } from './errors';
import { InvalidRequestError, UndeliverableCallbackError, UnknownServiceError } from './errors';

/** What a client that has the registry itself (not only its catalog) can check beyond names. */
export interface RegistryChecks {
  requestSchema(service: string): ZodType | undefined;
  callback(name: string): Pick<AnyCallbackDefinition, 'kind' | 'options' | 'checkOptions'> | undefined;
}

function parse<T>(schema: ZodType<T>, value: unknown): T {
  // Before zod or anything else walks it: too deep a value would overflow the stack of whatever serialises it.
  const bounds = boundsIssues(value);
  if (bounds.length) throw new InvalidRequestError(bounds.map((i) => issue(i.segments, i.message)));
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new InvalidRequestError(parsed.error.issues.map((i) => issue(i.path as (string | number)[], i.message)));
}

function issue(segments: (string | number)[], message: string): FieldIssue {
  return { path: segments.join('.'), segments, message };
}

/** Own entries only: names such as `constructor` or `__proto__` must not find Object.prototype's members. */
const own = <T>(record: Record<string, T> | undefined, key: string): T | undefined =>
  record !== undefined && Object.hasOwn(record, key) ? record[key] : undefined;

function checkNames(catalog: Catalog, services: string[], callbacks: CallbackRef[]): void {
  const unknownServices = [...new Set(services)].filter((s) => !own(catalog.services, s));
  const unknownCallbacks = [...new Set(callbacks.map(callbackName))].filter((c) => !catalog.callbacks.includes(c));
  if (unknownServices.length || unknownCallbacks.length)
    throw new UnknownServiceError(unknownServices, unknownCallbacks);
}

/**
 * Each callback used as what it is for, with options it can deliver with (a webhook secret the worker has, say):
 * a request that could never be delivered is refused now, not accepted and failed later.
 */
function checkCallbacks(
  checks: RegistryChecks | undefined,
  uses: { field: string; role: CallbackKind; refs: CallbackRef[] }[],
): void {
  if (!checks) return;
  const invalid: FieldIssue[] = [];
  const undeliverable: FieldIssue[] = [];
  for (const { field, role, refs } of uses)
    refs.forEach((ref, index) => {
      const callback = checks.callback(callbackName(ref));
      if (!callback) return;
      if (callback.kind && callback.kind !== role)
        invalid.push(
          issue(
            [field, index],
            `${callbackName(ref)} is a${callback.kind === 'final' ? ' final' : 'n on-target'} callback`,
          ),
        );
      const options = typeof ref === 'string' ? undefined : ref.options;
      const parsed = callback.options?.safeParse(options);
      if (parsed && !parsed.success) {
        for (const i of parsed.error.issues)
          invalid.push(issue([field, index, 'options', ...(i.path as (string | number)[])], i.message));
        return;
      }
      for (const message of callback.checkOptions?.(options) ?? [])
        undeliverable.push(issue([field, index, 'options'], message));
    });
  if (invalid.length) throw new InvalidRequestError(invalid);
  if (undeliverable.length) throw new UndeliverableCallbackError(undeliverable);
}

/**
 * One target as the workflow will run it: its service resolved, its request checked against the service's schema.
 * Problems go to `issues`: the request's under `at` (with the request's own path after it), the `local` option's
 * under `optionsAt`.
 */
export function planTarget(
  catalog: Catalog,
  checks: RegistryChecks | undefined,
  target: { name: string; request: unknown; options?: TargetOptions; batching?: Batching },
  issues: FieldIssue[],
  at: (string | number)[],
  optionsAt: (string | number)[] = at,
): PlannedTarget {
  const { name, request, batching } = target;
  const targetOptions = target.options ?? {};
  const service = targetOptions.service ?? name;
  const entry = own(catalog.services, service);
  const schema = checks?.requestSchema(service);
  const problem = schema?.safeParse(request);
  if (problem && !problem.success) {
    for (const i of problem.error.issues) issues.push(issue([...at, ...(i.path as (string | number)[])], i.message));
  }
  const local = targetOptions.local ?? entry?.local ?? false;
  if (local && entry?.kind === 'workflow')
    issues.push(issue([...optionsAt, 'local'], 'only activity services run as local activities'));
  const limits = entry?.limits;
  if (local && limits)
    issues.push(
      issue([...optionsAt, 'local'], `${service} is limited: its targets run through the server, not locally`),
    );
  // Child-workflow targets are never batched, nor a limited service's (its limits count each target); activity
  // targets as the fan-out says, else as their service does.
  const batch = entry?.kind === 'workflow' || limits ? undefined : (batching ?? entry?.batching);
  return {
    name,
    service,
    kind: entry?.kind ?? 'activity',
    workflowType: entry?.workflowType,
    request,
    options: targetOptions,
    ...(local ? { local: true } : {}),
    ...(batch ? { batch } : {}),
    ...(limits ? { limits } : {}),
  } satisfies PlannedTarget;
}

function planTargets(
  catalog: Catalog,
  checks: RegistryChecks | undefined,
  targets: Record<string, unknown>,
  options: Record<string, TargetOptions> = {},
  batching?: Batching,
): PlannedTarget[] {
  const issues: FieldIssue[] = [];
  for (const name of Object.keys(options)) {
    if (!Object.hasOwn(targets, name)) issues.push(issue(['targetOptions', name], 'no such target'));
  }
  const planned = Object.entries(targets).map(([name, request]) =>
    planTarget(
      catalog,
      checks,
      { name, request, options: own(options, name), batching },
      issues,
      ['targets', name],
      ['targetOptions', name],
    ),
  );
  if (issues.length) throw new InvalidRequestError(issues);
  return planned;
}

export function planFanout(
  catalog: Catalog,
  checks: RegistryChecks | undefined,
  raw: unknown,
  pattern: 'fanout' | 'parallel',
  cid: string,
): FanoutWorkflowInput {
  const request = pattern === 'fanout' ? parse(FanoutRequest, raw) : parse(ParallelRequest, raw);
  const services = Object.keys(request.targets).map((name) => own(request.targetOptions, name)?.service ?? name);
  const input = planRun(catalog, checks, request, pattern, cid, services);
  checkQuorum(input, Object.keys(request.targets).length);
  return { ...input, targets: planTargets(catalog, checks, request.targets, request.targetOptions, request.batching) };
}

/** A quorum of more successes than there are targets could never be reached: refused before anything starts. */
export function checkQuorum(input: FanoutWorkflowInput, targets: number): void {
  const successes = input.completion && 'successes' in input.completion ? input.completion.successes : 0;
  if (successes > targets)
    throw new InvalidRequestError([
      issue(
        ['completion', 'successes'],
        `${successes} successes asked of ${targets} target${targets === 1 ? '' : 's'}`,
      ),
    ]);
}

/**
 * A fan-out's request without its targets (they are streamed in: see staging): its options checked as a start
 * checks them, and the workflow's input with no targets yet.
 */
export function planFanoutOptions(
  catalog: Catalog,
  checks: RegistryChecks | undefined,
  raw: unknown,
  pattern: 'fanout' | 'parallel',
  cid: string,
): { input: FanoutWorkflowInput; batching?: Batching } {
  const request: Omit<FanoutRequest, 'targets' | 'finalCallbacks'> & { finalCallbacks?: CallbackRef[] } =
    pattern === 'fanout'
      ? parse(FanoutRequest.omit({ targets: true }), raw)
      : parse(ParallelRequest.omit({ targets: true }), raw);
  if (request.targetOptions !== undefined)
    throw new InvalidRequestError([issue(['targetOptions'], 'streamed targets take no targetOptions')]);
  return { input: planRun(catalog, checks, request, pattern, cid, []), batching: request.batching };
}

/** Everything of the workflow's input but its targets, whose services are checked with the callbacks. */
function planRun(
  catalog: Catalog,
  checks: RegistryChecks | undefined,
  request: Omit<FanoutRequest, 'targets' | 'finalCallbacks'> & { finalCallbacks?: CallbackRef[] },
  pattern: 'fanout' | 'parallel',
  cid: string,
  services: string[],
): FanoutWorkflowInput {
  const finalCallbacks = request.finalCallbacks ?? [];
  const onTarget = request.onTarget ?? [];
  checkNames(catalog, services, [...finalCallbacks, ...onTarget]);
  checkCallbacks(checks, [
    { field: 'onTarget', role: 'on-target', refs: onTarget },
    { field: 'finalCallbacks', role: 'final', refs: finalCallbacks },
  ]);
  const source = request.source ?? 'unknown';
  return {
    cid: request.cid ?? cid,
    source,
    pattern,
    targets: [],
    onTarget,
    onFinal: finalCallbacks,
    maxConcurrency: request.maxConcurrency ?? DEFAULT_MAX_CONCURRENCY,
    defaults: request.defaults ?? {},
    ...(request.failurePolicy !== undefined ? { failurePolicy: request.failurePolicy } : {}),
    ...(request.deadline !== undefined ? { deadline: request.deadline } : {}),
    ...(request.completion !== undefined ? { completion: request.completion } : {}),
    ...(request.circuitBreaker !== undefined ? { circuitBreaker: request.circuitBreaker } : {}),
    ...(request.adaptiveConcurrency !== undefined ? { adaptiveConcurrency: request.adaptiveConcurrency } : {}),
    ...(request.hedging !== undefined ? { hedging: request.hedging } : {}),
    priority: {
      ...(request.priority !== undefined ? { priorityKey: request.priority } : {}),
      fairnessKey: request.fairness?.key ?? fairnessKeyOf(source),
      ...(request.fairness?.weight !== undefined ? { fairnessWeight: request.fairness.weight } : {}),
    },
    // Only when set: the input of a fan-out that does not ask stays as it was before the option existed.
    ...(request.writeResults ? { writeResults: true as const } : {}),
  };
}

/** A source as a fairness key: Temporal takes at most 64 bytes, so a longer source is cut at a character boundary. */
function fairnessKeyOf(source: string): string {
  const characters = [...source];
  while (Buffer.byteLength(characters.join('')) > 64) characters.pop();
  return characters.join('');
}

export function planInvokeRetry(
  catalog: Catalog,
  checks: RegistryChecks | undefined,
  raw: unknown,
  cid: string,
): InvokeRetryWorkflowInput {
  const request = parse(InvokeRetryRequest, raw);
  const service = request.service ?? request.target;
  checkNames(catalog, [service], request.callbacks);
  if (own(catalog.services, service)?.kind !== 'activity') {
    throw new InvalidRequestError([issue(['service'], 'invoke/retry runs activity services only')]);
  }
  checkCallbacks(checks, [{ field: 'callbacks', role: 'on-target', refs: request.callbacks }]);
  const [target] = planTargets(
    catalog,
    checks,
    { [request.target]: request.request },
    {
      [request.target]: {
        service,
        ...(request.startToCloseTimeout ? { startToCloseTimeout: request.startToCloseTimeout } : {}),
      },
    },
  );
  return {
    cid: request.cid ?? cid,
    source: request.source ?? 'unknown',
    target,
    attempts: request.attempts,
    interval: request.interval,
    callbacks: request.callbacks,
  };
}
