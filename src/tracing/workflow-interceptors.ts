/**
 * The workflow interceptors a worker that traces bundles with the fan-out workflows (`tracingWorkflowModules`), in
 * place of the SDK's `@temporalio/interceptors-opentelemetry/lib/workflow-interceptors`. The SDK's module makes a
 * `StartActivity` span in the sandbox for every activity scheduled, through several async functions: a fan-out
 * schedules one per target, and each of those promises costs the workflow thread a stack trace (the SDK captures one
 * for every workflow promise) and each span an export through the sink, which made a traced 5,000-target fan-out run
 * at a third of its untraced throughput. Here an activity (and a local activity) is scheduled with the trace
 * context in its headers alone, synchronously, the header encoded once per context: its `RunActivity` span on the
 * worker becomes a child of `RunWorkflow` directly. The workflow span, child workflows, signals and continue-as-new
 * keep the SDK's spans (few, and worth having). No commands are added, and headers play no part in replay.
 */
import type { ActivityInput, LocalActivityInput, Next, WorkflowOutboundCallsInterceptor } from '@temporalio/workflow';
import type { WorkflowInterceptors } from '@temporalio/workflow';
// The package's public index re-exports these classes, but also its worker and plugin code, which cannot be bundled
// into the workflow sandbox; lib/workflow is the module the SDK's own workflow interceptors module imports them from.
// eslint-disable-next-line no-restricted-imports
import * as sdk from '@temporalio/interceptors-opentelemetry/lib/workflow';
// Not exported by any public entry: the SDK's own injection (otel.propagation.inject into a carrier, encoded with
// the default payload converter under TRACE_HEADER), so that what the activity interceptor extracts always matches.
// eslint-disable-next-line no-restricted-imports
import { TRACE_HEADER, headersWithContext } from '@temporalio/interceptors-opentelemetry/lib/instrumentation';
import * as otel from '@opentelemetry/api';
import type { Headers, Payload } from '@temporalio/common';

/**
 * The SDK's outbound interceptor without the span per activity. A class name of its own, kept by webpack (the
 * bundle is not minified), so that a bundle can be told to hold it.
 */
export class FanoutTracingOutboundInterceptor extends sdk.OpenTelemetryOutboundInterceptor {
  /**
   * The trace header last encoded, and the context it was encoded from. A fan-out schedules its targets from one
   * context (its `RunWorkflow` span's), and OpenTelemetry contexts are immutable: the same context object always
   * injects the same header, so it is encoded once, not once per target.
   */
  private encoded?: { context: otel.Context; header: Payload };

  // Not async, and no await: the activity's promise is the one `next` gives, as with no interceptor at all.
  override scheduleActivity(
    input: ActivityInput,
    next: Next<WorkflowOutboundCallsInterceptor, 'scheduleActivity'>,
  ): Promise<unknown> {
    return next({ ...input, headers: this.withTraceHeader(input.headers) });
  }

  override scheduleLocalActivity(
    input: LocalActivityInput,
    next: Next<WorkflowOutboundCallsInterceptor, 'scheduleLocalActivity'>,
  ): Promise<unknown> {
    return next({ ...input, headers: this.withTraceHeader(input.headers) });
  }

  private withTraceHeader(headers: Headers): Headers {
    const active = otel.context.active();
    if (this.encoded?.context !== active)
      this.encoded = { context: active, header: headersWithContext({})[TRACE_HEADER] };
    return { ...headers, [TRACE_HEADER]: this.encoded.header };
  }
}

/** The form the SDK's `workflowModules` expects: called once per workflow run, in the sandbox. */
export const interceptors = (): WorkflowInterceptors => ({
  inbound: [new sdk.OpenTelemetryInboundInterceptor()],
  outbound: [new FanoutTracingOutboundInterceptor()],
  internals: [new sdk.OpenTelemetryInternalsInterceptor()],
});
