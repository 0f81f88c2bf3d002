/**
 * The workflow interceptors a worker that traces bundles with the fan-out workflows (`tracingWorkflowModules`), in
 * place of the SDK's `@temporalio/interceptors-opentelemetry/lib/workflow-interceptors`: the same `RunWorkflow`,
 * `StartChildWorkflow`, `HandleSignal` and `HandleUpdate` spans, out through the same sink, at a fraction of the cost.
 * The SDK's module registers an AsyncLocalStorage context manager in the sandbox, which every promise the workflow
 * makes then carries, and wraps every activity scheduled in a `StartActivity` span made by several async functions,
 * each promise of which costs the workflow thread a stack trace (the SDK captures one for every workflow promise): a
 * traced 5,000-target fan-out ran at a third of its untraced throughput. Here there is no active context: each run's
 * `RunWorkflow` span is kept in this module (its state is the run's own: the SDK evaluates the bundle's modules anew
 * for every run), and what the workflow starts carries that span's context in its headers, encoded once per run:
 * an activity's `RunActivity` span on the worker is the child of `RunWorkflow` directly. No command is added and no
 * promise put in the workflow's way (headers play no part in replay), so a history replays whether it was recorded
 * with tracing or without.
 */
// First: the globals OpenTelemetry's modules read as they load (a `performance` clock), which the SDK sets in the
// sandbox. It, the SDK's sink exporter, and its header name and extraction are not exported by any public entry that
// can be bundled into the sandbox (the package's index also holds its worker code), so they are taken from the
// modules the SDK's own workflow interceptors use.
// eslint-disable-next-line no-restricted-imports
import '@temporalio/interceptors-opentelemetry/lib/workflow/runtime';
import type {
  ActivityInput,
  ContinueAsNewInput,
  LocalActivityInput,
  Next,
  SignalInput,
  SignalWorkflowInput,
  StartChildWorkflowExecutionInput,
  UpdateInput,
  WorkflowExecuteInput,
  WorkflowInboundCallsInterceptor,
  WorkflowInterceptors,
  WorkflowOutboundCallsInterceptor,
} from '@temporalio/workflow';
import { ContinueAsNew, defaultPayloadConverter, workflowInfo } from '@temporalio/workflow';
import type { Headers, Payload } from '@temporalio/common';
import * as otel from '@opentelemetry/api';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
// eslint-disable-next-line no-restricted-imports
import { SpanExporter } from '@temporalio/interceptors-opentelemetry/lib/workflow/span-exporter';
// eslint-disable-next-line no-restricted-imports
import { TRACE_HEADER, extractContextFromHeaders } from '@temporalio/interceptors-opentelemetry/lib/instrumentation';

/** The run's tracer: spans out through the SDK's sink, W3C propagators registered, and no context manager. */
let tracer: otel.Tracer | undefined;
function getTracer(): otel.Tracer {
  if (!tracer) {
    const provider = new BasicTracerProvider();
    provider.addSpanProcessor(new SimpleSpanProcessor(new SpanExporter()));
    provider.register();
    tracer = provider.getTracer('temporal-fanout-workflow');
  }
  return tracer;
}

/** The context of this run's `RunWorkflow` span, and its trace header once encoded. */
let runContext: otel.Context | undefined;
let runHeader: Payload | undefined;

/** A context as the trace header the SDK's interceptors read (W3C `traceparent`, `tracestate`, baggage). */
function traceHeader(context: otel.Context): Payload {
  const carrier: Record<string, string> = {};
  otel.propagation.inject(context, carrier);
  return defaultPayloadConverter.toPayload(carrier);
}

function withTraceHeader(headers: Headers): Headers {
  if (!runContext) return headers;
  runHeader ??= traceHeader(runContext);
  return { ...headers, [TRACE_HEADER]: runHeader };
}

/**
 * Ends `span` when `running` settles (failed if it rejects with anything `ok` does not accept), and returns `running`
 * itself: the workflow sees the very promise it would see with no interceptor, so results, update responses and
 * commands come in the same turns whether the worker traces or not, and histories replay either way.
 */
function endWhenSettled<T>(span: otel.Span, running: Promise<T>, ok: (error: unknown) => boolean = () => false) {
  running.then(
    () => {
      span.setStatus({ code: otel.SpanStatusCode.OK });
      span.end();
    },
    (error: unknown) => {
      if (!ok(error)) {
        if (error instanceof Error) span.recordException(error);
        span.setStatus({ code: otel.SpanStatusCode.ERROR, message: (error as Error)?.message ?? String(error) });
      }
      span.end();
    },
  );
  return running;
}

