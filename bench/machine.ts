/** What the figures were measured on: date, CPU, memory, Node, and the versions of the servers and libraries. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { TEMPORAL_CLI, describeExecutable, provision } from '../src/local/temporal-binaries';

export interface Machine {
  date: string;
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  /** 1, 5 and 15 minute load averages when the bench started: other work on the machine skews every figure. */
  loadAverage: number[];
  temporalCli: string;
  redis?: string;
  bullmq?: string;
}

function tryRun(command: string, args: string[]): string | undefined {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

function temporalVersion(): string {
  const { executable } = provision(TEMPORAL_CLI);
  const version = executable.type === 'existing-path' ? tryRun(executable.path, ['--version']) : undefined;
  return version ?? describeExecutable(executable);
}

export function describeMachine(options: { redis?: boolean } = {}): Machine {
  const cpus = os.cpus();
  const machine: Machine = {
    date: new Date().toISOString(),
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    loadAverage: os.loadavg().map((load) => Math.round(load * 100) / 100),
    temporalCli: temporalVersion(),
  };
  if (options.redis) {
    machine.redis = tryRun(process.env.REDIS_SERVER ?? 'redis-server', ['--version']);
    const bullmqPackage = fs.readFileSync(require.resolve('bullmq/package.json'), 'utf8');
    machine.bullmq = (JSON.parse(bullmqPackage) as { version: string }).version;
  }
  return machine;
}
