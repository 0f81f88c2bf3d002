/**
 * docker-compose.yml's `cluster` profile, run for real where Docker cannot run: the shell scripts of its two
 * admin-tools jobs execute here against the suite's cluster, with the same tools the image carries —
 * `temporal-sql-tool` (go.temporal.io/server/cmd/tools/sql of the same server version, built by
 * scripts/temporal-cluster.sh) and the `temporal` CLI. Only the database host and port are changed (the compose
 * network's postgresql:5432 is this cluster's private PostgreSQL); the namespace job runs on a namespace of its own.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parse } from 'yaml';
import { Connection } from '@temporalio/client';
import { temporal as proto } from '@temporalio/proto';
import { SEARCH_ATTRIBUTES } from '../../src/contracts';
import { cluster } from './cluster';
import { ROOT } from './cluster-env';

interface Job {
  entrypoint: string[];
  command: string[];
  environment?: Record<string, string>;
}
const compose = parse(fs.readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, Job & { image: string }>;
};
const version = /^VERSION=(\S+)$/m.exec(fs.readFileSync(path.join(ROOT, 'scripts/temporal-cluster.sh'), 'utf8'))![1];
const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'fanout-compose-tools-'));

beforeAll(() => {
  // The admin-tools image's command names, on PATH.
  fs.symlinkSync(path.join(ROOT, `.tools/temporal-server-${version}/sql`), path.join(bin, 'temporal-sql-tool'));
  fs.symlinkSync(cluster().cliPath, path.join(bin, 'temporal'));
});
afterAll(() => fs.rmSync(bin, { recursive: true, force: true }));

/** Runs a compose job's `sh -c` script as Compose would (`$$` is a literal `$`), with `edit` applied first. */
function runJob(name: string, edit: (script: string) => string, env: Record<string, string> = {}): string {
  const job = compose.services[name];
  expect(job.entrypoint).toEqual(['/bin/sh', '-c']);
  const script = edit(job.command.join('\n').replaceAll('$$', '$'));
  return execFileSync('/bin/sh', ['-c', script], {
    env: { ...process.env, ...job.environment, ...env, PATH: `${bin}:${process.env.PATH}` },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 90_000,
  });
}

function psql(db: string, sql: string): string {
  const { dir, pgPort } = cluster();
  return execFileSync(
    'psql',
    ['-X', '-tA', '-h', path.join(dir, 'pg'), '-p', String(pgPort), '-U', 'postgres', '-d', db, '-c', sql],
    {
      encoding: 'utf8',
    },
  ).trim();
}

// The image's schema folder is the server module's schema/postgresql/v12, which the script copies under .tools/.
const toCluster = (script: string) =>
  script
    .replaceAll('--ep postgresql -p 5432', `--ep 127.0.0.1 -p ${cluster().pgPort}`)
    .replaceAll('/etc/temporal/schema/postgresql/v12/', `${ROOT}/.tools/temporal-server-${version}/share/schema/`);
const schemaVersion = (db: string) => psql(db, 'SELECT curr_version FROM schema_version');

it('the schema job creates and migrates both databases to the version the cluster runs on, and is idempotent', () => {
  // On new databases (renamed), the way a first `docker compose up` finds PostgreSQL.
  const fresh = (script: string) =>
    toCluster(script)
      .replace('for db in temporal temporal_visibility', 'for db in compose_temporal compose_visibility')
      .replace('[ "$db" = temporal_visibility ]', '[ "$db" = compose_visibility ]');
  runJob('temporal-schema', fresh, { SQL_PASSWORD: 'temporal' });
  expect(schemaVersion('compose_temporal')).toBe(schemaVersion('temporal'));
  expect(schemaVersion('compose_visibility')).toBe(schemaVersion('temporal_visibility'));
  expect(psql('compose_visibility', "SELECT to_regclass('executions_visibility')")).toBe('executions_visibility');
  // Again on the same databases (every `up` runs it), and on the live cluster's own: nothing to do, no failure.
  runJob('temporal-schema', fresh, { SQL_PASSWORD: 'temporal' });
  runJob('temporal-schema', toCluster, { SQL_PASSWORD: 'temporal' });
  expect(schemaVersion('temporal')).toBe(schemaVersion('compose_temporal'));
}, 120_000);

it('the setup job creates the namespace and registers the search attributes as Keyword, idempotently', async () => {
  const namespace = `compose-${Date.now()}`;
  const own = (script: string) => script.replaceAll('--namespace default', `--namespace ${namespace}`);
  const env = { TEMPORAL_ADDRESS: cluster().address };
  runJob('temporal-setup', own, env);
  runJob('temporal-setup', own, env); // a second `up`
  const connection = await Connection.connect({ address: cluster().address });
  try {
    const listed = await connection.operatorService.listSearchAttributes({ namespace });
    const keyword = proto.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;
    for (const name of Object.values(SEARCH_ATTRIBUTES)) expect(listed.customAttributes?.[name]).toBe(keyword);
    const described = await connection.workflowService.describeNamespace({ namespace });
    expect(Number(described.config?.workflowExecutionRetentionTtl?.seconds)).toBe(72 * 3600);
  } finally {
    await connection.close();
  }
}, 120_000);
