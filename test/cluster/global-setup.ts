/**
 * Global setup of `npm run test:cluster`: starts the production topology of Temporal with scripts/temporal-cluster.sh
 * (server v1.30.4 as four processes — frontend, history, matching, worker — on a private PostgreSQL) in a new temp
 * folder on free loopback ports, hands its address and settings to the tests (`inject('cluster')`), and stops it
 * afterwards: after the last test, when the setup itself fails, and when vitest exits without running teardown.
 *
 * The first start on a fresh machine builds the server with Go (~5 minutes, cached under .tools/); later starts take
 * about 13 s. CLUSTER_KEEP=1 keeps the temp folder (data and the four services' logs) after the run.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { TEMPORAL_CLI, provision } from '../../src/local/temporal-binaries';
import type { ClusterInfo } from './cluster-env';
import { CLUSTER_SCRIPT, clusterEnv } from './cluster-env';

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** 9 consecutive ports from the base (see the script's header) and one for PostgreSQL: all free on 127.0.0.1. */
async function freePorts(): Promise<{ basePort: number; pgPort: number }> {
  for (let attempt = 0; attempt < 50; attempt++) {
    // Below 32768: the server stores membership ports in a PostgreSQL smallint (cluster_membership.rpc_port), and
    // a service whose port does not fit exits at startup ("value … is out of range for type smallint").
    const basePort = 20_000 + Math.floor(Math.random() * 12_000);
    const pgPort = basePort + 10;
    const ports = [...Array.from({ length: 9 }, (_, i) => basePort + i), pgPort];
    if ((await Promise.all(ports.map(portFree))).every(Boolean)) return { basePort, pgPort };
  }
  throw new Error('no 10 free loopback ports found for the cluster');
}

function run(info: ClusterInfo, args: string[], logFile: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(CLUSTER_SCRIPT, args, { env: clusterEnv(info), stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const collect = (chunk: Buffer) => {
      output += chunk.toString();
      fs.appendFileSync(logFile, chunk);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.on('close', (code) => resolve({ code: code ?? 1, output }));
  });
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const cli = provision(TEMPORAL_CLI, (line) => console.log(line)).executable;
  if (cli.type !== 'existing-path') throw new Error('the Temporal CLI is not installed');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fanout-cluster-'));
  const { basePort, pgPort } = await freePorts();
  const info: ClusterInfo = {
    address: `127.0.0.1:${basePort}`,
    dir,
    basePort,
    pgPort,
    cliPath: cli.path,
  };
  const logFile = path.join(os.tmpdir(), `${path.basename(dir)}.setup.log`);

  let stopped = false;
  const stopSync = () => {
    if (stopped) return;
    stopped = true;
    spawnSync(CLUSTER_SCRIPT, ['stop'], { env: clusterEnv(info), stdio: 'ignore', timeout: 60_000 });
  };
  // vitest killed or interrupted before teardown: still stop what the script started (by its pid files).
  process.once('exit', stopSync);

  const started = Date.now();
  console.log(`cluster: starting Temporal (4 services) + PostgreSQL in ${dir}, frontend ${info.address}`);
  const start = await run(info, ['start'], logFile);
  if (start.code !== 0 || !start.output.includes(`TEMPORAL_ADDRESS=${info.address}`)) {
    console.error(start.output.split('\n').slice(-40).join('\n'));
    stopSync();
    throw new Error(`scripts/temporal-cluster.sh start failed (exit ${start.code}); log ${logFile}, data ${dir}`);
  }
  console.log(`cluster: up in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  project.provide('cluster', info);

  return async () => {
    const t0 = Date.now();
    stopped = true;
    process.removeListener('exit', stopSync);
    const stop = await run(info, ['stop'], logFile);
    if (stop.code !== 0) console.error(`cluster: stop failed (exit ${stop.code}):\n${stop.output}`);
    console.log(`cluster: stopped in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    if (process.env.CLUSTER_KEEP === '1') {
      console.log(`cluster: data and logs kept in ${dir}`);
    } else {
      fs.rmSync(dir, { recursive: true, force: true });
      fs.rmSync(logFile, { force: true });
    }
  };
}
