/**
 * The activity interceptors a worker that traces runs (startTracing), in place of the SDK's
 * `OpenTelemetryActivityInboundInterceptor` and `OpenTelemetryActivityOutboundInterceptor`: each activity runs in a
 * `RunActivity:<type>` span, the child of the context its trace header carries (the workflow's `RunWorkflow` span),
 * active while it runs so that what the activity does nests under it (a webhook's `traceparent`, the app's own spans);
 * its log lines carry the trace. The same span, name, attributes and statuses as the SDK's, at less cost per activity,
 * which in a fan-out is per target: the SDK's wraps each activity in five async functions and two nested
 * `context.with` calls (each promise made under Node's async hooks, which the context manager enables, costs more),
 * and decodes the trace header anew for every activity, though all the activities of a run carry the same one. Here
 * one `context.with`, no promise of its own but the `then` that ends the span, and each header decoded once. The
 * OpenTelemetry API is handed in (an optional peer, loaded by startTracing), so that importing this costs nothing.
 */
import type * as OtelApi from '@opentelemetry/api';
import {
  ApplicationFailure,
  ApplicationFailureCategory,
  CompleteAsyncError,
  defaultPayloadConverter,
} from '@temporalio/common';
import type { Headers, Payload } from '@temporalio/common';
import type {
  ActivityExecuteInput,
  ActivityInboundCallsInterceptor,
  ActivityInterceptorsFactory,
  ActivityOutboundCallsInterceptor,
  GetLogAttributesInput,
  Next,
} from '@temporalio/worker';
import type { Context as ActivityContext } from '@temporalio/activity';

type NextExecute = Next<ActivityInboundCallsInterceptor, 'execute'>;
type NextLogAttributes = Next<ActivityOutboundCallsInterceptor, 'getLogAttributes'>;

/** The header the SDK's interceptors (and this package's workflow module) carry the trace context in. */
const TRACE_HEADER = '_tracer-data';
/** The SDK's span attribute names, kept so that traces read the same whichever interceptor made them. */
const ACTIVITY_ID = 'temporalActivityId';
const WORKFLOW_ID = 'temporalWorkflowId';
const RUN_ID = 'run_id';

/** How many decoded trace headers are kept (a fan-out's targets all carry their run's): emptied when full. */
const PARENTS_KEPT = 1_000;

/**
 * The interceptors factory for the Worker's `interceptors.activity`: `api` is `@opentelemetry/api`, `tracer` the
 * one the spans are made by.
 */
export function activityTracingInterceptors(api: typeof OtelApi, tracer: OtelApi.Tracer): ActivityInterceptorsFactory {
  const parents = new Map<string, OtelApi.Context>();

  /** The context a trace header carries, decoded once per header, by its bytes. */
  function parentContext(headers: Headers): OtelApi.Context | undefined {
    const header: Payload | undefined = headers[TRACE_HEADER];
    if (!header?.data) return undefined;
    const key = Buffer.from(header.data.buffer, header.data.byteOffset, header.data.byteLength).toString('latin1');
    let parent = parents.get(key);
    if (!parent) {
      const carrier = defaultPayloadConverter.fromPayload<Record<string, string>>(header);
      parent = api.propagation.extract(api.ROOT_CONTEXT, carrier);
      if (parents.size >= PARENTS_KEPT) parents.clear();
      parents.set(key, parent);
    }
    return parent;
  }

  /** As the SDK's: a benign ApplicationFailure leaves the status unset, an async completion is no failure at all. */
  function markFailed(span: OtelApi.Span, error: unknown): void {
    if (error instanceof CompleteAsyncError) {
      span.setStatus({ code: api.SpanStatusCode.OK });
      return;
    }
    const benign = error instanceof ApplicationFailure && error.category === ApplicationFailureCategory.BENIGN;
    const message = typeof (error as Error)?.message === 'string' ? (error as Error).message : String(error);
    span.setStatus({ code: benign ? api.SpanStatusCode.UNSET : api.SpanStatusCode.ERROR, message });
    span.recordException(error as Error);
  }

  /** Each activity in its span, active while it runs. */
  function execute(ctx: ActivityContext, input: ActivityExecuteInput, next: NextExecute): Promise<unknown> {
    const { info } = ctx;
    const parent = parentContext(input.headers) ?? api.context.active();
    const attributes: OtelApi.Attributes = { [ACTIVITY_ID]: info.activityId };
    if (info.workflowExecution) {
      attributes[WORKFLOW_ID] = info.workflowExecution.workflowId;
      attributes[RUN_ID] = info.workflowExecution.runId;
    }
    const span = tracer.startSpan(`RunActivity:${info.activityType}`, { attributes }, parent);
    let running: Promise<unknown>;
    try {
      running = api.context.with(api.trace.setSpan(parent, span), next, undefined, input);
    } catch (error) {
      markFailed(span, error);
      span.end();
      throw error;
    }
    return running.then(
      (result) => {
        span.setStatus({ code: api.SpanStatusCode.OK });
        span.end();
        return result;
      },
      (error: unknown) => {
        markFailed(span, error);
        span.end();
        throw error;
      },
    );
  }

  /** The activity's log lines carry the trace of its span (the worker's JSON log shows it). */
  function getLogAttributes(input: GetLogAttributesInput, next: NextLogAttributes): Record<string, unknown> {
    const context = api.trace.getSpanContext(api.context.active());
    if (!context || !api.isSpanContextValid(context)) return next(input);
    return next({
      trace_id: context.traceId,
      span_id: context.spanId,
      trace_flags: `0${context.traceFlags.toString(16)}`,
      ...input,
    });
  }

  const outbound: ActivityOutboundCallsInterceptor = { getLogAttributes };
  return (ctx) => ({ inbound: { execute: (input, next) => execute(ctx, input, next) }, outbound });
}
