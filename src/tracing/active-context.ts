/**
 * What the rest of the package asks of the active trace context, through the OpenTelemetry API if the app has it
 * installed: the headers an outgoing request carries (`traceparent`, `tracestate`), a child span around a piece of
 * work, and an incoming request's context continued. Without the API, or without a tracer provider and propagator
 * registered (tracing off), each is a no-op: no header, no span.
 */
import type * as OtelApi from '@opentelemetry/api';

let loaded: typeof OtelApi | null | undefined;

/** The API if installed, loaded once; null when it is not (tracing is then off, and nothing needs it). */
function otelApi(): typeof OtelApi | null {
  if (loaded === undefined) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- optional peer, loaded on first use
      loaded = require('@opentelemetry/api') as typeof OtelApi;
    } catch {
      loaded = null;
    }
  }
  return loaded;
}

/** The propagation headers of the active context (W3C `traceparent` and `tracestate`); empty when not tracing. */
export function traceHeaders(): Record<string, string> {
  const api = otelApi();
  const headers: Record<string, string> = {};
  api?.propagation.inject(api.context.active(), headers);
  return headers;
}

/** Runs `fn` in a child span of the active context, ended when it settles (and marked failed if it throws). */
export async function inSpan<T>(name: string, attributes: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const api = otelApi();
  if (!api) return fn();
  return api.trace.getTracer('temporal-fanout').startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await fn();
    } catch (error) {
      span.recordException(error as Error);
      span.setStatus({ code: api.SpanStatusCode.ERROR, message: (error as Error).message });
      throw error;
    } finally {
      span.end();
    }
  });
}

/** Runs `fn` in the trace an incoming request's headers carry (its `traceparent`), if any. */
export function continueTrace<T>(headers: Record<string, unknown>, fn: () => T): T {
  const api = otelApi();
  if (!api) return fn();
  return api.context.with(api.propagation.extract(api.context.active(), headers), fn);
}
