/**
 * What the cluster tests share: the cluster the global setup started (`cluster()`), scripts/temporal-cluster.sh to
 * kill and restart its services, connections with the fan-out data converter, and the production worker entry
 * (dist/src/cli/main.js) as a process of its own.
 */
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { inject } from 'vitest';
import { Client, Connection } from '@temporalio/client';
import type { BlobStore } from '../../src/store/blob-store';
import { fanoutDataConverter } from '../../src/store/payload-driver';
import type { ClusterInfo, ServerService } from './cluster-env';
import { CLUSTER_SCRIPT, WORKER_ENTRY, clusterEnv } from './cluster-env';

export type { ClusterInfo, ServerService } from './cluster-env';
export { CLUSTER_SCRIPT, WORKER_ENTRY, clusterEnv } from './cluster-env';

export function cluster(): ClusterInfo {
  return inject('cluster');
}

const execFileAsync = promisify(execFile);

/** Runs scripts/temporal-cluster.sh with the suite's cluster settings; returns its stdout. */
export async function clusterCtl(...args: string[]): Promise<string> {
  const { stdout } = await execFileAsync(CLUSTER_SCRIPT, args, { env: clusterEnv(cluster()), timeout: 180_000 });
  return stdout;
}

/** The PID of a server service, as `status` lists it (undefined when stopped). */
export async function servicePid(service: ServerService): Promise<number | undefined> {
  const out = await clusterCtl('status').catch((error: { stdout?: string }) => error.stdout ?? '');
  const match = new RegExp(`^${service}\\s+running\\s+pid (\\d+)`, 'm').exec(out);
  return match ? Number(match[1]) : undefined;
}

/** A client whose data converter reads and writes large payloads on `store`, like the workers'. */
export async function clusterClient(store: BlobStore): Promise<{ client: Client; connection: Connection }> {
  const connection = await Connection.connect({ address: cluster().address });
  return {
    client: new Client({ connection, namespace: 'default', dataConverter: fanoutDataConverter(store) }),
    connection,
  };
}

/** The production worker (`node dist/src/cli/main.js worker --examples`) as its own process, against the cluster. */
export class WorkerProcess {
  private child?: ChildProcess;
  readonly log: string;

  constructor(
    private readonly env: NodeJS.ProcessEnv,
    logDir: string,
  ) {
    this.log = path.join(logDir, 'fanout-worker.log');
  }

  start(): void {
    if (!fs.existsSync(WORKER_ENTRY)) throw new Error(`${WORKER_ENTRY} missing: npm run test:cluster builds first`);
    const out = fs.openSync(this.log, 'a');
    const child = spawn(process.execPath, [WORKER_ENTRY, 'worker', '--examples'], {
      stdio: ['ignore', out, out],
      env: { ...process.env, TEMPORAL_ADDRESS: cluster().address, TEMPORAL_NAMESPACE: 'default', ...this.env },
    });
    fs.closeSync(out);
    this.child = child;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** SIGKILL (the default) or SIGTERM, and wait until the process is gone. */
  async stop(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
  }
}
