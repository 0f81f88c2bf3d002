/**
 * The registry the worker and API commands serve: loaded from the app's own module (`--registry`, FANOUT_REGISTRY),
 * with the built-in delivery callbacks added, configured from the environment.
 */
import path from 'node:path';
import { createDeliveryCallbacks, createDeliveryDeps, deliveryConfigFromEnv } from '../delivery';
import type { DeliveryDeps } from '../delivery';
import { Registry, RegistryError } from '../registry';

/**
 * Requires a module (a path, relative to the working directory, or a package name) that exports a Registry as
 * `registry` or default, or a function (sync or async) that makes one.
 */
export async function loadRegistry(spec: string): Promise<Registry> {
  const resolved = spec.startsWith('.') || path.isAbsolute(spec) ? path.resolve(spec) : spec;
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- the app's module, named at run time
  const loaded = require(require.resolve(resolved, { paths: [process.cwd()] })) as Record<string, unknown>;
  const exported = loaded.registry ?? loaded.default ?? loaded;
  const registry = typeof exported === 'function' ? await (exported as () => unknown)() : exported;
  if (!Registry.is(registry))
    throw new RegistryError(
      `${spec}: exports no Registry (export one as \`registry\` or default, or a function that returns one)`,
    );
  return registry;
}

/**
 * The app's registry and the built-in delivery callbacks (delivery.webhook, delivery.amqp), configured from the
 * environment (WEBHOOK_SECRET[_<NAME>], WEBHOOK_ALLOWLIST, AMQP_URL[_<NAME>], …). Callbacks the app registers under
 * those names itself are kept.
 */
export function withDelivery(registry: Registry): { registry: Registry; delivery: DeliveryDeps } {
  const delivery = createDeliveryDeps(deliveryConfigFromEnv());
  const builtIn = createDeliveryCallbacks(delivery).filter((callback) => !registry.callbacks.has(callback.name));
  return {
    registry: new Registry([...registry.services.values()], [...registry.callbacks.values(), ...builtIn]),
    delivery,
  };
}
