/**
 * Docker cannot run here, so docker-compose.yml and the Dockerfile are checked against the code: ports, search
 * attributes, entry points, connection settings. The Temporal service's command is run for real with the same
 * official CLI the image carries (on free loopback ports): it must start and register the search attributes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { spawn } from 'node:child_process';
import { Connection } from '@temporalio/client';
import { temporal as proto } from '@temporalio/proto';
import { SEARCH_ATTRIBUTES } from '../src/contracts';
import { freePort } from '../src/local/local-temporal';
import { TEMPORAL_CLI, provision } from '../src/local/temporal-binaries';
import { waitFor } from './helpers/wait';

const root = path.resolve(__dirname, '..');
const compose = parse(fs.readFileSync(path.join(root, 'docker-compose.yml'), 'utf8')) as {
  services: Record<
    string,
    {
      image?: string;
      build?: string;
      command?: string[];
      ports?: string[];
      environment?: Record<string, string>;
      depends_on?: Record<string, unknown>;
    }
  >;
};
const dockerfile = fs.readFileSync(path.join(root, 'Dockerfile'), 'utf8');

/** dist/src/worker/main.js ← src/worker/main.ts */
function sourceOf(entry: string): string {
  return path.join(root, entry.replace(/^dist\//, '').replace(/\.js$/, '.ts'));
}

describe('docker-compose.yml', () => {
  const { temporal, worker, api } = compose.services;

  it('runs Temporal with gRPC on 7233 and the Web UI on 8233', () => {
    expect(temporal.image).toMatch(/^temporalio\/temporal/);
    expect(temporal.ports).toEqual(expect.arrayContaining(['7233:7233', '8233:8233']));
    const command = temporal.command!;
    expect(command.slice(0, 2)).toEqual(['server', 'start-dev']);
    expect(command[command.indexOf('--port') + 1]).toBe('7233');
    expect(command[command.indexOf('--ui-port') + 1]).toBe('8233');
  });

  it('its command starts the real CLI and registers exactly the search attributes the workflows set, as Keyword', async () => {
    const cli = provision(TEMPORAL_CLI).executable;
    if (cli.type !== 'existing-path') throw new Error('the Temporal CLI is not installed');
    const [port, uiPort] = [await freePort(), await freePort()];
    // Same flags, but on loopback and free ports: the container's 0.0.0.0:7233 is not ours to take here.
    const args = temporal.command!.map((arg, i, all) =>
      all[i - 1] === '--port'
        ? String(port)
        : all[i - 1] === '--ui-port'
          ? String(uiPort)
          : all[i - 1] === '--ip'
            ? '127.0.0.1'
            : arg,
    );
    const server = spawn(cli.path, [...args, '--log-level', 'error'], { stdio: 'ignore' });
    try {
      let connection: Connection | undefined;
      await waitFor(async () => {
        connection = await Connection.connect({ address: `127.0.0.1:${port}`, connectTimeout: 500 }).catch(
          () => undefined,
        );
        return connection !== undefined;
      }, 30_000);
      const listed = await connection!.operatorService.listSearchAttributes({ namespace: 'default' });
      const keyword = proto.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;
      const custom = Object.fromEntries(
        Object.entries(listed.customAttributes ?? {}).filter(([, type]) => type === keyword),
      );
      for (const name of Object.values(SEARCH_ATTRIBUTES)) expect(custom).toHaveProperty(name);
      await connection!.close();
    } finally {
      server.kill('SIGTERM');
    }
  }, 60_000);

  it('builds the worker from the Dockerfile and points it at the temporal service', () => {
    expect(worker.build).toBe('.');
    expect(worker.environment?.TEMPORAL_ADDRESS).toBe('temporal:7233');
    expect(worker.depends_on).toHaveProperty('temporal');
    const entry = worker.command![1];
    expect(fs.existsSync(sourceOf(entry))).toBe(true);
    expect(entry).toBe('dist/src/worker/main.js');
  });

  it('runs the HTTP API from the same image, on a published port, against the same Temporal', () => {
    expect(api.build).toBe('.');
    expect(fs.existsSync(sourceOf(api.command![1]))).toBe(true);
    expect(api.environment?.TEMPORAL_ADDRESS).toBe('temporal:7233');
    expect(api.ports).toEqual([`${api.environment?.API_PORT}:${api.environment?.API_PORT}`]);
  });

  it('the worker serves the task queue the client starts fan-outs on', () => {
    const main = fs.readFileSync(path.join(root, 'src/worker/main.ts'), 'utf8');
    const create = fs.readFileSync(path.join(root, 'src/worker/create-worker.ts'), 'utf8');
    expect(main).not.toMatch(/taskQueue:/); // no override: the default below applies
    expect(create).toMatch(/taskQueue: options\.taskQueue \?\? FANOUT_TASK_QUEUE/);
  });
});

describe('Dockerfile', () => {
  it('builds the project and runs the worker entry by default, as a non-root user', () => {
    expect(dockerfile).toMatch(/RUN npm run build/);
    expect(dockerfile).toMatch(/CMD \["node", "dist\/src\/worker\/main\.js"\]/);
    expect(dockerfile).toMatch(/^USER node$/m);
  });
});
