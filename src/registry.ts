/**
 * Services and callbacks, registered by name. The worker turns the registry into activities; the client reads
 * its catalog (names, kinds, request schemas) to refuse unknown names and invalid requests before a fan-out starts.
 */
import type { ZodType } from 'zod';
import type { CallbackContext, Catalog, FinalPayload, TargetRecord } from './contracts';
import { Batching, ServiceLimits as ServiceLimitsSchema, ServiceName } from './contracts';

/** Names the worker reserves for its own activities. */
export const RESERVED_PREFIX = 'fanout.';

export interface ActivityService<Req = unknown, Res = unknown> {
  name: string;
  kind: 'activity';
  /** Validates the request; an invalid one fails the target at once, without retries. */
  request?: ZodType<Req>;
  /** Validates the response; an invalid one fails the target at once, without retries. */
  response?: ZodType<Res>;
  handler: (request: Req) => Promise<Res>;
  description?: string;
  /**
   * Run as a local activity by default (a target can say otherwise): for short, idempotent calls, well under the
   * workflow task timeout, that should skip the server's task queue. See the README's "Local targets".
   */
  local?: boolean;
  /**
   * Run this service's targets in batches by default (a fan-out's own `batching` overrides it): for many short
   * calls, where Temporal's cost per activity would outweigh the call. See the README's "Batched targets".
   */
  batching?: Batching;
  /**
   * What this service receives from all fan-outs and all workers together, enforced by Temporal: `perSecond`
   * targets started a second, sustained (its targets then go through a task queue of their own, whose dispatch rate
   * the server limits; the server's limiter holds a second of the rate, so after an idle second the busiest second
   * can see about twice it: docs/production.md; with `burst: false`, never more than it in any one-second window);
   * `concurrency` targets running at once at most (each holds a lease from the service's limiter workflow while it
   * runs). A limited service's targets are never batched or run locally.
   */
  limits?: ServiceLimits;
}

export interface ServiceLimits {
  perSecond?: number;
  /**
   * `false`: never more than `perSecond` calls in any one-second window, at the cost of throughput (about 4/5 of
   * `perSecond` sustained): each call holds one of `perSecond` leases of the service's window limiter
   * workflow for a second and a margin, instead of going through a task queue the server limits. `perSecond` is then
   * a whole number.
   */
  burst?: false;
  concurrency?: number;
}

export interface WorkflowService<Req = unknown> {
  name: string;
  kind: 'workflow';
  /** The workflow function's name, exported from the worker's workflows module; runs as a child workflow. */
  workflowType: string;
  request?: ZodType<Req>;
  description?: string;
}

export type ServiceDefinition = ActivityService<never, unknown> | WorkflowService<never>;

/** What a callback is for, and so what its handler receives. */
export type CallbackKind =
  /** An on-target callback: Zato's per-target record, as each target settles (also invoke/retry's callbacks). */
  | 'on-target'
  /** A final callback: Zato's final payload, every record keyed by target. */
  | 'final';

/** The payload a callback of the given kind receives; either one when the callback does not say. */
export type CallbackPayload<K extends CallbackKind | undefined> = K extends 'on-target'
  ? TargetRecord
  : K extends 'final'
    ? FinalPayload
    : TargetRecord | FinalPayload;

export interface CallbackDefinition<K extends CallbackKind | undefined = CallbackKind | undefined> {
  name: string;
  /** What it is for: a request naming it in the other role is refused before anything starts. Unset: either. */
  kind?: K;
  handler: (payload: CallbackPayload<K>, ctx: CallbackContext) => Promise<unknown>;
  description?: string;
  /**
   * As a final callback: 'assembled' (the default) gives Zato's payload with every record in `data`; 'stream'
   * gives it with an empty `data`, to read the records a page at a time from `ctx.records()` instead — for fan-outs
   * too wide to hold in memory at once.
   */
  records?: 'assembled' | 'stream';
  /** The options a request may give it; others are refused before the fan-out starts. */
  options?: ZodType;
  /**
   * What in valid options this side cannot deliver with as configured (a secret or connection it does not have),
   * empty when nothing: such a request is refused at invoke, not accepted and failed later.
   */
  checkOptions?: (options: Record<string, unknown> | undefined) => string[];
}

/** A callback of any kind, as the registry holds it. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- handlers differ in payload type by kind
export type AnyCallbackDefinition = CallbackDefinition<any>;

export function defineService<Req, Res>(
  service: Omit<ActivityService<Req, Res>, 'kind'> & { kind?: 'activity' },
): ActivityService<Req, Res>;
export function defineService<Req>(service: WorkflowService<Req>): WorkflowService<Req>;
export function defineService(service: object): object {
  return { kind: 'activity', ...service };
}

/**
 * A callback: `kind: 'on-target'` gets each target's record, `kind: 'final'` the final payload; without a kind,
 * either (narrow it with `'data' in payload`).
 */
