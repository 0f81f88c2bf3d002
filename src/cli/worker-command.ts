/**
 * `temporal-fanout worker`: a fan-out worker serving the app's registry against the Temporal that the environment
 * names (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, profiles and the config file, as the Temporal CLI
 * reads them; localhost:7233 when nothing is set). Logs as JSON lines; traces when OTEL_* configure an OTLP endpoint.
 */
import { NativeConnection } from '@temporalio/worker';
import { createFanoutWorker } from '../worker/create-worker';
import { temporalSettings } from '../worker/connection';
import { installWorkerRuntime } from '../worker/telemetry';
import { workflowBundleFromEnv } from '../worker/workflow-bundle';
import type { Registry } from '../registry';
import { jsonLogger } from '../worker/json-logger';
import { bundleTraces, startTracing, tracingConfigured } from '../tracing';
import { withDelivery } from './registry-module';

export interface WorkerCommandOptions {
  registry: Registry;
  /** The app's workflows module (re-exporting the fan-out workflows); WORKFLOW_BUNDLE names a prebuilt bundle. */
  workflowsPath?: string;
  taskQueue?: string;
}

export async function runWorker(options: WorkerCommandOptions): Promise<void> {
  const tracing = tracingConfigured() ? startTracing({ serviceName: 'temporal-fanout-worker' }) : undefined;
  const metrics = installWorkerRuntime({ logger: jsonLogger() });
  if (metrics) console.log(`fan-out worker: metrics on http://${metrics}/metrics`);
  const settings = temporalSettings();
  const connection = await NativeConnection.connect(settings.connectionOptions);
  const { registry, delivery } = withDelivery(options.registry);
  try {
    const workflowBundle = workflowBundleFromEnv();
    if (tracing && workflowBundle && !bundleTraces(workflowBundle))
      console.warn('WORKFLOW_BUNDLE has no workflow tracing: build it with tracing on (temporal-fanout bundle)');
    const worker = await createFanoutWorker({
      connection,
      namespace: settings.namespace,
      registry,
      ...(options.taskQueue ? { taskQueue: options.taskQueue } : {}),
      workflowBundle,
      workflowsPath: options.workflowsPath,
      ...tracing?.worker,
    });
    const services = [...registry.services.keys()];
    console.log(
      `fan-out worker: ${services.length} services (${services.slice(0, 5).join(', ')}${services.length > 5 ? ', …' : ''}), ` +
        `task queue ${worker.worker.options.taskQueue} on ${settings.address} (namespace ${settings.namespace})`,
    );
    // The SDK stops the worker on SIGINT and SIGTERM, letting running activities finish.
    await worker.run();
  } finally {
    await delivery.amqp.close();
    await connection.close();
    await tracing?.shutdown(); // the spans still buffered
  }
}
