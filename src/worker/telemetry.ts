/**
 * A worker process's metrics endpoint, from its environment: `FANOUT_METRICS_ADDRESS` (e.g. `0.0.0.0:9464`) serves
 * Prometheus's `/metrics` with the SDK's worker metrics and the fan-out's own (docs/observability.md); unset, the
 * worker exports none. Must run before the process's first Temporal connection (it installs the Runtime).
 */
import { Runtime } from '@temporalio/worker';

export function installTelemetryFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const bindAddress = env.FANOUT_METRICS_ADDRESS?.trim();
  if (!bindAddress) return undefined;
  Runtime.install({ telemetryOptions: { metrics: { prometheus: { bindAddress } } } });
  return bindAddress;
}
