/**
 * Temporal on this machine for `npm start`, `npm run api` and the demos: the official dev server with its Web UI,
 * its state kept in a SQLite file under the gitignored data folder (fan-outs survive a restart), and a fan-out
 * worker polling it in this process.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Client } from '@temporalio/client';
import type { Registry } from '../registry';
import type { FanoutTracing } from '../tracing';
import { createFanoutWorker } from '../worker/create-worker';
import { bundleFanoutWorkflows } from '../worker/workflow-bundle';
import { localDataDir } from './paths';
import { startDevServer } from './temporal-servers';

export interface LocalTemporal {
  client: Client;
  address: string;
  /** The Web UI's address. */
  uiUrl: string;
  /** The Web UI page of one workflow (a fan-out's CID). */
  workflowUrl(workflowId: string): string;
  /** Stops the worker (letting running activities finish), then the server. */
  shutdown(): Promise<void>;
}

/** A port nobody listens on right now (the UI's default, port + 1000, may be taken). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export function workflowPageUrl(uiUrl: string, workflowId: string, namespace = 'default'): string {
  return `${uiUrl}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}

export async function startLocalTemporal(
  registry: Registry,
  options: {
    log?: (line: string) => void;
    /** The worker's workflows module; default: the fan-out workflows alone. */
    workflowsPath?: string;
    taskQueue?: string;
    /** Traces of the worker and of the client it gives (the API command's, when OTEL_* turn tracing on). */
    tracing?: FanoutTracing;
  } = {},
): Promise<LocalTemporal> {
  const dataDir = localDataDir();
  fs.mkdirSync(dataDir, { recursive: true });
  const uiPort = await freePort();
  const env = await startDevServer({
    dbFilename: path.join(dataDir, 'temporal.db'),
    ui: true,
    uiPort,
    log: options.log ?? ((line) => console.log(line)),
  });
  const { tracing } = options;
  const workflowBundle = await bundleFanoutWorkflows(options.workflowsPath, {
    workflowInterceptorModules: tracing?.worker.interceptors.workflowModules,
  });
  const worker = await createFanoutWorker({
    connection: env.nativeConnection,
    registry,
    workflowBundle,
    ...tracing?.worker,
    ...(options.taskQueue ? { taskQueue: options.taskQueue } : {}),
  });
  const running = worker.run();
  running.catch((error: unknown) => {
    console.error('fan-out worker failed', error);
    process.exit(1);
  });
  const uiUrl = `http://127.0.0.1:${uiPort}`;
  return {
    client: tracing
      ? new Client({ connection: env.connection, namespace: env.namespace, interceptors: tracing.client.interceptors })
      : env.client,
    address: env.connection.options.address,
    uiUrl,
    workflowUrl: (workflowId) => workflowPageUrl(uiUrl, workflowId),
    async shutdown() {
      // The SDK runtime also stops workers on SIGINT/SIGTERM by itself: it may have begun already.
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      await env.teardown();
    },
  };
}
