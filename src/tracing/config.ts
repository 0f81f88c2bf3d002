/**
 * Whether traces are on, read from the standard OpenTelemetry variables: on when an OTLP endpoint is configured
 * (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) or OTEL_TRACES_EXPORTER is `otlp`; off
 * otherwise, and always off with OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none. Reads no OpenTelemetry
 * package, so that deciding costs nothing where tracing is off.
 */

/** A tracing setting this package cannot honour: said at start rather than exporting nothing in silence. */
export class TracingConfigError extends Error {
  override name = 'TracingConfigError';
}

/** The only exporter and protocol shipped: OTLP over HTTP with protobuf bodies (the collector's port 4318). */
const PROTOCOL = 'http/protobuf';

export function tracingConfigured(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return false;
  const exporters = (env.OTEL_TRACES_EXPORTER ?? '')
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter(Boolean);
  if (exporters.includes('none')) return false;
  const other = exporters.filter((name) => name !== 'otlp');
  if (other.length)
    throw new TracingConfigError(
      `OTEL_TRACES_EXPORTER=${other.join(',')}: traces are exported by OTLP only (otlp, none)`,
    );
  const on =
    exporters.includes('otlp') || Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
  const protocol = env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL;
  if (on && protocol && protocol.trim() !== PROTOCOL)
    throw new TracingConfigError(`OTLP protocol ${protocol}: traces are exported as ${PROTOCOL} only`);
  return on;
}
