/**
 * Picks the blob store from the environment.
 *
 *   FANOUT_STORE           where blobs live; unset or empty: a local directory (`defaultDir`)
 *                            file:///abs/path         a local directory (LocalBlobStore)
 *                            /abs/path or rel/path    the same, a relative path resolved against the working folder
 *                            s3://bucket              an S3 bucket (S3BlobStore)
 *                            s3://bucket/some/prefix  the same, every key under `some/prefix/`
 *   S3_ENDPOINT            optional, for S3-compatible servers (SeaweedFS, MinIO), e.g. http://127.0.0.1:18333;
 *                          path-style URLs are then used. Unset: AWS itself.
 *   AWS_REGION             default us-east-1
 *   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN
 *                          the standard AWS credentials. Taken from `env` when both of the first two are there;
 *                          otherwise the AWS SDK finds credentials itself (process variables, profiles, roles).
 *
 * For development against a local S3: `export $(scripts/seaweedfs.sh start)` sets S3_ENDPOINT and the credentials,
 * then FANOUT_STORE=s3://some-bucket.
 */
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BlobStore } from './blob-store';
import { LocalBlobStore } from './local-store';
import type { S3BlobStoreOptions } from './s3-store';
import { S3BlobStore } from './s3-store';

/** The local directory used when FANOUT_STORE is unset: `.data/blobs` under the working folder. */
export const DEFAULT_STORE_DIR = '.data/blobs';

export function storeFromEnv(env: NodeJS.ProcessEnv = process.env, defaultDir: string = DEFAULT_STORE_DIR): BlobStore {
  const spec = env.FANOUT_STORE?.trim() ?? '';
  if (spec === '') return new LocalBlobStore(resolve(defaultDir));
  if (spec.startsWith('file:')) {
    let path: string;
    try {
      path = fileURLToPath(spec);
    } catch (error) {
      throw new Error(`FANOUT_STORE=${spec}: not a file URL of an absolute path (file:///abs/path): ${String(error)}`);
    }
    return new LocalBlobStore(path);
  }
  if (spec.startsWith('s3://')) {
    const rest = spec.slice('s3://'.length);
    const slash = rest.indexOf('/');
    const bucket = slash < 0 ? rest : rest.slice(0, slash);
    const prefix = slash < 0 ? '' : rest.slice(slash + 1);
    if (bucket === '') throw new Error(`FANOUT_STORE=${spec}: no bucket (expected s3://bucket/optional/prefix)`);
    return new S3BlobStore({ bucket, prefix, ...s3ConnectionFromEnv(env) });
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(spec)) {
    throw new Error(
      `FANOUT_STORE=${spec}: unsupported scheme (expected file:///abs/path, s3://bucket/prefix or a path)`,
    );
  }
  return new LocalBlobStore(isAbsolute(spec) ? spec : resolve(spec));
}

/** How to reach S3 as the environment says (endpoint, region, credentials): the store's and target items' reads. */
export function s3ConnectionFromEnv(
  env: NodeJS.ProcessEnv = process.env,
): Pick<S3BlobStoreOptions, 'endpoint' | 'region' | 'forcePathStyle' | 'credentials'> {
  const endpoint = env.S3_ENDPOINT?.trim() || undefined;
  const {
    AWS_ACCESS_KEY_ID: accessKeyId,
    AWS_SECRET_ACCESS_KEY: secretAccessKey,
    AWS_SESSION_TOKEN: sessionToken,
  } = env;
  return {
    region: env.AWS_REGION?.trim() || 'us-east-1',
    ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
    ...(accessKeyId && secretAccessKey
      ? { credentials: { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) } }
      : {}),
  };
}
