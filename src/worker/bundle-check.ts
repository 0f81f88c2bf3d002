/**
 * Checks a workflow bundle before a worker runs it, so that no fan-out can end stuck because of how the app was
 * packaged: a bundle holding two copies of @temporalio/workflow fails every workflow task ("Cannot read private
 * member"), and one without the fan-out workflows leaves every fan-out's first task failing for ever.
 */
import fs from 'node:fs';
import type { WorkflowBundleOption } from '@temporalio/worker';

export class WorkflowBundleError extends Error {
  override name = 'WorkflowBundleError';
}

/**
 * Webpack names each module by its path. Any module of @temporalio/workflow counts: the worker's entry point takes
 * some from one copy while the workflows take others from another.
 */
const WORKFLOW_SDK_MODULE = /["']([^"'\n]*?)@temporalio[\\/]workflow[\\/]lib[\\/][\w-]+\.js["']/g;

/** Every fan-out workflow module defines this type name; a bundle without it cannot run a fan-out. */
const FANOUT_MARKER = 'fanoutShard';

/** The bundle's code: in memory, or read from its file. */
function codeOf(bundle: WorkflowBundleOption): string {
  return 'code' in bundle ? bundle.code : fs.readFileSync(bundle.codePath, 'utf8');
}

/** Throws WorkflowBundleError when the bundle cannot run fan-outs; says what to do about it. */
export function checkWorkflowBundle(bundle: WorkflowBundleOption): void {
  const code = codeOf(bundle);
  const copies = new Set([...code.matchAll(WORKFLOW_SDK_MODULE)].map((match) => match[1]));
  if (copies.size > 1)
    throw new WorkflowBundleError(
      `the workflow bundle holds ${copies.size} copies of @temporalio/workflow (${[...copies].join(', ')}): ` +
        'workflows would fail on every task. Install one copy: temporal-fanout takes @temporalio/* as peer ' +
        'dependencies, so remove any nested node_modules/@temporalio under it (npm dedupe) and use one version.',
    );
  if (!code.includes(FANOUT_MARKER))
    throw new WorkflowBundleError(
      "the workflow bundle has no fan-out workflows: add `export * from 'temporal-fanout/workflows';` to your workflows module",
    );
}
