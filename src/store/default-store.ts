/**
 * The result store a worker and a client use when given none: FANOUT_STORE (see config.ts), or a folder under the
 * local data folder. Worker and client on one machine thus agree without configuration; in production both read
 * the same FANOUT_STORE (an S3 bucket).
 */
import path from 'node:path';
import { localDataDir } from '../local/paths';
import type { BlobStore } from './blob-store';
import { storeFromEnv } from './config';

export function defaultBlobStore(): BlobStore {
  return storeFromEnv(process.env, path.join(localDataDir(), 'store'));
}
