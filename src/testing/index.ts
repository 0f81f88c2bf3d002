/**
 * `temporal-fanout/testing`: the official Temporal servers for tests of apps that fan out, as this package's own
 * tests use them — the time-skipping test server and the CLI dev server, each with the fan-out's search attributes
 * registered and a client that shares a result store with the workers.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { DevServerOptions } from '../local/temporal-servers';
import { startDevServer, startTimeSkippingServer } from '../local/temporal-servers';
import type { BlobStore } from '../store/blob-store';
import { LocalBlobStore } from '../store/local-store';
import { fanoutDataConverter } from '../store/payload-driver';

export type { DevServerOptions } from '../local/temporal-servers';

/** A result store of its own for one test environment: a new folder under the OS temp dir. */
export function tempStore(): LocalBlobStore {
  return new LocalBlobStore(fs.mkdtempSync(path.join(os.tmpdir(), 'fanout-store-')));
}

/**
 * An environment and the store its client shares with the workers (large payloads are claims on it): give
 * `createFanoutWorker` and `FanoutClient` the same `store`, and the environment's own client — the one that skips
 * time while it waits for a result — serves FanoutClient as it is.
 */
export type FanoutTestEnv = TestWorkflowEnvironment & { store: BlobStore };

/** The official time-skipping test server: timers and timeouts of hours pass in moments. */
export async function createTimeSkippingEnv(store: BlobStore = tempStore()): Promise<FanoutTestEnv> {
  return Object.assign(await startTimeSkippingServer({ dataConverter: fanoutDataConverter(store) }), { store });
}

/** The official CLI dev server (the real server on SQLite): for visibility, the Web UI and real time. */
export async function createDevServerEnv(
  options: DevServerOptions = {},
  store: BlobStore = tempStore(),
): Promise<FanoutTestEnv> {
  return Object.assign(await startDevServer({ ...options, dataConverter: fanoutDataConverter(store) }), { store });
}

export { startWorkersApart } from './workers-apart';
export type { WorkersApart } from './workers-apart';
