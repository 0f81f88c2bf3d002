/**
 * A worker process's Temporal Runtime, from its environment: its logger, and `FANOUT_METRICS_ADDRESS` (e.g.
 * `0.0.0.0:9464`) to serve Prometheus's `/metrics` with the SDK's worker metrics and the fan-out's own
 * (docs/observability.md); unset, the worker exports no metrics. Must run before the process's first Temporal
 * connection (it installs the Runtime).
 */
import type { Logger } from '@temporalio/common';
import { Runtime } from '@temporalio/worker';

/**
 * Buckets for the fan-out's own histogram, in ms: the SDK's default (50 ms up to 10 s) would put every fast service
 * in its first bucket.
 */
const ATTEMPT_DURATION_BUCKETS = [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000, 300_000];

/** Installs the Runtime; returns the metrics endpoint's address, if there is one. */
export function installWorkerRuntime(options: { logger?: Logger } = {}, env = process.env): string | undefined {
  const bindAddress = env.FANOUT_METRICS_ADDRESS?.trim() || undefined;
  Runtime.install({
    ...(options.logger ? { logger: options.logger } : {}),
    ...(bindAddress
      ? {
          telemetryOptions: {
            metrics: {
              prometheus: {
                bindAddress,
                histogramBucketOverrides: { fanout_target_attempt_duration: ATTEMPT_DURATION_BUCKETS },
              },
            },
          },
        }
      : {}),
  });
  return bindAddress;
}