export function defineCallback(
  callback: CallbackDefinition<'on-target'> & { kind: 'on-target' },
): CallbackDefinition<'on-target'>;
export function defineCallback(callback: CallbackDefinition<'final'> & { kind: 'final' }): CallbackDefinition<'final'>;
export function defineCallback(callback: CallbackDefinition<undefined>): CallbackDefinition<undefined>;
export function defineCallback(callback: AnyCallbackDefinition): AnyCallbackDefinition {
  return callback;
}

export class RegistryError extends Error {}

/** What zod or the rules below refuse in a service's definition, said at registration rather than at its first use. */
function checkActivityService(service: ActivityService<never, unknown>): void {
  const problems: string[] = [];
  const batching = service.batching && Batching.safeParse(service.batching);
  if (batching && !batching.success)
    problems.push(
      ...batching.error.issues.map((i) => `batching.${i.path.join('.')}: ${i.message}`.replace(/\.:/, ':')),
    );
  const limits = service.limits && ServiceLimitsSchema.safeParse(service.limits);
  if (limits && !limits.success)
    problems.push(...limits.error.issues.map((i) => `limits.${i.path.join('.')}: ${i.message}`.replace(/\.:/, ':')));
  if (service.limits && service.local) problems.push('a limited service runs through the server: it cannot be local');
  if (problems.length) throw new RegistryError(`service "${service.name}": ${problems.join('; ')}`);
}

/**
 * Marks a Registry across copies of this package: an app whose dependencies hold two copies (a linked package, a
 * test runner loading it twice) must still recognise its registry, where `instanceof` would say no.
 */
const REGISTRY_BRAND = Symbol.for('temporal-fanout.Registry');
/** Bumped when the shape a Registry shows other copies changes. */
const REGISTRY_FORMAT = 1;

export class Registry {
  readonly [REGISTRY_BRAND] = REGISTRY_FORMAT;
  readonly services = new Map<string, ServiceDefinition>();
  readonly callbacks = new Map<string, AnyCallbackDefinition>();

  /**
   * Whether `value` is a Registry, of this copy of the package or another. One of another format is refused with a
   * RegistryError saying so, rather than half used.
   */
  static is(value: unknown): value is Registry {
    if (value instanceof Registry) return true;
    if (typeof value !== 'object' || value === null || !(REGISTRY_BRAND in value)) return false;
    const format = (value as { [REGISTRY_BRAND]: unknown })[REGISTRY_BRAND];
    if (format !== REGISTRY_FORMAT)
      throw new RegistryError(
        `this Registry comes from another copy of temporal-fanout (registry format ${String(format)}, this copy reads ${REGISTRY_FORMAT}): install one version of the package`,
      );
    return true;
  }

  constructor(services: readonly unknown[], callbacks: readonly AnyCallbackDefinition[]) {
    for (const service of services as ServiceDefinition[]) {
      this.add('service', service.name, () => this.services.set(service.name, service));
      if (service.kind === 'activity') checkActivityService(service);
    }
    for (const callback of callbacks)
      this.add('callback', callback.name, () => this.callbacks.set(callback.name, callback));
  }

  private add(kind: string, name: string, register: () => void): void {
    if (!ServiceName.safeParse(name).success)
      throw new RegistryError(`invalid ${kind} name "${name}": letters, digits and . _ : - only`);
    if (name.startsWith(RESERVED_PREFIX))
      throw new RegistryError(`${kind} name "${name}" uses the reserved prefix "${RESERVED_PREFIX}"`);
    // Services and callbacks both become activity types, so one name can only mean one thing.
    if (this.services.has(name) || this.callbacks.has(name)) throw new RegistryError(`"${name}" is registered twice`);
    register();
  }

  /** Services keyed by name on a null-prototype object: `constructor` or `__proto__` are never "registered". */
  catalog(): Catalog {
    const services: Catalog['services'] = Object.create(null) as Catalog['services'];
    for (const service of this.services.values()) {
      services[service.name] =
        service.kind === 'workflow'
          ? { kind: 'workflow', workflowType: service.workflowType }
          : {
              kind: 'activity',
              ...(service.local ? { local: true } : {}),
              ...(service.batching ? { batching: service.batching } : {}),
              ...(service.limits ? { limits: service.limits } : {}),
            };
    }
    return { services, callbacks: [...this.callbacks.keys()] };
  }
}
