/**
 * All activities of a fan-out worker, built from its registry: one per service, one per callback, and the
 * catalog the workflows check names against at start.
 */
import type { Catalog } from '../contracts';
import { DESCRIBE_CATALOG } from '../contracts';
import type { Registry } from '../registry';
import { createCallbackActivities } from './callbacks';
import { createServiceActivities } from './services';

export interface FanoutActivityDeps {
  registry: Registry;
}

export function createActivities({
  registry,
}: FanoutActivityDeps): Record<string, (...args: never[]) => Promise<unknown>> {
  // Null prototype: the worker takes own entries only, and so does anyone looking an activity up by name.
  return Object.assign(Object.create(null) as Record<string, (...args: never[]) => Promise<unknown>>, {
    ...createServiceActivities(registry),
    ...createCallbackActivities(registry),
    [DESCRIBE_CATALOG]: async (): Promise<Catalog> => registry.catalog(),
  });
}
