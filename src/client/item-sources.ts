/**
 * Opens the file that holds target items, as a stream of bytes: an S3 object (GetObject, read as it arrives, with
 * the connection the environment gives the S3 store) or a local file. Opening fails at once, with ItemsSourceError,
 * when the object or file is missing or may not be read, so a start refuses before any item is taken.
 */
import type * as S3Sdk from '@aws-sdk/client-s3';
import { open, realpath } from 'node:fs/promises';
import { isAbsolute, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { requirePeer } from '../optional-peer';
import { s3ConnectionFromEnv } from '../store/config';
import { ItemsSourceError } from './errors';

export interface ItemSourceOptions {
  /** Where S3_ENDPOINT, AWS_REGION and the AWS_* credentials are read for s3:// URLs; default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /**
   * file:// URLs must name a file inside this folder (symbolic links resolved); unset, any file may be read. The
   * HTTP API always sets it (API_ITEMS_FILE_ROOT) and takes no file URL without it.
   */
  fileRoot?: string;
}

export async function openItemSource(url: string, options: ItemSourceOptions = {}): Promise<AsyncIterable<Uint8Array>> {
  if (url.startsWith('s3://')) return openS3Object(url, options.env);
  if (url.startsWith('file://')) return openFile(url, options.fileRoot);
  throw new ItemsSourceError(url, 'refused', 'not an s3:// or file:// URL');
}

async function openFile(url: string, fileRoot: string | undefined): Promise<AsyncIterable<Uint8Array>> {
  let path: string;
  try {
    path = fileURLToPath(url);
  } catch {
    throw new ItemsSourceError(url, 'refused', 'not a file URL of an absolute path (file:///abs/path)');
  }
  // Outside the root by its name first, so that nothing is said about files elsewhere, not even whether they exist;
  // then by what it really is, so that a symbolic link inside cannot lead out.
  const outside = (root: string, file: string) => {
    const rel = relative(root, file);
    return rel === '' || rel.startsWith('..') || isAbsolute(rel);
  };
  if (fileRoot !== undefined && outside(resolve(fileRoot), resolve(path)))
    throw new ItemsSourceError(url, 'refused', 'outside the folder items may be read from');
  const real = await realpath(path).catch(() => {
    throw new ItemsSourceError(url, 'not-found', 'no such file');
  });
  if (fileRoot !== undefined && outside(await realpath(fileRoot), real))
    throw new ItemsSourceError(url, 'refused', 'outside the folder items may be read from');
  const handle = await open(real);
  if (!(await handle.stat()).isFile()) {
    await handle.close();
    throw new ItemsSourceError(url, 'not-found', 'not a file');
  }
  return handle.createReadStream();
}

interface S3ErrorShape {
  name?: string;
  $metadata?: { httpStatusCode?: number };
}

async function openS3Object(url: string, env: NodeJS.ProcessEnv | undefined): Promise<AsyncIterable<Uint8Array>> {
  const rest = url.slice('s3://'.length);
  const slash = rest.indexOf('/');
  const [bucket, key] = slash > 0 ? [rest.slice(0, slash), rest.slice(slash + 1)] : ['', ''];
  if (!bucket || !key) throw new ItemsSourceError(url, 'refused', 'not s3://bucket/key');
  const sdk = requirePeer<typeof S3Sdk>('@aws-sdk/client-s3', 'Target items in S3');
  const client = new sdk.S3Client(s3ConnectionFromEnv(env));
  try {
    const { Body } = await client.send(new sdk.GetObjectCommand({ Bucket: bucket, Key: key }));
    return closing(Body as AsyncIterable<Uint8Array> | undefined, () => client.destroy());
  } catch (error) {
    client.destroy();
    const { name, $metadata } = error as S3ErrorShape;
    const status = $metadata?.httpStatusCode;
    if (name === 'NoSuchKey' || name === 'NoSuchBucket' || status === 404)
      throw new ItemsSourceError(url, 'not-found', 'no such object');
    if (status === 403) throw new ItemsSourceError(url, 'refused', 'access denied');
    throw error;
  }
}

/** The object's bytes, its client closed once they are read (or the reader stops early). */
async function* closing(body: AsyncIterable<Uint8Array> | undefined, close: () => void): AsyncGenerator<Uint8Array> {
  try {
    if (body) yield* body;
  } finally {
    close();
  }
}
