/**
 * Services and callbacks, registered by name. The worker turns the registry into activities; the client reads
 * its catalog (names, kinds, request schemas) to refuse unknown names and invalid requests before a fan-out starts.
 */
import type { ZodType } from 'zod';
import type { CallbackContext, Catalog } from './contracts';
import { ServiceName } from './contracts';

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

export interface CallbackDefinition {
  name: string;
  handler: (payload: unknown, ctx: CallbackContext) => Promise<unknown>;
  description?: string;
  /**
   * As a final callback: 'assembled' (the default) gives Zato's payload with every record in `data`; 'stream'
   * gives it with an empty `data`, to read the records a page at a time from `ctx.records()` instead — for fan-outs
   * too wide to hold in memory at once.
   */
  records?: 'assembled' | 'stream';
}

export function defineService<Req, Res>(
  service: Omit<ActivityService<Req, Res>, 'kind'> & { kind?: 'activity' },
): ActivityService<Req, Res>;
export function defineService<Req>(service: WorkflowService<Req>): WorkflowService<Req>;
export function defineService(service: object): object {
  return { kind: 'activity', ...service };
}

export function defineCallback(callback: CallbackDefinition): CallbackDefinition {
  return callback;
}

export class RegistryError extends Error {}

export class Registry {
  readonly services = new Map<string, ServiceDefinition>();
  readonly callbacks = new Map<string, CallbackDefinition>();

  constructor(services: readonly unknown[], callbacks: readonly CallbackDefinition[]) {
    for (const service of services as ServiceDefinition[])
      this.add('service', service.name, () => this.services.set(service.name, service));
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
          : { kind: 'activity', ...(service.local ? { local: true } : {}) };
    }
    return { services, callbacks: [...this.callbacks.keys()] };
  }
}
