/**
 * The production entry (dist/src/cli/main.js, built by `npm test`) as a process of its own, as a deployment runs it:
 * `worker` or `api` serving an app's registry module (`--registry`), against a test's Temporal, with a result store
 * and a data folder under the test's scratch folder; killed by `stopEntries` in the file's teardown.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess, StdioOptions } from 'node:child_process';
import path from 'node:path';

export const ENTRY = path.resolve(__dirname, '../../dist/src/cli/main.js');

export interface EntryOptions {
  temporalAddress: string;
  registryModule: string;
  /** The test's scratch folder: the shared result store is `<dir>/store`, each command's data `<dir>/data-<command>`. */
  dir: string;
  env?: NodeJS.ProcessEnv;
  /** stdout and stderr: ignored and inherited unless given. */
  stdio?: StdioOptions;
}

const started: ChildProcess[] = [];

export function startEntry(command: 'api' | 'worker', options: EntryOptions): ChildProcess {
  const child = spawn(process.execPath, [ENTRY, command, '--registry', options.registryModule], {
    stdio: options.stdio ?? ['ignore', 'ignore', 'inherit'],
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: options.temporalAddress,
      FANOUT_STORE: path.join(options.dir, 'store'),
      FANOUT_DATA_DIR: path.join(options.dir, `data-${command}`),
      ...options.env,
    },
  });
  started.push(child);
  return child;
}

/** SIGKILL to every entry process started here that is still running. */
export function stopEntries(): void {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}
