/** Where the project keeps local things: its root, the gitignored data folder (dev server state, result store). */
import fs from 'node:fs';
import path from 'node:path';

/** The project's root: the nearest folder above this file with a package.json (works from src/ and dist/src/). */
export function projectRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) return process.cwd();
    dir = parent;
  }
  return dir;
}

/** LOCAL_DATA_DIR, or .data/ in the project. */
export function localDataDir(): string {
  return process.env.LOCAL_DATA_DIR ?? path.join(projectRoot(), '.data');
}
