/**
 * The `temporal-fanout` command as a deployment runs it (dist/src/cli/main.js, built by `npm test`): a worker and
 * the HTTP API, each a process of its own against the official dev server, serving one fan-out POSTed over HTTP;
 * and how the commands decide between a configured Temporal and a local dev server of their own (envconfig's
 * resolution: variables, profile, config file — never TEMPORAL_ADDRESS alone).
 */
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../src/local/local-temporal';
import { temporalConfigured } from '../src/worker/connection';
import type { FanoutTestEnv } from './helpers/temporal-env';
import { createDevServerEnv } from './helpers/temporal-env';
import { waitFor } from './helpers/wait';

const CLI = path.resolve(__dirname, '../dist/src/cli/main.js');
const KEY = 'cli-test-key';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fanout-cli-'));
const running: ChildProcess[] = [];
let env: FanoutTestEnv;

function command(args: string[], extra: NodeJS.ProcessEnv): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...extra }, stdio: 'pipe' });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  running.push(child);
  return { child, output: () => output };
}

beforeAll(async () => {
  env = await createDevServerEnv();
}, 120_000);

afterAll(async () => {
  for (const child of running) {
    if (child.exitCode !== null) continue;
    const closed = new Promise((resolve) => child.once('close', resolve));
    child.kill('SIGTERM');
    await closed;
  }
  await env?.teardown();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('temporal-fanout worker and api', () => {
  it('serve a fan-out POSTed over HTTP, each a process of its own, sharing the result store', async () => {
    const port = await freePort();
    const shared = { TEMPORAL_ADDRESS: env.address, FANOUT_STORE: path.join(dir, 'store') };
    const worker = command(['worker', '--examples'], shared);
    const api = command(['api', '--examples'], { ...shared, API_KEYS: KEY, API_PORT: String(port) });
    const url = `http://127.0.0.1:${port}`;
    await waitFor(async () => (await fetch(`${url}/healthz`).catch(() => undefined))?.status === 200, 60_000).catch(
      () => {
        throw new Error(`the API did not come up:\n${api.output()}`);
      },
    );
    expect(api.output()).toMatch(new RegExp(`Temporal: ${env.address.replace(/\./g, '\\.')} \\(namespace default\\)`));
    const headers = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };
    const started = await fetch(`${url}/v1/fanouts`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ targets: { 'crm.get-user': { user_id: '7' } }, finalCallbacks: ['log.input'] }),
    });
    expect(started.status).toBe(202);
    const { cid } = (await started.json()) as { cid: string };
    let result: { state: string; targets: Record<string, string> } | undefined;
    await waitFor(async () => {
      const reply = await fetch(`${url}/v1/fanouts/${cid}/result`, { headers });
      if (reply.status === 200) result = (await reply.json()) as typeof result;
      return result !== undefined;
    }, 60_000).catch(() => {
      throw new Error(`no result; worker:\n${worker.output()}`);
    });
    expect(result).toMatchObject({ state: 'completed', targets: { 'crm.get-user': 'ok' } });
    expect(worker.output()).toMatch(/fan-out worker: 4 services \(crm\.get-user, .*task queue fanout on /);
  }, 120_000);

  it('refuse to run without a registry, or with an unknown command, as usage errors', async () => {
    for (const args of [['worker'], ['launch']]) {
      const { child, output } = command(args, { FANOUT_REGISTRY: '' });
      const code = await new Promise((resolve) => child.once('close', resolve));
      expect(code).toBe(2);
      expect(output()).toMatch(/temporal-fanout: (name your registry module|unknown command "launch")[\s\S]*Usage:/);
    }
  });
});

describe('whether a Temporal is configured', () => {
  const saved = { ...process.env };
  const reset = () => {
    for (const key of Object.keys(process.env)) if (key.startsWith('TEMPORAL_')) delete process.env[key];
    process.env.TEMPORAL_CONFIG_FILE = path.join(dir, 'no-such-config.toml');
  };
  afterAll(() => {
    process.env = saved;
  });

  it('is decided by everything envconfig resolves, not TEMPORAL_ADDRESS alone', () => {
    reset();
    expect(temporalConfigured()).toBe(false);
    process.env.TEMPORAL_NAMESPACE = 'payments';
    expect(temporalConfigured()).toBe(true);
    reset();
    process.env.TEMPORAL_API_KEY = 'key';
    expect(temporalConfigured()).toBe(true);
    reset();
    const config = path.join(dir, 'temporal.toml');
    fs.writeFileSync(config, '[profile.default]\naddress = "cloud.example:7233"\nnamespace = "prod"\n');
    process.env.TEMPORAL_CONFIG_FILE = config;
    expect(temporalConfigured()).toBe(true);
  });
});
