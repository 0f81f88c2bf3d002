/**
 * The library as a user installs it: `npm pack`, the tarball installed into a project of its own (a temp copy of
 * test/consumer-app, with its own @temporalio/* and zod at the peer versions), type-checked strictly through the
 * public entry points, then run — a fan-out end to end with its own connection, workflows and activities, its own
 * time-skipping test under vitest, and the `temporal-fanout worker` command serving its registry. The app lives in
 * a temp folder: nothing of this repository's src/ can be reached from it.
 */
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEMPORAL_CLI, TEMPORAL_TEST_SERVER, provision } from '../src/local/temporal-binaries';
import type { FanoutTestEnv } from './helpers/temporal-env';
import { createDevServerEnv } from './helpers/temporal-env';

const ROOT = path.resolve(__dirname, '..');
const PEERS = ['activity', 'client', 'common', 'envconfig', 'proto', 'worker', 'workflow', 'testing'];
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fanout-consumer-'));
const app = path.join(dir, 'app');
let tarball: string;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The official binaries this suite provisioned, named for the app (which would otherwise install its own). */
function binariesEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const spec of [TEMPORAL_CLI, TEMPORAL_TEST_SERVER]) {
    const { executable } = provision(spec);
    if (executable.type === 'existing-path') env[spec.envVar] = executable.path;
  }
  return env;
}

/** This process's environment without vitest's own variables, which would confuse the app's vitest, and colour. */
function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^(VITEST|TEST$|NODE_ENV$)/.test(key)));
  delete env.FORCE_COLOR;
  return { ...env, NO_COLOR: '1', ...binariesEnv(), ...extra };
}

function start(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): ChildProcess {
  return spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
}

async function run(
  command: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<Run> {
  const child = start(command, args, options.cwd ?? app, options.env ?? cleanEnv());
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  clearTimeout(timer);
  return { code, stdout, stderr };
}

function expectSuccess(result: Run, what: string): void {
  if (result.code !== 0) throw new Error(`${what} exited with ${result.code}:\n${result.stdout}\n${result.stderr}`);
}

const npm = (args: string[], cwd = app, timeoutMs = 300_000) => run('npm', args, { cwd, timeoutMs });

/** The JSON object a script printed last. */
function lastJson(stdout: string): Record<string, unknown> {
  const line = stdout
    .trim()
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('{'));
  if (!line) throw new Error(`no JSON line in:\n${stdout}`);
  return JSON.parse(line) as Record<string, unknown>;
}

function callbackLog(file: string): { kind: string; target?: string; ok?: boolean; targets?: string[] }[] {
  return fs
    .readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { kind: string });
}

