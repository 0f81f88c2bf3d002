/**
 * A private SeaweedFS server (S3 gateway) for one test file: started with scripts/seaweedfs.sh on its own loopback
 * ports (S3 port P, then P+1 … P+7 for its master, volume, filer and gRPC ports) and its own scratch folder, stopped
 * and removed by `stop`. Each file that uses it passes its own S3 port, so files can run side by side. If SeaweedFS
 * cannot start, `startSeaweedfs` throws: the tests that need it fail, they are never skipped.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const SEAWEEDFS = resolve(__dirname, '..', '..', 'scripts', 'seaweedfs.sh');

/** What a client needs to reach the server, as scripts/seaweedfs.sh prints it (storeFromEnv reads these). */
export interface SeaweedfsClientEnv {
  S3_ENDPOINT: string;
  AWS_ACCESS_KEY_ID: string;
  AWS_SECRET_ACCESS_KEY: string;
}

export interface Seaweedfs {
  env: SeaweedfsClientEnv;
  /** The server's scratch folder (data, log, pid file), removed by `stop`. */
  dir: string;
  /** How long the start took, in ms. */
  startMs: number;
  /** Stops the server (by the PID in its pid file, nothing else) and removes its folder. */
  stop(): Promise<void>;
}

/**
 * Starts SeaweedFS with its S3 gateway on 127.0.0.1:`s3Port` (and the seven ports after it). Not the dev default
 * (18333), so a developer's running server does not get in the way.
 */
export async function startSeaweedfs(s3Port: number | string): Promise<Seaweedfs> {
  const dir = await mkdtemp(join(tmpdir(), 'seaweedfs-test-'));
  const scriptEnv: NodeJS.ProcessEnv = {
    ...process.env,
    SEAWEEDFS_DIR: dir,
    SEAWEEDFS_S3_PORT: String(s3Port),
    SEAWEEDFS_START_TIMEOUT: '60',
  };
  const stop = async (): Promise<void> => {
    try {
      await run('bash', [SEAWEEDFS, 'stop'], { env: scriptEnv, timeout: 30_000 });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };
  const started = Date.now();
  let stdout: string;
  try {
    ({ stdout } = await run('bash', [SEAWEEDFS, 'start'], { env: scriptEnv, timeout: 150_000 }));
  } catch (error) {
    await stop(); // whatever half started
    const e = error as { stderr?: string; message: string };
    throw new Error(`SeaweedFS did not start: ${e.message}\n${e.stderr ?? ''}`);
  }
  const startMs = Date.now() - started;
  // KEY=VALUE lines, the last being S3_ENDPOINT=…
  const printed: Record<string, string> = Object.fromEntries(
    stdout
      .trim()
      .split('\n')
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
  const { S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY } = printed;
  if (
    !S3_ENDPOINT ||
    !/^http:\/\/127\.0\.0\.1:\d+$/.test(S3_ENDPOINT) ||
    !AWS_ACCESS_KEY_ID ||
    !AWS_SECRET_ACCESS_KEY
  ) {
    await stop();
    throw new Error(`scripts/seaweedfs.sh start printed no client settings:\n${stdout}`);
  }
  return { env: { S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY }, dir, startMs, stop };
}
