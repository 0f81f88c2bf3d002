/**
 * Tests stop what they start: the RabbitMQ node a test started is stopped by the suite's teardown, and a node that
 * was already running is left alone. Checked against a stand-in for scripts/rabbitmq.sh (the real node may be
 * shared with other work on this machine), which records what it was asked to do.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { RabbitMqControl } from './helpers/rabbitmq';
import { ensureRabbitMq, stopRabbitMqStartedByTests } from './helpers/rabbitmq';

let dir: string;
let control: RabbitMqControl;
const calls = () => fs.readFileSync(path.join(dir, 'calls'), 'utf8').trim().split('\n').filter(Boolean);

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rabbitmq-lifecycle-'));
  const script = path.join(dir, 'rabbitmq.sh');
  fs.writeFileSync(
    script,
    [
      '#!/usr/bin/env bash',
      `cd "${dir}"`,
      'echo "$1" >>calls',
      'case "$1" in',
      '  status) [ -f up ] ;;',
      '  start) touch up; echo amqp://guest:guest@127.0.0.1:1 ;;',
      '  stop) rm -f up ;;',
      'esac',
    ].join('\n'),
    { mode: 0o755 },
  );
  fs.writeFileSync(path.join(dir, 'calls'), '');
  control = { script, marker: path.join(dir, 'marker', 'started-by-tests') };
});

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

it('stops after the suite a node the tests started', async () => {
  expect(await ensureRabbitMq(control)).toBe('amqp://guest:guest@127.0.0.1:1');
  expect(await ensureRabbitMq(control)).toBe('amqp://guest:guest@127.0.0.1:1'); // a second file reuses it
  expect(await stopRabbitMqStartedByTests(control)).toBe(true);
  expect(calls()).toEqual(['status', 'start', 'status', 'start', 'stop']);
  expect(fs.existsSync(path.join(dir, 'up'))).toBe(false);
  expect(await stopRabbitMqStartedByTests(control)).toBe(false); // only once
});

it('leaves alone a node that was already running', async () => {
  fs.writeFileSync(path.join(dir, 'up'), '');
  await ensureRabbitMq(control);
  expect(await stopRabbitMqStartedByTests(control)).toBe(false);
  expect(calls()).toEqual(['status', 'start']);
  expect(fs.existsSync(path.join(dir, 'up'))).toBe(true);
});
