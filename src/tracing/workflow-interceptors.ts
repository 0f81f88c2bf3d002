/**
 * The workflow interceptors a worker that traces bundles with the fan-out workflows (`tracingWorkflowModules`), in
 * place of the SDK's `@temporalio/interceptors-opentelemetry/lib/workflow-interceptors`. The SDK's module makes a
 * `StartActivity` span in the sandbox for every activity scheduled, through several async functions: a fan-out
 * schedules one per target, and each of those promises costs the workflow thread a stack trace (the SDK captures one
 * for every workflow promise) and each span an export through the sink, which made a traced 5,000-target fan-out run
 * at a third of its untraced throughput. Here an activity (and a local activity) is scheduled with the trace
 * context in its headers alone, synchronously: its `RunActivity` span on the worker becomes a child of
 * `RunWorkflow` directly. The workflow span, child workflows, signals and continue-as-new keep the SDK's spans
 * (few, and worth having). No commands are added, and headers play no part in replay.
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
import { headersWithContext } from '@temporalio/interceptors-opentelemetry/lib/instrumentation';

/**
 * The SDK's outbound interceptor without the span per activity. A class name of its own, kept by webpack (the
 * bundle is not minified), so that a bundle can be told to hold it.
 */
export class FanoutTracingOutboundInterceptor extends sdk.OpenTelemetryOutboundInterceptor {
  // Not async, and no await: the activity's promise is the one `next` gives, as with no interceptor at all.
  override scheduleActivity(
    input: ActivityInput,
    next: Next<WorkflowOutboundCallsInterceptor, 'scheduleActivity'>,
  ): Promise<unknown> {
    return next({ ...input, headers: headersWithContext(input.headers) });
  }

  override scheduleLocalActivity(
    input: LocalActivityInput,
    next: Next<WorkflowOutboundCallsInterceptor, 'scheduleLocalActivity'>,
  ): Promise<unknown> {
    return next({ ...input, headers: headersWithContext(input.headers) });
  }
}

/** The form the SDK's `workflowModules` expects: called once per workflow run, in the sandbox. */
export const interceptors = (): WorkflowInterceptors => ({
  inbound: [new sdk.OpenTelemetryInboundInterceptor()],
  outbound: [new FanoutTracingOutboundInterceptor()],
  internals: [new sdk.OpenTelemetryInternalsInterceptor()],
});
