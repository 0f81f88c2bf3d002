/**
 * Whether a workflow bundle built ahead of time (WORKFLOW_BUNDLE) holds the SDK's workflow tracing interceptors:
 * `temporal-fanout bundle` puts them in only when tracing is on as it runs. A worker that traces with a bundle
 * without them still traces its activities, but has no workflow spans and each activity starts a trace of its own,
 * which is worth saying at start rather than leaving to be found in the traces.
 */
import fs from 'node:fs';
import type { WorkflowBundleOption } from '@temporalio/worker';

/** A name of the SDK's workflow interceptors that webpack keeps in the bundle. */
const MARK = 'OpenTelemetryInboundInterceptor';

export function bundleTraces(bundle: WorkflowBundleOption): boolean {
  const code = 'code' in bundle ? bundle.code : fs.readFileSync(bundle.codePath, 'utf8');
  return code.includes(MARK);
}
