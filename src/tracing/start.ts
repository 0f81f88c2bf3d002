/**
 * Starts OpenTelemetry tracing for a fan-out worker or client: a tracer provider configured from the standard
 * OTEL_* variables (OTLP endpoint, headers, service name and resource attributes, sampler, batch settings),
 * exporting by OTLP over HTTP/protobuf, registered as the process's global one (W3C trace context propagation,
 * async context), and the interceptors to hand to the Worker and the Client: the SDK's official ones, and in the
 * workflow this package's lighter module of them. The OpenTelemetry SDK packages are optional peers, loaded only
 * here.
 */
import path from 'node:path';
import type * as OtlpExporter from '@opentelemetry/exporter-trace-otlp-proto';
import type * as Resources from '@opentelemetry/resources';
import type * as TraceNode from '@opentelemetry/sdk-trace-node';
import type * as TemporalOtel from '@temporalio/interceptors-opentelemetry';
import type { ClientInterceptors } from '@temporalio/client';
import type { WorkerInterceptors, WorkerOptions } from '@temporalio/worker';
import { requirePeer } from '../optional-peer';

const FEATURE = 'tracing';

export interface TracingOptions {
  /** `service.name` where neither OTEL_SERVICE_NAME nor OTEL_RESOURCE_ATTRIBUTES names one. */
  serviceName?: string;
}

export interface FanoutTracing {
  /**
   * For `createFanoutWorker`: the workflow interceptors module (bundled), the activity interceptors, and the sink
   * the workflows' spans leave the sandbox by. Typed with the SDK's types alone, so that an app without the
   * OpenTelemetry packages compiles against this package.
   */
  worker: { interceptors: WorkerInterceptors; sinks: NonNullable<WorkerOptions['sinks']> };
  /** For the SDK Client the FanoutClient wraps: `new Client({ connection, interceptors: tracing.client.interceptors })`. */
  client: { interceptors: ClientInterceptors };
  /** Exports the spans still buffered, then stops; call it when the worker or client is done. */
  shutdown(): Promise<void>;
}

export function startTracing(options: TracingOptions = {}): FanoutTracing {
  const { BatchSpanProcessor, NodeTracerProvider } = requirePeer<typeof TraceNode>(
    '@opentelemetry/sdk-trace-node',
    FEATURE,
  );
  const { Resource, detectResourcesSync, envDetectorSync } = requirePeer<typeof Resources>(
    '@opentelemetry/resources',
    FEATURE,
  );
  const { OTLPTraceExporter } = requirePeer<typeof OtlpExporter>('@opentelemetry/exporter-trace-otlp-proto', FEATURE);
  const otel = requirePeer<typeof TemporalOtel>('@temporalio/interceptors-opentelemetry', FEATURE);

  // The environment's attributes win over the default service name: merge gives precedence to its argument.
  const resource = Resource.default()
    .merge(options.serviceName ? new Resource({ 'service.name': options.serviceName }) : null)
    .merge(detectResourcesSync({ detectors: [envDetectorSync] })) as Resources.Resource;
  // The exporter and the batch processor read their own OTEL_EXPORTER_OTLP_* and OTEL_BSP_* settings.
  const processor = new BatchSpanProcessor(new OTLPTraceExporter());
  const provider = new NodeTracerProvider({ resource, spanProcessors: [processor] });
  provider.register();
  return {
    worker: {
      interceptors: {
        workflowModules: tracingWorkflowModules(),
        activity: [
          (ctx) => ({
            inbound: new otel.OpenTelemetryActivityInboundInterceptor(ctx),
            outbound: new otel.OpenTelemetryActivityOutboundInterceptor(ctx),
          }),
        ],
      },
      // Workflow spans are made in the sandbox and handed out through this sink to the same processor.
      sinks: { exporter: otel.makeWorkflowExporter(processor, resource) },
    },
    client: { interceptors: { workflow: [new otel.OpenTelemetryWorkflowClientInterceptor()] } },
    shutdown: () => provider.shutdown(),
  };
}

/**
 * The workflow interceptors module (./workflow-interceptors: the SDK's workflow spans, without one per activity and
 * without an active context in the sandbox), bundled with the workflows (also into a bundle built ahead of time). A
 * path without its extension, as the workflows' own is: webpack finds the .ts beside this file when run from the
 * sources, the .js in dist/ and in the packed package.
 */
export function tracingWorkflowModules(): string[] {
  // Named, with what to install, when missing: the bundler's own error would not say what they are for.
  requirePeer('@temporalio/interceptors-opentelemetry', FEATURE);
  requirePeer('@opentelemetry/sdk-trace-base', FEATURE);
  return [path.join(__dirname, 'workflow-interceptors')];
}
