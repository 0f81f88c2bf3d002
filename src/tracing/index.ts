/**
 * Traces of fan-outs: turned on by the standard OTEL_* variables (tracingConfigured), started with the SDK's
 * OpenTelemetry interceptors for the worker and the client (startTracing).
 */
export { bundleTraces } from './bundle-check';
export { TracingConfigError, tracingConfigured } from './config';
export { startTracing, tracingWorkflowModules } from './start';
export type { FanoutTracing, TracingOptions } from './start';
