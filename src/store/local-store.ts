/**
 * The dev default `BlobStore`: one file per blob under a directory, key `a/b/c` → file `<dir>/a/b/c`.
 *
 * - `put` writes a temporary file beside the target (its name holds `#`, which no key segment may) and renames it
 *   over the target, so a reader sees the old blob or the new one, never part of one; concurrent puts of the same
 *   key are fine (the last rename wins). Folders are created as needed.
 * - Blobs are written and read with synchronous calls (`fsync: true` aside). They are small files in the page
 *   cache, a record a few hundred bytes: measured here, an asynchronous write cost 170–270 µs of CPU and a read
 *   100–120 µs, mostly the thread pool's round trip and file handles; synchronous, 135–145 µs and 7–10 µs, the event
 *   loop held that long. A store on a network file system would hold it longer: use the S3 store there.
 * - `list` reads the prefix's folder (and its sub-folders) with one `readdir` per folder and no `stat`, skips
 *   temporary files, and sorts the full keys; keys are ASCII (percent-encoded), so JS string order is byte order,
 *   the order S3 lists in. Sub-folders whose keys all sort at or before `after` are not read.
 * - A key cannot be both a blob and a folder here (`a/b` and `a/b/c`), unlike S3: such a put fails.
 */
import { randomBytes } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { linkSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { mkdir, open, readdir, unlink } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BlobStore, ListPage } from './blob-store';

/** Folders this store remembers having made, so that each write need not ask for its folder again. */
const KNOWN_FOLDERS = 1000;

/** Temporary files' names: random once per process, then counted (a random name per write cost measurable CPU). */
const TEMP_PREFIX = randomBytes(6).toString('hex');
let tempCount = 0;

/** The most keys one `list` call returns, and the default. */
export const MAX_LIST_LIMIT = 1000;

