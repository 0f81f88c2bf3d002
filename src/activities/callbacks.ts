/**
 * Callback activities: each registered callback becomes an activity of the same name, receiving the seed's payload
 * and a context that says how it was invoked (Zato's `self.channel`).
 */
import type { CallbackContext } from '../contracts';
import type { Registry } from '../registry';

export type CallbackActivity = (payload: unknown, ctx: CallbackContext) => Promise<unknown>;

export function createCallbackActivities(registry: Registry): Record<string, CallbackActivity> {
  // Null prototype: looking up a name such as `constructor` finds nothing rather than Object's members.
  const activities: Record<string, CallbackActivity> = Object.create(null) as Record<string, CallbackActivity>;
  for (const callback of registry.callbacks.values()) {
    activities[callback.name] = async (payload, ctx) => {
      await callback.handler(payload, ctx);
      return null; // what a callback returns is its own business; history keeps only that it succeeded
    };
  }
  return activities;
}
