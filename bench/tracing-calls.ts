/**
 * The per-activity cost of the worker's activity tracing, run by `npm run bench:observability` in a process of its
 * own for each mode (a tracer provider and its context manager are process-wide): `off` runs the activity with no
 * interceptor; `traced` through the SDK's `OpenTelemetryActivityInboundInterceptor`, as startTracing's worker does,
 * with a tracer provider registered as startTracing registers it (async context, W3C propagation, a batch span
 * processor) but an exporter that drops the spans: the interceptor's and the span's cost, not the export's. Each call
 * runs as the worker runs an activity: in the SDK's activity AsyncLocalStorage, with the trace header a traced
 * workflow gives every activity, awaiting a one-turn activity. Prints one JSON line, microseconds per activity.
 */
import { BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { Context } from '@temporalio/activity';
import { asyncLocalStorage } from '@temporalio/activity';
import { defaultPayloadConverter } from '@temporalio/common';
import { OpenTelemetryActivityInboundInterceptor } from '@temporalio/interceptors-opentelemetry';
import type { ActivityExecuteInput, ActivityInboundCallsInterceptor } from '@temporalio/worker';

const CALLS = 50_000;
const MODES = ['off', 'traced'] as const;
type Mode = (typeof MODES)[number];

/** Drops what it is given: the batch processor's work is measured, the OTLP encoding and the request are not. */
class DroppingExporter implements SpanExporter {
  export(_spans: ReadableSpan[], done: (result: { code: 0 }) => void): void {
    done({ code: 0 });
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

function activityContext(i: number): Context {
  const info = {
    activityId: String(i),
    activityType: 'bench.target',
    workflowExecution: { workflowId: 'bench-cid', runId: '0190c0de-0000-7000-8000-000000000000' },
    inWorkflow: true,
  };
  return { info } as unknown as Context;
}

function interceptorFor(mode: Mode, ctx: Context): ActivityInboundCallsInterceptor | undefined {
  return mode === 'traced' ? new OpenTelemetryActivityInboundInterceptor(ctx) : undefined;
}

async function microsPerActivity(mode: Mode): Promise<number> {
  const headers = {
    '_tracer-data': defaultPayloadConverter.toPayload({
      traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    }),
  };
  const activity = async (): Promise<string> => 'ok';
  const run = (i: number): Promise<unknown> => {
    const ctx = activityContext(i);
    const interceptor = interceptorFor(mode, ctx);
    const input = { args: [], headers } as unknown as ActivityExecuteInput;
    return asyncLocalStorage.run(ctx, () => (interceptor ? interceptor.execute!(input, activity) : activity()));
  };
  for (let i = 0; i < CALLS / 10; i++) await run(i); // warm-up: JIT, the tracer
  const start = process.hrtime.bigint();
  for (let i = 0; i < CALLS; i++) await run(i);
  return Number(process.hrtime.bigint() - start) / CALLS / 1000;
}

async function main(): Promise<void> {
  const mode = MODES.find((name) => name === process.argv[2]) ?? 'off';
  if (mode !== 'off') {
    const provider = new NodeTracerProvider({ spanProcessors: [new BatchSpanProcessor(new DroppingExporter())] });
    provider.register();
  }
  console.log(JSON.stringify({ mode, activityMicros: await microsPerActivity(mode) }));
  process.exit(0);
}

void main();