/** Characters of a key segment: those `encodeURIComponent` (and so `keySegment`) leaves or produces. */
const SEGMENT = /^[A-Za-z0-9\-_.!~*'()%]+$/;

function validSegment(segment: string): boolean {
  return SEGMENT.test(segment) && segment !== '.' && segment !== '..';
}

/** Throws unless `key` is `/`-separated non-empty segments of safe characters, none `.` or `..`. */
export function checkKey(key: string): void {
  if (typeof key !== 'string' || key === '' || !key.split('/').every(validSegment)) {
    throw new Error(`invalid blob key ${JSON.stringify(key)}: expected segments of [A-Za-z0-9-_.!~*'()%] joined by /`);
  }
}

/** Throws unless `prefix` is empty (everything) or segments each followed by `/`. */
export function checkPrefix(prefix: string): void {
  if (
    typeof prefix !== 'string' ||
    (prefix !== '' && (!prefix.endsWith('/') || !prefix.slice(0, -1).split('/').every(validSegment)))
  ) {
    throw new Error(
      `invalid blob key prefix ${JSON.stringify(prefix)}: expected '' or key segments each followed by /`,
    );
  }
}

/** The page size for `limit`: default and cap `MAX_LIST_LIMIT`; anything else but a positive integer is an error. */
export function pageLimit(limit: number | undefined): number {
  if (limit === undefined) return MAX_LIST_LIMIT;
  if (!Number.isInteger(limit) || limit < 1)
    throw new Error(`invalid list limit ${limit}: expected a positive integer`);
  return Math.min(limit, MAX_LIST_LIMIT);
}

function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

export class LocalBlobStore implements BlobStore {
  readonly dir: string;
  readonly description: string;
  private readonly knownFolders = new Set<string>();

  /**
   * `fsync: true` flushes every blob to disk before it is renamed into place: safe against the machine losing
   * power, at a few milliseconds a write. Off by default, like the dev server's `synchronous=normal`: a killed
   * process loses nothing either way (the data is in the OS's cache), only a crash of the machine can.
   */
  constructor(
    dir: string,
    private readonly options: { fsync?: boolean } = {},
  ) {
    this.dir = resolve(dir);
    this.description = pathToFileURL(this.dir).href;
  }

  private path(key: string): string {
    return join(this.dir, ...key.split('/'));
  }

  async put(key: string, body: Uint8Array): Promise<void> {
    await this.writeThen(key, body, (temp, target) => renameSync(temp, target));
  }

  /** `link` fails with EEXIST when the target exists, atomically, where a check before a rename would race. */
  async putIfAbsent(key: string, body: Uint8Array): Promise<boolean> {
    let written = false;
    await this.writeThen(key, body, (temp, target) => {
      try {
        linkSync(temp, target);
        written = true;
      } catch (error) {
        if (errorCode(error) !== 'EEXIST') throw error;
      }
      unlinkSync(temp);
    });
    return written;
  }

  /** Writes the body to a temporary file beside the key's, then moves it into place with `place`. */
  private async writeThen(key: string, body: Uint8Array, place: (temp: string, target: string) => void): Promise<void> {
    checkKey(key);
    const target = this.path(key);
    const temp = `${target}#${TEMP_PREFIX}${++tempCount}`;
    try {
      try {
        await this.writeTemp(temp, body);
      } catch (error) {
        // The folder was removed since this store made it: make it again, and write again.
        if (errorCode(error) !== 'ENOENT' || !this.knownFolders.delete(dirname(temp))) throw error;
        await this.writeTemp(temp, body);
      }
      place(temp, target);
    } catch (error) {
      await unlink(temp).catch(() => undefined);
      throw error;
    }
  }

  private async writeTemp(temp: string, body: Uint8Array): Promise<void> {
    if (!this.knownFolders.has(dirname(temp))) {
      await mkdir(dirname(temp), { recursive: true });
      if (this.knownFolders.size >= KNOWN_FOLDERS) this.knownFolders.clear();
      this.knownFolders.add(dirname(temp));
    }
    if (!this.options.fsync) {
      writeFileSync(temp, body, { flag: 'wx' });
      return;
    }
    const handle = await open(temp, 'wx');
    try {
      await handle.writeFile(body);
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  async delete(key: string): Promise<void> {
    checkKey(key);
    await unlink(this.path(key)).catch((error: unknown) => {
      if (errorCode(error) !== 'ENOENT') throw error;
    });
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    checkKey(key);
    try {
      const data = readFileSync(this.path(key));
      return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    } catch (error) {
      // Missing, or a folder (only longer keys), or a blob where a folder was expected: no such blob.
      if (['ENOENT', 'EISDIR', 'ENOTDIR'].includes(errorCode(error) ?? '')) return undefined;
      throw error;
    }
  }

  async list(prefix: string, options: { after?: string; limit?: number } = {}): Promise<ListPage> {
    checkPrefix(prefix);
    const limit = pageLimit(options.limit);
    const after = options.after ?? '';
    const keys: string[] = [];
    await this.collect(
      prefix === '' ? this.dir : join(this.dir, ...prefix.slice(0, -1).split('/')),
      prefix,
      after,
      keys,
    );
    keys.sort();
    const page = keys.slice(0, limit);
    return keys.length > limit ? { keys: page, next: page[page.length - 1] } : { keys: page };
  }

  /** Adds the keys (after `after`) in `folder`, whose keys start with `keyPrefix`, and in its sub-folders. */
  private async collect(folder: string, keyPrefix: string, after: string, keys: string[]): Promise<void> {
    let entries: Dirent[];
    try {
      entries = await readdir(folder, { withFileTypes: true });
    } catch (error) {
      if (errorCode(error) === 'ENOENT' || errorCode(error) === 'ENOTDIR') return;
      throw error;
    }
    const subfolders: Promise<void>[] = [];
    for (const entry of entries) {
      // Temporary files (`#`) and anything else that is not a key segment are not blobs.
      if (!validSegment(entry.name)) continue;
      const key = keyPrefix + entry.name;
      if (entry.isFile()) {
        if (key > after) keys.push(key);
      } else if (entry.isDirectory()) {
        const subPrefix = `${key}/`;
        // Every key under subPrefix sorts before `after` when `after` is greater and does not start with it.
        if (after > subPrefix && !after.startsWith(subPrefix)) continue;
        subfolders.push(this.collect(folder + sep + entry.name, subPrefix, after, keys));
      }
    }
    await Promise.all(subfolders);
  }
}
