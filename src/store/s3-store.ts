/**
 * The production `BlobStore`: objects in an S3 bucket (AWS, or an S3-compatible server such as SeaweedFS or MinIO
 * via `endpoint` and `forcePathStyle`), under an optional key prefix. `put` is one PutObject (S3 never shows a
 * partial object), `get` one GetObject, `list` one ListObjectsV2 (`after` becomes StartAfter). AWS S3 lists in
 * ascending UTF-8 byte order, the order the interface promises. Caveat: SeaweedFS (4.48) lists in directory-walk
 * order instead, comparing keys segment by segment, so `p/a/x` comes before `p/a-b` there (byte order: after);
 * the two orders agree for keys with no `/` below the listed prefix. Keys are checked as the local store checks
 * them, so a key that works in development works here too.
 */
import type * as S3Sdk from '@aws-sdk/client-s3';
import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import { requirePeer } from '../optional-peer';
import type { BlobStore, ListPage } from './blob-store';
import { checkKey, checkPrefix, pageLimit } from './local-store';

export interface S3BlobStoreOptions {
  bucket: string;
  /** Prepended to every key (a `/` is added if missing), so several stores can share a bucket. */
  prefix?: string;
  /** An S3-compatible server's URL, e.g. `http://127.0.0.1:18333`; AWS itself when absent. */
  endpoint?: string;
  /** Default `us-east-1`. */
  region?: string;
  /** Path-style URLs (`endpoint/bucket/key`), as most S3-compatible servers need. */
  forcePathStyle?: boolean;
  /** Static credentials; when absent the SDK's default chain (AWS_* variables, profiles, instance roles). */
  credentials?: S3ClientConfig['credentials'];
}

interface S3ErrorShape {
  name?: string;
  $metadata?: { httpStatusCode?: number };
}

function isNotFound(error: unknown): boolean {
  const e = error as S3ErrorShape | undefined;
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.$metadata?.httpStatusCode === 404;
}

export class S3BlobStore implements BlobStore {
  readonly bucket: string;
  /** '' or ends with '/'. */
  readonly prefix: string;
  readonly description: string;
  readonly client: S3Client;
  /** The S3 SDK, an optional peer dependency: loaded when the first S3 store is made. */
  private readonly sdk = requirePeer<typeof S3Sdk>('@aws-sdk/client-s3', 'the S3 store');

  constructor(options: S3BlobStoreOptions) {
    if (!options.bucket) throw new Error('S3BlobStore: a bucket is required');
    this.bucket = options.bucket;
    const prefix = (options.prefix ?? '').replace(/^\/+/, '');
    this.prefix = prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
    this.description = `s3://${this.bucket}/${this.prefix}`;
    this.client = new this.sdk.S3Client({
      region: options.region ?? 'us-east-1',
      ...(options.endpoint !== undefined ? { endpoint: options.endpoint } : {}),
      ...(options.forcePathStyle !== undefined ? { forcePathStyle: options.forcePathStyle } : {}),
      ...(options.credentials !== undefined ? { credentials: options.credentials } : {}),
    });
  }

  async put(key: string, body: Uint8Array): Promise<void> {
    checkKey(key);
    await this.client.send(
      new this.sdk.PutObjectCommand({
        Bucket: this.bucket,
        Key: this.prefix + key,
        Body: body,
        ContentLength: body.byteLength,
      }),
    );
  }

  /** A conditional PutObject (`If-None-Match: *`), which S3 refuses with 412 when the key exists. */
  async putIfAbsent(key: string, body: Uint8Array): Promise<boolean> {
    checkKey(key);
    try {
      await this.client.send(
        new this.sdk.PutObjectCommand({
          Bucket: this.bucket,
          Key: this.prefix + key,
          Body: body,
          ContentLength: body.byteLength,
          IfNoneMatch: '*',
        }),
      );
      return true;
    } catch (error) {
      // 412: the key exists. 409: a concurrent conditional write of the same key won (AWS asks to retry; the
      // retry would find the key, so the answer is the same).
      const status = (error as S3ErrorShape).$metadata?.httpStatusCode;
      if (status === 412 || status === 409) return false;
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    checkKey(key);
    await this.client.send(new this.sdk.DeleteObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }));
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    checkKey(key);
    try {
      const response = await this.client.send(
        new this.sdk.GetObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }),
      );
      if (!response.Body) return new Uint8Array(0);
      return await response.Body.transformToByteArray();
    } catch (error) {
      // A missing bucket is a configuration error, not a missing blob.
      if ((error as S3ErrorShape).name !== 'NoSuchBucket' && isNotFound(error)) return undefined;
      throw error;
    }
  }

  async list(prefix: string, options: { after?: string; limit?: number } = {}): Promise<ListPage> {
    checkPrefix(prefix);
    const limit = pageLimit(options.limit);
    const fullPrefix = this.prefix + prefix;
    let startAfter = options.after ? this.prefix + options.after : undefined;
    if (startAfter !== undefined && !startAfter.startsWith(fullPrefix)) {
      // Outside the prefix: before it means from the start, after it means nothing left. Decided here, since some
      // S3-compatible servers (SeaweedFS) answer an empty page to a StartAfter that sorts before the prefix.
      if (startAfter > fullPrefix) return { keys: [] };
      startAfter = undefined;
    }
    const response = await this.client.send(
      new this.sdk.ListObjectsV2Command({
        Bucket: this.bucket,
        Prefix: fullPrefix,
        MaxKeys: limit,
        ...(startAfter !== undefined ? { StartAfter: startAfter } : {}),
      }),
    );
    const keys = (response.Contents ?? [])
      .map((object) => object.Key)
      .filter((key): key is string => key !== undefined)
      .map((key) => key.slice(this.prefix.length));
    return response.IsTruncated && keys.length > 0 ? { keys, next: keys[keys.length - 1] } : { keys };
  }

  /** Creates the bucket unless it exists (for local development and tests; production buckets are provisioned). */
  async createBucketIfMissing(): Promise<void> {
    try {
      await this.client.send(new this.sdk.HeadBucketCommand({ Bucket: this.bucket }));
      return;
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    try {
      await this.client.send(new this.sdk.CreateBucketCommand({ Bucket: this.bucket }));
    } catch (error) {
      // Someone else created it in between.
      if ((error as S3ErrorShape).name !== 'BucketAlreadyOwnedByYou') throw error;
    }
  }

  /** Closes the client's connections. */
  destroy(): void {
    this.client.destroy();
  }
}
