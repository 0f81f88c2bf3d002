/**
 * The activity tracing interceptors (src/tracing/activity-interceptors.ts) with the real OpenTelemetry SDK, spans
 * kept in memory: each activity's span is the child of its trace header's context, active while it runs, and ends
 * with the status the SDK's own interceptor would give it. test/tracing.test.ts runs them in a worker end to end.
 */
import * as api from '@opentelemetry/api';
import { InMemorySpanExporter, NodeTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node';
import type { Context as ActivityContext } from '@temporalio/activity';
import {
  ApplicationFailure,
  ApplicationFailureCategory,
  CompleteAsyncError,
  defaultPayloadConverter,
} from '@temporalio/common';
import type { ActivityExecuteInput } from '@temporalio/worker';
import { afterEach, beforeAll, expect, it } from 'vitest';
import { activityTracingInterceptors } from '../src/tracing/activity-interceptors';

const exporter = new InMemorySpanExporter();
const [TRACE, PARENT] = ['4bf92f3577b34da6a3ce929d0e0e4736', '00f067aa0ba902b7'];
let interceptors: ReturnType<typeof activityTracingInterceptors>;

beforeAll(() => {
  // Registered as startTracing registers it: this file runs in a process of its own (vitest's forks pool).
  const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  provider.register();
  interceptors = activityTracingInterceptors(api, provider.getTracer('test'));
});

afterEach(() => exporter.reset());

function activity(activityId: string): ActivityContext {
  const info = {
    activityId,
    activityType: 'lookup',
    workflowExecution: { workflowId: 'cid-1', runId: 'run-1' },
    inWorkflow: true,
  };
  return { info } as unknown as ActivityContext;
}

const traced = { '_tracer-data': defaultPayloadConverter.toPayload({ traceparent: `00-${TRACE}-${PARENT}-01` }) };

function execute(id: string, run: () => Promise<unknown>, headers: ActivityExecuteInput['headers'] = traced) {
  const input = { args: [], headers } as unknown as ActivityExecuteInput;
  return interceptors(activity(id)).inbound!.execute!(input, run);
}

it("runs each activity in a span that is its header's child, active while it runs", async () => {
  let inside: api.SpanContext | undefined;
  let logged: Record<string, unknown> = {};
  const result = await execute('7', async () => {
    await new Promise((resolve) => setTimeout(resolve, 5));
    inside = api.trace.getSpanContext(api.context.active());
    logged = interceptors(activity('7')).outbound!.getLogAttributes!({ message: 'm' }, (attributes) => attributes);
    return 'answer';
  });
  expect(result).toBe('answer');
  const [span] = exporter.getFinishedSpans();
  expect(span.name).toBe('RunActivity:lookup');
  expect(span.spanContext().traceId).toBe(TRACE);
  expect(span.parentSpanId).toBe(PARENT);
  expect(span.attributes).toEqual({ temporalActivityId: '7', temporalWorkflowId: 'cid-1', run_id: 'run-1' });
  expect(span.status.code).toBe(api.SpanStatusCode.OK);
  expect(inside?.spanId).toBe(span.spanContext().spanId);
  expect(logged).toEqual({ message: 'm', trace_id: TRACE, span_id: span.spanContext().spanId, trace_flags: '01' });
});

it('gives the activities of one run the same parent, and one with no header a trace of its own', async () => {
  await execute('1', async () => 1);
  await execute('2', async () => 2);
  await execute('3', async () => 3, {});
  const [first, second, untraced] = exporter.getFinishedSpans();
  expect([first.parentSpanId, second.parentSpanId]).toEqual([PARENT, PARENT]);
  expect(untraced.parentSpanId).toBeUndefined();
  expect(untraced.spanContext().traceId).not.toBe(TRACE);
});

it('marks failures as the SDK does: an error, a benign failure unset, an async completion ok', async () => {
  const failures = [
    new Error('down'),
    ApplicationFailure.create({ message: 'expected', category: ApplicationFailureCategory.BENIGN }),
    new CompleteAsyncError(),
  ];
  for (const [i, failure] of failures.entries())
    await expect(execute(String(i), () => Promise.reject(failure))).rejects.toBe(failure);
  const spans = exporter.getFinishedSpans();
  expect(spans.map((span) => span.status.code)).toEqual([
    api.SpanStatusCode.ERROR,
    api.SpanStatusCode.UNSET,
    api.SpanStatusCode.OK,
  ]);
  expect(spans[0].status.message).toBe('down');
  expect(spans.map((span) => span.events.filter((event) => event.name === 'exception').length)).toEqual([1, 1, 0]);
});

it('ends the span of an activity that throws before returning a promise', async () => {
  const failure = new Error('at once');
  expect(() =>
    execute('9', () => {
      throw failure;
    }),
  ).toThrow(failure);
  const [span] = exporter.getFinishedSpans();
  expect(span.status).toEqual({ code: api.SpanStatusCode.ERROR, message: 'at once' });
});
