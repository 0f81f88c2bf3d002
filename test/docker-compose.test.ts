/**
 * Docker cannot run here, so docker-compose.yml and the Dockerfile are checked against the code: ports, search
 * attributes, entry points, connection settings. The Temporal command is also fed to our own server's argument
 * parser: it must be a command both the real CLI and the embedded server understand.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseServerArgs } from '../server/cli-args';
import { SEARCH_ATTRIBUTES } from '../src/contracts';

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
    const options = parseServerArgs(temporal.command!);
    expect(options.mode).toBe('dev');
    expect(options.port).toBe(7233);
    expect(options.namespaces).toEqual(['default']);
  });

  it('registers exactly the search attributes the workflows set, as Keyword', () => {
    const options = parseServerArgs(temporal.command!);
    expect(options.searchAttributes).toEqual(
      Object.values(SEARCH_ATTRIBUTES).map((name) => ({ name, type: 'Keyword' })),
    );
    // Only the UI port is beyond the embedded server; everything else it accepts silently.
    expect(options.warnings).toHaveLength(1);
    expect(options.warnings[0]).toMatch(/--ui-port/);
  });

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
