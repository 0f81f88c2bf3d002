/**
 * Starting the official Temporal servers on this machine, the one way demos, benchmarks and tests all use:
 * the CLI dev server (real server on SQLite, Web UI optional, data kept in a file when asked) and the time-skipping
 * test server. Both get the fan-out search attributes registered, as a real namespace needs them.
 */
import type { DataConverter } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { FanoutSourceKey, FanoutStateKey, SEARCH_ATTRIBUTES } from '../contracts';
import type { Provisioned } from './temporal-binaries';
import { TEMPORAL_CLI, TEMPORAL_TEST_SERVER, describeExecutable, provision } from './temporal-binaries';

/** Start-up is seconds; only the SDK's download fallback could take longer, and it must never hang. */
const START_TIMEOUT_MS = 180_000;

/**
 * SQLite in WAL mode with synchronous=normal: as fast as the in-memory store here (1,000 activities 3.35 s against
 * 3.55 s), where the default rollback journal is 2.6-3.3x slower; a killed server still loses nothing committed.
 */
export const DURABLE_SQLITE_PRAGMAS = ['--sqlite-pragma', 'journal_mode=wal', '--sqlite-pragma', 'synchronous=normal'];

/**
 * Task queue priority and fairness (a fan-out's `priority` and `fairness`): the new matcher (Priority, on by
 * default) and fairness (off by default), with one partition per task queue, so a local server dispatches by
 * priority and fairness key exactly (with several partitions it is per partition).
 */
export const FAIRNESS_DYNAMIC_CONFIG = [
  '--dynamic-config-value',
  'matching.useNewMatcher=true',
  '--dynamic-config-value',
  'matching.enableFairness=true',
  '--dynamic-config-value',
  'matching.numTaskqueueReadPartitions=1',
  '--dynamic-config-value',
  'matching.numTaskqueueWritePartitions=1',
];

/**
 * The server's cache of history events, 64 MiB (`history.eventsCacheMaxSizeBytes`; the default is 512 KiB a history
 * shard, and the dev server has one shard). A worker's activity task is made from its scheduled event: with more
 * targets in flight than fit in the cache, most of those events are read back from the database, a whole batch of
 * events decoded for each. A 5,000-target fan-out with 1,000 in flight missed 2,194 of 3,796 lookups at 512 KiB, none
 * at 64 MiB (using 1.4 MiB of it). Clusters: docs/production.md.
 */
export const EVENTS_CACHE_DYNAMIC_CONFIG = [
  '--dynamic-config-value',
  `history.eventsCacheMaxSizeBytes=${64 * 1024 * 1024}`,
];

export interface DevServerOptions {
  /** Keep the server's state in this SQLite file (it survives restarts); in memory when unset. */
  dbFilename?: string;
  /**
   * With dbFilename: add DURABLE_SQLITE_PRAGMAS (WAL, synchronous=normal). On by default; off only to measure
   * `--db-filename` alone (npm run bench:persistence).
   */
  sqlitePragmas?: boolean;
  /** Serve the Web UI (on uiPort, or port + 1000). */
  ui?: boolean;
  port?: number;
  uiPort?: number;
  /**
   * Task queue fairness (`matching.enableFairness`): on by default; off only to measure first come first served
   * dispatch against it (npm run bench:fairness). Priority stays on either way.
   */
  fairness?: boolean;
  /** Extra `temporal server start-dev` flags, e.g. `--dynamic-config-value`. */
  extraArgs?: string[];
  log?: (line: string) => void;
  /** The environment client's data converter: `fanoutDataConverter(store)` for fan-outs. */
  dataConverter?: DataConverter;
}

async function withTimeout<T>(what: string, provisioned: Provisioned, start: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new Error(
            `${what} did not start within ${START_TIMEOUT_MS / 1000} s (${describeExecutable(provisioned.executable)})`,
          ),
        ),
      START_TIMEOUT_MS,
    );
  });
  try {
    return await Promise.race([start, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export async function startDevServer(options: DevServerOptions = {}): Promise<TestWorkflowEnvironment> {
  const cli = provision(TEMPORAL_CLI, options.log);
  return withTimeout(
    'The Temporal dev server',
    cli,
    TestWorkflowEnvironment.createLocal({
      ...(options.dataConverter ? { client: { dataConverter: options.dataConverter } } : {}),
      server: {
        executable: cli.executable,
        searchAttributes: [FanoutSourceKey, FanoutStateKey],
        ...(options.dbFilename ? { dbFilename: options.dbFilename } : {}),
        ...(options.port ? { port: options.port } : {}),
        ...(options.ui ? { ui: true, ...(options.uiPort ? { uiPort: options.uiPort } : {}) } : {}),
        log: { format: 'pretty', level: 'error' },
        extraArgs: [
          ...(options.fairness === false
            ? FAIRNESS_DYNAMIC_CONFIG.map((arg) =>
                arg === 'matching.enableFairness=true' ? 'matching.enableFairness=false' : arg,
              )
            : FAIRNESS_DYNAMIC_CONFIG),
          ...EVENTS_CACHE_DYNAMIC_CONFIG,
          ...(options.dbFilename && options.sqlitePragmas !== false ? DURABLE_SQLITE_PRAGMAS : []),
          ...(options.extraArgs ?? []),
        ],
      },
    }),
  );
}

/**
 * The official time-skipping test server. It has no flag for search attributes: they go through the operator
 * service, as on any real namespace.
 */
export async function startTimeSkippingServer(
  options: { log?: (line: string) => void; dataConverter?: DataConverter } = {},
): Promise<TestWorkflowEnvironment> {
  const testServer = provision(TEMPORAL_TEST_SERVER, options.log);
  const env = await withTimeout(
    'The Temporal test server',
    testServer,
    TestWorkflowEnvironment.createTimeSkipping({
      ...(options.dataConverter ? { client: { dataConverter: options.dataConverter } } : {}),
      server: { executable: testServer.executable },
    }),
  );
  await registerSearchAttributes(env);
  return env;
}

export async function registerSearchAttributes(env: TestWorkflowEnvironment): Promise<void> {
  const keyword = temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;
  await env.connection.operatorService.addSearchAttributes({
    namespace: env.namespace ?? 'default',
    searchAttributes: Object.fromEntries(Object.values(SEARCH_ATTRIBUTES).map((name) => [name, keyword])),
  });
}
