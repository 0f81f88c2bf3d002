/**
 * Bundling the fan-out workflows: in memory for tests, demos and benchmarks, or ahead of time into a file, as a
 * production worker should load them: webpack runs once at build time (`temporal-fanout bundle`, the Dockerfile
 * does), not in every worker process at start, where it costs seconds and memory the process keeps. A worker given
 * WORKFLOW_BUNDLE loads that file.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { BundleOptions, WorkflowBundleOption, WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { bundleWorkflowCode } from '@temporalio/worker';
import { checkWorkflowBundle } from './bundle-check';
import { quietLogger } from './quiet-logger';

/** This package's workflows module, the fan-out workflows alone (a folder: webpack finds index.ts or index.js). */
export const FANOUT_WORKFLOWS_PATH = path.join(__dirname, '..', 'workflows');

/**
 * A workflows module bundled quietly (webpack's statistics are of no interest to someone starting a worker) and
 * checked: one copy of the workflow SDK, the fan-out workflows in it.
 */
export async function bundleFanoutWorkflows(
  workflowsPath = FANOUT_WORKFLOWS_PATH,
  options: Omit<BundleOptions, 'workflowsPath'> = {},
): Promise<WorkflowBundleWithSourceMap> {
  const bundle = await bundleWorkflowCode({ logger: quietLogger, ...options, workflowsPath });
  checkWorkflowBundle(bundle);
  return bundle;
}

/**
 * Bundles the workflows module into one file that a worker loads with `{ codePath }`; `options` as the bundler's
 * (`workflowInterceptorModules` for a worker that traces).
 */
export async function writeWorkflowBundle(
  file: string,
  workflowsPath = FANOUT_WORKFLOWS_PATH,
  options: Omit<BundleOptions, 'workflowsPath'> = {},
): Promise<string> {
  const { code } = await bundleFanoutWorkflows(workflowsPath, options);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, code);
  return file;
}

/**
 * The bundle named by WORKFLOW_BUNDLE, or none (the worker then bundles at start). Named explicitly rather than
 * found on disk: a bundle left from an older build must never be picked up by accident.
 */
export function workflowBundleFromEnv(env: NodeJS.ProcessEnv = process.env): WorkflowBundleOption | undefined {
  const codePath = env.WORKFLOW_BUNDLE;
  if (!codePath) return undefined;
  if (!fs.existsSync(codePath))
    throw new Error(`WORKFLOW_BUNDLE=${codePath}: no such file (build it with: temporal-fanout bundle --out FILE)`);
  return { codePath };
}