/** A span for a message the run receives: the child of its sender's context, else of the run's span. */
function received<T>(name: string, headers: Headers, run: () => Promise<T>, attributes?: otel.Attributes): Promise<T> {
  const tracer = getTracer(); // first: it registers the propagators that extraction uses
  const parent = extractContextFromHeaders(headers) ?? runContext ?? otel.ROOT_CONTEXT;
  return endWhenSettled(tracer.startSpan(name, { attributes }, parent), run());
}

export class FanoutTracingInboundInterceptor implements WorkflowInboundCallsInterceptor {
  execute(input: WorkflowExecuteInput, next: Next<WorkflowInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    const tracer = getTracer(); // first: it registers the propagators that extraction uses
    const parent = extractContextFromHeaders(input.headers) ?? otel.ROOT_CONTEXT;
    const span = tracer.startSpan(`RunWorkflow:${workflowInfo().workflowType}`, {}, parent);
    runContext = otel.trace.setSpan(parent, span);
    return endWhenSettled(span, next(input), (error) => error instanceof ContinueAsNew);
  }

  handleSignal(input: SignalInput, next: Next<WorkflowInboundCallsInterceptor, 'handleSignal'>): Promise<void> {
    return received(`HandleSignal:${input.signalName}`, input.headers, () => next(input));
  }

  handleUpdate(input: UpdateInput, next: Next<WorkflowInboundCallsInterceptor, 'handleUpdate'>): Promise<unknown> {
    return received(`HandleUpdate:${input.name}`, input.headers, () => next(input), { updateId: input.updateId });
  }
}

/** Not async, and no await: what the workflow starts is started within the call, as with no interceptor at all. */
export class FanoutTracingOutboundInterceptor implements WorkflowOutboundCallsInterceptor {
  scheduleActivity(input: ActivityInput, next: Next<WorkflowOutboundCallsInterceptor, 'scheduleActivity'>) {
    return next({ ...input, headers: withTraceHeader(input.headers) });
  }

  scheduleLocalActivity(
    input: LocalActivityInput,
    next: Next<WorkflowOutboundCallsInterceptor, 'scheduleLocalActivity'>,
  ) {
    return next({ ...input, headers: withTraceHeader(input.headers) });
  }

  /** A child workflow (a shard, a workflow service) is started in a span of its own, the parent of its run's. */
  startChildWorkflowExecution(
    input: StartChildWorkflowExecutionInput,
    next: Next<WorkflowOutboundCallsInterceptor, 'startChildWorkflowExecution'>,
  ) {
    if (!runContext) return next(input);
    const span = getTracer().startSpan(`StartChildWorkflow:${input.workflowType}`, {}, runContext);
    const headers = { ...input.headers, [TRACE_HEADER]: traceHeader(otel.trace.setSpan(runContext, span)) };
    return endWhenSettled(span, next({ ...input, headers }));
  }

  signalWorkflow(input: SignalWorkflowInput, next: Next<WorkflowOutboundCallsInterceptor, 'signalWorkflow'>) {
    return next({ ...input, headers: withTraceHeader(input.headers) });
  }

  continueAsNew(input: ContinueAsNewInput, next: Next<WorkflowOutboundCallsInterceptor, 'continueAsNew'>) {
    return next({ ...input, headers: withTraceHeader(input.headers) });
  }

  /** The workflow logger's lines carry the run's trace (the worker's JSON log shows it). */
  getLogAttributes(
    input: Record<string, unknown>,
    next: Next<WorkflowOutboundCallsInterceptor, 'getLogAttributes'>,
  ): Record<string, unknown> {
    const context = runContext && otel.trace.getSpanContext(runContext);
    if (!context || !otel.isSpanContextValid(context)) return next(input);
    return next({
      trace_id: context.traceId,
      span_id: context.spanId,
      trace_flags: `0${context.traceFlags.toString(16)}`,
      ...input,
    });
  }
}

/** The form the SDK's `workflowModules` expects: called once per workflow run, in the sandbox. */
export const interceptors = (): WorkflowInterceptors => ({
  inbound: [new FanoutTracingInboundInterceptor()],
  outbound: [new FanoutTracingOutboundInterceptor()],
});
