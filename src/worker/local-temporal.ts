/**
 * Temporal for development without one: the embedded server (dist/server/main.js) launched through
 * @temporalio/testing's dev-server form, with the fan-out search attributes registered, and a fan-out worker
 * polling it in this process.
 */
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { SearchAttributeType } from '@temporalio/common';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { bundleWorkflowCode } from '@temporalio/worker';
import { SEARCH_ATTRIBUTES } from '../contracts';
import type { Registry } from '../registry';
import { createFanoutWorker, DEFAULT_WORKFLOWS_PATH } from './create-worker';
import { quietLogger } from './quiet-logger';

/** Where `npm run build` puts the server, seen from dist/src/worker. */
export const EMBEDDED_SERVER_PATH = path.resolve(__dirname, '../../server/main.js');

export interface LocalTemporal {
  client: Client;
  address: string;
  /** Stops the worker (letting running activities finish), then the server. */
  shutdown(): Promise<void>;
}

/** The embedded server in its dev-server form, with the fan-out search attributes registered. */
export async function startEmbeddedDevServer(serverPath = EMBEDDED_SERVER_PATH): Promise<TestWorkflowEnvironment> {
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: serverPath },
      searchAttributes: Object.values(SEARCH_ATTRIBUTES).map((name) => ({ name, type: SearchAttributeType.KEYWORD })),
    },
  });
}

/** The fan-out workflows bundled once, quietly: webpack's statistics are of no interest to someone starting a demo. */
export async function bundleFanoutWorkflows(
  workflowsPath = DEFAULT_WORKFLOWS_PATH,
): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({ workflowsPath, logger: quietLogger });
}

export async function startLocalTemporal(
  registry: Registry,
  serverPath = EMBEDDED_SERVER_PATH,
): Promise<LocalTemporal> {
  const env = await startEmbeddedDevServer(serverPath);
  const workflowBundle = await bundleFanoutWorkflows();
  const worker = await createFanoutWorker({ connection: env.nativeConnection, registry, workflowBundle });
  const running = worker.run();
  running.catch((error: unknown) => {
    console.error('fan-out worker failed', error);
    process.exit(1);
  });
  return {
    client: env.client,
    address: env.connection.options.address,
    async shutdown() {
      // The SDK runtime also stops workers on SIGINT/SIGTERM by itself: it may have begun already.
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      await env.teardown();
    },
  };
}