beforeAll(async () => {
  const packed = await npm(['pack', '--pack-destination', dir], ROOT);
  expectSuccess(packed, 'npm pack');
  tarball = path.join(dir, packed.stdout.trim().split('\n').pop()!);
  fs.cpSync(path.join(ROOT, 'test/consumer-app'), app, { recursive: true });
  const sdk = JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules/@temporalio/client/package.json'), 'utf8'))
    .version as string;
  const dev = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).devDependencies as Record<
    string,
    string
  >;
  const manifest = {
    name: 'consumer-app',
    private: true,
    type: 'commonjs',
    dependencies: {
      'temporal-fanout': `file:${tarball}`,
      ...Object.fromEntries(PEERS.map((name) => [`@temporalio/${name}`, sdk])),
      zod: dev.zod,
    },
    devDependencies: { typescript: dev.typescript, vitest: dev.vitest, '@types/node': dev['@types/node'] },
    allowScripts: { esbuild: true, '@swc/core': true, protobufjs: true },
  };
  fs.writeFileSync(path.join(app, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  // From the cache the repository's own install filled: the same packages, no second download.
  expectSuccess(await npm(['install', '--prefer-offline', '--no-audit', '--no-fund']), 'npm install');
  expectSuccess(await run('npx', ['tsc', '-p', '.']), 'tsc');
}, 600_000);

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('the packed library', () => {
  it('holds the built library, its types, README and LICENSE, and nothing else', async () => {
    const listed = await run('tar', ['-tzf', tarball], { cwd: dir });
    expectSuccess(listed, 'tar');
    const files = listed.stdout.trim().split('\n');
    const outside = files.filter(
      (file) =>
        !file.startsWith('package/dist/src/') &&
        !['package/package.json', 'package/README.md', 'package/LICENSE'].includes(file),
    );
    expect(outside).toEqual([]);
    expect(files.filter((file) => /\.map$|\/demo\/|histories|\.test\./.test(file))).toEqual([]);
    for (const entry of [
      'index',
      'worker/index',
      'workflows/index',
      'testing/index',
      'api/index',
      'store/s3-store',
      'delivery/index',
    ])
      for (const ext of ['.js', '.d.ts']) expect(files, entry + ext).toContain(`package/dist/src/${entry}${ext}`);
    expect(files).toContain('package/dist/src/cli/main.js');
  });

  it("installs with the app's own single copy of the SDK and zod, and none of the optional peers", () => {
    const nested = path.join(app, 'node_modules/temporal-fanout/node_modules');
    expect(fs.existsSync(nested) ? fs.readdirSync(nested) : []).toEqual([]);
    for (const optional of ['@aws-sdk/client-s3', 'amqplib', 'fastify', 'standardwebhooks'])
      expect(fs.existsSync(path.join(app, 'node_modules', optional)), optional).toBe(false);
  });

  it('type-checks strictly through its public entry points, with node10 and node16 module resolution', async () => {
    // tsc -p . ran in beforeAll and emitted dist/; node16 resolution reads the package's `exports`.
    expect(fs.existsSync(path.join(app, 'dist/main.js'))).toBe(true);
    expectSuccess(await run('npx', ['tsc', '-p', 'tsconfig.node16.json']), 'tsc (node16)');
    const imports = fs
      .readdirSync(path.join(app, 'src'))
      .flatMap((file) =>
        [...fs.readFileSync(path.join(app, 'src', file), 'utf8').matchAll(/from '([^']+)'/g)].map((m) => m[1]),
      );
    expect(
      imports.filter((spec) => !/^(temporal-fanout(\/\w+)?|@temporalio\/\w+|zod|node:\w+|\.\/[\w-]+)$/.test(spec)),
    ).toEqual([]);
  });
});

describe('an app of its own on the packed library', () => {
  it('runs a fan-out end to end: its own connection, services, callbacks, a child workflow of its own, beside its own workflow and activity', async () => {
    const log = path.join(dir, 'callbacks-main.log');
    const result = await run('node', ['dist/main.js'], { env: cleanEnv({ CALLBACK_LOG: log }) });
    expectSuccess(result, 'the app');
    const summary = lastJson(result.stdout);
    expect(summary).toMatchObject({
      state: 'completed',
      ok: 3,
      report: { report: 'summary after 100 ms' },
      greeting: 'hello, fan-out',
    });
    const entries = callbackLog(log);
    expect(
      entries
        .filter((e) => e.kind === 'on-target')
        .map((e) => e.target)
        .sort(),
    ).toEqual(['inventory.stock', 'pricing.quote', 'reports.summary']);
    expect(entries.filter((e) => e.kind === 'final')).toEqual([
      { kind: 'final', cid: summary.cid, targets: ['inventory.stock', 'pricing.quote', 'reports.summary'] },
    ]);
  }, 120_000);

  it('tests its own workflow service with vitest on the time-skipping server', async () => {
    const result = await run('npx', ['vitest', 'run']);
    expectSuccess(result, "the app's vitest");
    expect(result.stdout).toMatch(/Tests\s+1 passed \(1\)/);
  }, 120_000);

  describe('the worker command', () => {
    let env: FanoutTestEnv;
    beforeAll(async () => {
      env = await createDevServerEnv();
    }, 120_000);
    afterAll(async () => {
      await env?.teardown();
    });

    it("serves the app's registry and workflows modules: a fan-out started by the app completes", async () => {
      const log = path.join(dir, 'callbacks-command.log');
      const store = fs.mkdtempSync(path.join(dir, 'store-'));
      const settings = { TEMPORAL_ADDRESS: env.address, FANOUT_STORE: store, CALLBACK_LOG: log };
      const worker = start(
        'node',
        [
          'node_modules/.bin/temporal-fanout',
          'worker',
          '--registry',
          './dist/services.js',
          '--workflows',
          './dist/workflows.js',
        ],
        app,
        cleanEnv(settings),
      );
      let workerOutput = '';
      worker.stdout!.on('data', (chunk: Buffer) => (workerOutput += chunk.toString()));
      worker.stderr!.on('data', (chunk: Buffer) => (workerOutput += chunk.toString()));
      try {
        const result = await run('node', ['dist/invoke.js'], { env: cleanEnv(settings), timeoutMs: 90_000 });
        if (result.code !== 0) throw new Error(`invoke failed:\n${result.stderr}\nworker:\n${workerOutput}`);
        expect(lastJson(result.stdout)).toMatchObject({
          state: 'completed',
          targets: { 'inventory.stock': 'ok', 'reports.summary': 'ok' },
        });
        expect(workerOutput).toMatch(
          /fan-out worker: 3 services \(inventory\.stock, pricing\.quote, reports\.summary\)/,
        );
        expect(
          callbackLog(log)
            .map((e) => e.kind)
            .sort(),
        ).toEqual(['final', 'on-target', 'on-target']);
      } finally {
        worker.kill('SIGTERM');
        await new Promise((resolve) => (worker.exitCode !== null ? resolve(null) : worker.once('close', resolve)));
      }
    }, 120_000);

    it('names an optional peer dependency that is missing, with what to install (the API without fastify)', async () => {
      const result = await run('node', [
        'node_modules/.bin/temporal-fanout',
        'api',
        '--registry',
        './dist/services.js',
      ]);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toMatch(/the HTTP API needs fastify: npm install fastify/);
    });

    it('refuses a module that exports no registry, saying what it expects', async () => {
      const result = await run('node', [
        'node_modules/.bin/temporal-fanout',
        'worker',
        '--registry',
        './dist/activities.js',
      ]);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toMatch(/dist\/activities\.js: exports no Registry/);
    });
  });
});
