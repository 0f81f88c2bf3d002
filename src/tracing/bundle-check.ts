/**
 * Whether a workflow bundle built ahead of time (WORKFLOW_BUNDLE) holds the workflow tracing interceptors:
 * `temporal-fanout bundle` puts them in only when tracing is on as it runs. A worker that traces with a bundle
 * without them still traces its activities, but has no workflow spans and each activity starts a trace of its own,
 * which is worth saying at start rather than leaving to be found in the traces.
 */
import fs from 'node:fs';
import type { WorkflowBundleOption } from '@temporalio/worker';

/**
 * The class names of the inbound workflow interceptors that make the workflow spans, which webpack keeps (the bundle
 * is not minified): this package's (./workflow-interceptors), and the SDK's, which a bundle built by an older
 * version holds and which traces as well (with a span per activity).
 */
const MARKS = ['FanoutTracingInboundInterceptor', 'OpenTelemetryInboundInterceptor'];

export function bundleTraces(bundle: WorkflowBundleOption): boolean {
  const code = 'code' in bundle ? bundle.code : fs.readFileSync(bundle.codePath, 'utf8');
  return MARKS.some((mark) => code.includes(mark));
}
