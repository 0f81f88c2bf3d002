/**
 * Where local things go: the data folder (dev server state, the default result store) and the tools folder (the
 * provisioned Temporal binaries). Both live under the working directory, never inside the installed package:
 * `node_modules` is no place for state, and a project's data should be where its user runs it.
 */
import path from 'node:path';

/** FANOUT_DATA_DIR, or .data/ under the working directory. */
export function localDataDir(): string {
  return path.resolve(process.env.FANOUT_DATA_DIR || '.data');
}

/** TEMPORAL_TOOLS_DIR, or .tools/ under the working directory. */
export function localToolsDir(): string {
  return path.resolve(process.env.TEMPORAL_TOOLS_DIR || '.tools');
}
