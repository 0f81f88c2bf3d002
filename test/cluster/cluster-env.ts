/**
 * The cluster's settings as the global setup hands them to the tests, and the environment that points
 * scripts/temporal-cluster.sh at that cluster. Free of vitest imports: the global setup uses it too.
 */
import path from 'node:path';

export interface ClusterInfo {
  /** The frontend's gRPC address, 127.0.0.1:PORT. */
  address: string;
  /** CLUSTER_DIR: data, pid files and the services' logs. */
  dir: string;
  basePort: number;
  pgPort: number;
  cliPath: string;
}

// `project.provide('cluster', …)` in the global setup, `inject('cluster')` in the tests (a type-only augmentation).
declare module 'vitest' {
  export interface ProvidedContext {
    cluster: ClusterInfo;
  }
}

export const ROOT = path.resolve(__dirname, '../..');
export const CLUSTER_SCRIPT = path.join(ROOT, 'scripts/temporal-cluster.sh');
export const WORKER_ENTRY = path.join(ROOT, 'dist/src/cli/main.js');

export type ServerService = 'frontend' | 'history' | 'matching' | 'worker';

export function clusterEnv(info: ClusterInfo): NodeJS.ProcessEnv {
  return {
    ...process.env,
    CLUSTER_DIR: info.dir,
    CLUSTER_BASE_PORT: String(info.basePort),
    CLUSTER_PG_PORT: String(info.pgPort),
    TEMPORAL_CLI_PATH: info.cliPath,
  };
}
