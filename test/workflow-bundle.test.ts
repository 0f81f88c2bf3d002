/**
 * A worker started from a workflow bundle built ahead of time (`npm run bundle:workflows`, WORKFLOW_BUNDLE), as the
 * Docker image runs: the bundle file is written, a real worker loads it with `{ codePath }` and runs a fan-out.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry, defineCallback, defineService } from '../src/registry';
import { bundleTraces, tracingWorkflowModules } from '../src/tracing';
import { WorkflowBundleError } from '../src/worker/bundle-check';
import { bundleFanoutWorkflows, workflowBundleFromEnv, writeWorkflowBundle } from '../src/worker/workflow-bundle';
import { withFanoutWorker } from './helpers/fanout-env';
import type { FanoutTestEnv } from './helpers/temporal-env';
import { createTimeSkippingEnv } from './helpers/temporal-env';

const ROOT = path.resolve(__dirname, '..');
let env: FanoutTestEnv;
let dir: string;
let bundleFile: string;
beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'workflow-bundle-'));
  [env, bundleFile] = await Promise.all([createTimeSkippingEnv(), writeWorkflowBundle(path.join(dir, 'bundle.js'))]);
}, 120_000);
afterAll(async () => {
  await env?.teardown();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('a worker on a workflow bundle built ahead of time', () => {
  it('loads the file named by WORKFLOW_BUNDLE and runs a fan-out with it', async () => {
    const workflowBundle = workflowBundleFromEnv({ WORKFLOW_BUNDLE: bundleFile });
    expect(workflowBundle).toEqual({ codePath: bundleFile });
    expect(fs.statSync(bundleFile).size).toBeGreaterThan(10_000);
    const registry = new Registry(
      [defineService({ name: 'echo', handler: async (request: unknown) => request })],
      [defineCallback({ name: 'done', handler: async () => undefined })],
    );
    const result = await withFanoutWorker(
      { env, workflowBundle: undefined, workerOptions: { workflowBundle }, taskQueue: 'prebuilt-bundle' },
      registry,
      async (fanout) => {
        const cid = await fanout.invoke({ a: 1, b: 2, c: 3 }, ['done'], {
          targetOptions: { a: { service: 'echo' }, b: { service: 'echo' }, c: { service: 'echo' } },
        });
        return fanout.result(cid);
      },
    );
    expect(result.counts).toMatchObject({ total: 3, ok: 3, failed: 0, callbacks: 1, callbacksFailed: 0 });
    expect(result.targets).toEqual({ a: 'ok', b: 'ok', c: 'ok' });
    const responses = Object.entries(result.payload.data).map(([name, record]) => [name, record.response]);
    expect(Object.fromEntries(responses)).toEqual({ a: 1, b: 2, c: 3 });
  });

  it('leaves zod out: the sandbox evaluates the workflow modules again for every execution it runs', () => {
    const code = fs.readFileSync(bundleFile, 'utf8');
    // Module paths as webpack names them (.ts under vitest, .js from dist); booleans keep a failure's message short.
    expect(/src\/workflows\/fanout\.[jt]s/.test(code)).toBe(true);
    expect(/src\/constants\.[jt]s/.test(code)).toBe(true);
    expect(/node_modules\/zod\//.test(code)).toBe(false);
  });

  it('bundles at start when WORKFLOW_BUNDLE is unset, and refuses one that names no file', () => {
    expect(workflowBundleFromEnv({})).toBeUndefined();
    expect(() => workflowBundleFromEnv({ WORKFLOW_BUNDLE: path.join(dir, 'missing.js') })).toThrow(
      /WORKFLOW_BUNDLE=.*missing\.js: no such file/,
    );
  });

  it("bundles the workflows' tracing interceptors from the sources, the lighter outbound one among them", async () => {
    const bundle = await bundleFanoutWorkflows(undefined, { workflowInterceptorModules: tracingWorkflowModules() });
    expect(bundleTraces(bundle)).toBe(true);
    expect(bundle.code).toContain('class FanoutTracingOutboundInterceptor');
  }, 60_000);

  it('refuses a bundle with two copies of the workflow SDK, and one without the fan-out workflows', async () => {
    // A second copy of @temporalio/workflow where a nested install would put it; webpack resolves everything else
    // from the repository's node_modules above. The folder must sit inside the repository for that.
    fs.mkdirSync(path.join(ROOT, '.data'), { recursive: true }); // a fresh clone has none yet
    const app = fs.mkdtempSync(path.join(ROOT, '.data', 'two-sdk-copies-'));
    try {
      const nested = path.join(app, 'node_modules', '@temporalio', 'workflow');
      fs.cpSync(path.join(ROOT, 'node_modules', '@temporalio', 'workflow'), nested, { recursive: true });
      const fanoutWorkflows = JSON.stringify(path.join(ROOT, 'src', 'workflows'));
      fs.writeFileSync(
        path.join(app, 'two-copies.ts'),
        `export * from ${fanoutWorkflows};\nimport { sleep } from '@temporalio/workflow';\n` +
          'export async function nap(): Promise<void> {\n  await sleep(1);\n}\n',
      );
      fs.writeFileSync(
        path.join(app, 'no-fanout.ts'),
        'export async function lonely(): Promise<string> {\n  return "alone";\n}\n',
      );
      await expect(bundleFanoutWorkflows(path.join(app, 'two-copies.ts'))).rejects.toThrow(
        /holds 2 copies of @temporalio\/workflow/,
      );
      await expect(bundleFanoutWorkflows(path.join(app, 'no-fanout.ts'))).rejects.toThrow(WorkflowBundleError);
      await expect(bundleFanoutWorkflows(path.join(app, 'no-fanout.ts'))).rejects.toThrow(
        /export \* from 'temporal-fanout\/workflows'/,
      );
    } finally {
      fs.rmSync(app, { recursive: true, force: true });
    }
  }, 60_000);
});
