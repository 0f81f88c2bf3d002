/**
 * Durability on the official dev server with a database file: a fan-out is running when the server process and the
 * worker process are both killed with SIGKILL; both start again on the same file, and the fan-out completes with
 * every target's record, its final webhook delivered (at least once, always with the same delivery id).
 * Runs the production worker entry (dist/src/cli/main.js, built by `npm test`) as its own process.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { Client, Connection } from '@temporalio/client';
import { FanoutClient } from '../src/client';
import { SEARCH_ATTRIBUTES } from '../src/contracts';
import { freePort } from '../src/local/local-temporal';
import { TEMPORAL_CLI, provision } from '../src/local/temporal-binaries';
import { DURABLE_SQLITE_PRAGMAS } from '../src/local/temporal-servers';
import { exampleRegistry } from '../src/services';
import { clientDeliveryCallbacks } from './helpers/activity-env';
import { waitFor } from './helpers/wait';
import { WebhookReceiver } from './helpers/webhook-receiver';

const SECRET = 'whsec_' + Buffer.from('durability-test-secret-0123456789').toString('base64');
const WORKER_ENTRY = path.resolve(__dirname, '../dist/src/cli/main.js');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fanout-durability-'));
const running = new Set<ChildProcess>();

function start(command: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  const child = spawn(command, args, { stdio: 'ignore', env: { ...process.env, ...env } });
  running.add(child);
  child.once('exit', () => running.delete(child));
  return child;
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

afterAll(async () => {
  await Promise.all([...running].map(kill));
  fs.rmSync(dir, { recursive: true, force: true });
});

it('a running fan-out survives SIGKILL of the dev server and the worker, and completes with every record', async () => {
  const cli = provision(TEMPORAL_CLI).executable;
  if (cli.type !== 'existing-path') throw new Error('the Temporal CLI is not installed');
  expect(fs.existsSync(WORKER_ENTRY)).toBe(true); // npm test builds first
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  const serverArgs = [
    'server',
    'start-dev',
    '--headless',
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
    '--db-filename',
    path.join(dir, 'temporal.db'),
    ...DURABLE_SQLITE_PRAGMAS,
    ...Object.values(SEARCH_ATTRIBUTES).flatMap((name) => ['--search-attribute', `${name}=Keyword`]),
    '--log-level',
    'error',
  ];
  const workerEnv = { TEMPORAL_ADDRESS: address, WEBHOOK_SECRET: SECRET, WEBHOOK_ALLOWLIST: '127.0.0.1' };
  const receiver = await WebhookReceiver.start(SECRET);

  let server = start(cli.path, serverArgs);
  let connection: Connection | undefined;
  await waitFor(async () => {
    connection = await Connection.connect({ address, connectTimeout: 500 }).catch(() => undefined);
    return connection !== undefined;
  }, 30_000);
  let worker = start(process.execPath, [WORKER_ENTRY, 'worker', '--examples'], workerEnv);
  const registry = exampleRegistry({
    write: () => undefined,
    extraCallbacks: clientDeliveryCallbacks(SECRET),
  });
  const fanout = new FanoutClient({ client: new Client({ connection: connection! }), registry });

  // 120 targets of 300 ms, 4 at a time: about 9 s of work, so the kill lands in the middle.
  const targets = Object.fromEntries(Array.from({ length: 120 }, (_, i) => [`user-${i}`, { user_id: `u${i}` }]));
  const targetOptions = Object.fromEntries(Object.keys(targets).map((name) => [name, { service: 'crm.get-user' }]));
  const cid = await fanout.invoke(targets, [{ name: 'delivery.webhook', options: { url: receiver.url('/final') } }], {
    targetOptions,
    maxConcurrency: 4,
    source: 'durability-test',
    // The targets in flight die with the worker: a short attempt timeout has them retried soon after the restart.
    defaults: { startToCloseTimeout: '3 seconds' },
  });
  await waitFor(async () => (await fanout.progress(cid)).settled >= 15, 30_000);

  await Promise.all([kill(server), kill(worker)]);
  const settledBefore = receiver.accepted.length;
  server = start(cli.path, serverArgs);
  worker = start(process.execPath, [WORKER_ENTRY, 'worker', '--examples'], workerEnv);

  const result = await fanout.result(cid);
  expect(result.state).toBe('completed');
  expect(Object.keys(result.payload.data)).toHaveLength(120);
  expect(Object.values(result.payload.data).every((record) => record.ok)).toBe(true);
  expect(result.payload.data['user-119'].response).toMatchObject({ user_id: 'u119' });
  expect(result.callbacks).toEqual([expect.objectContaining({ callback: 'delivery.webhook', ok: true })]);

  expect(settledBefore).toBe(0); // nothing was delivered before the kill: the final webhook came after the restart
  const [delivered] = await receiver.waitForAccepted(1);
  expect(delivered.path).toBe('/final');
  expect((delivered.payload as { data: Record<string, unknown> }).data).toHaveProperty('user-0');
  const ids = new Set(receiver.attempts.filter((a) => a.path === '/final').map((a) => a.id));
  expect(ids).toEqual(new Set([delivered.id]));

  await connection!.close();
  await receiver.close();
  await Promise.all([kill(server), kill(worker)]);
}, 180_000);
