/**
 * Where a fan-out's records and Temporal's offloaded payloads live, out of workflow history: a key/value store of
 * byte blobs with ordered listing. Two implementations: a local directory (the dev default) and an S3-compatible
 * bucket (production). Keys are `/`-separated paths of safe segments (see `keySegment`).
 */

export interface ListPage {
  keys: string[];
  /** Pass as `after` to get the next page; absent on the last page. */
  next?: string;
}

export interface BlobStore {
  /** Writes the whole blob at once (readers never see a partial one); overwrites. */
  put(key: string, body: Uint8Array): Promise<void>;
  /**
   * Writes the blob only if the key holds none, atomically: of two writers, exactly one wins. True if this call
   * wrote it. What lets a late or repeated activity attempt never replace a record already decided.
   */
  putIfAbsent(key: string, body: Uint8Array): Promise<boolean>;
  /** The blob, or undefined if there is none. */
  get(key: string): Promise<Uint8Array | undefined>;
  /** Keys under `prefix` (which ends with `/`), in ascending byte order, after `after`, at most `limit` (≤ 1,000). */
  list(prefix: string, options?: { after?: string; limit?: number }): Promise<ListPage>;
  /** Removes the blob if there is one. Optional: a store without it keeps what a refused upload wrote. */
  delete?(key: string): Promise<void>;
  /** A short description for logs and messages, e.g. `file:///…` or `s3://bucket/prefix`. */
  readonly description: string;
}

/**
 * One key segment from any string (a CID, a target name): percent-encoded so that it holds no `/`, and never `.`
 * or `..`, so a file path built from it stays inside its folder.
 */
export function keySegment(value: string): string {
  return encodeURIComponent(value).replace(/\./g, '%2E').replace(/\*/g, '%2A');
}
