/**
 * Temporal's own External Storage (experimental in the SDK 1.24) over our blob store: any payload over the
 * threshold — a large request, a shard's slice of targets, a child workflow's large response — is kept in the store
 * and only a small claim travels through history. Client and worker must both use `fanoutDataConverter` with the
 * same store. Blobs are content-addressed (sha256 of the encoded payload), so a retried store is harmless.
 */
import { createHash } from 'node:crypto';
import type { DataConverter, Payload, StorageDriver } from '@temporalio/common';
import { ExternalStorage, StorageDriverClaim } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import type { BlobStore } from './blob-store';
import { mapLimit } from './records';

/** Payloads over this size go to the store: small enough that a workflow task's commands stay far under 4 MiB. */
export const EXTERNAL_PAYLOAD_THRESHOLD_BYTES = 2 * 1024;

const PayloadProto = temporal.api.common.v1.Payload;

export class BlobStorageDriver implements StorageDriver {
  readonly name = 'fanout-blob-store';
  readonly type = 'fanout.blobstore';

  constructor(
    private readonly blobs: BlobStore,
    /** Told how many payloads each store call kept (the worker counts them in its metrics). */
    private readonly onStored?: (payloads: number) => void,
  ) {}

  async store(_context: unknown, payloads: Payload[]): Promise<StorageDriverClaim[]> {
    this.onStored?.(payloads.length);
    return mapLimit(payloads, 8, async (payload) => {
      const bytes = PayloadProto.encode(payload).finish();
      const key = `payloads/${createHash('sha256').update(bytes).digest('hex')}`;
      await this.blobs.put(key, bytes);
      return new StorageDriverClaim({ key });
    });
  }

  async retrieve(_context: unknown, claims: StorageDriverClaim[]): Promise<Payload[]> {
    return mapLimit(claims, 8, async (claim) => {
      const bytes = await this.blobs.get(claim.claimData.key);
      if (!bytes) throw new Error(`payload ${claim.claimData.key} is missing from ${this.blobs.description}`);
      return PayloadProto.decode(bytes) as Payload;
    });
  }
}

/** The data converter client and worker share: the default converters, large payloads kept in `blobs`. */
export function fanoutDataConverter(blobs: BlobStore): DataConverter {
  return withFanoutStorage(undefined, blobs);
}

/**
 * An app's own data converter (payload and failure converters, codecs) with the fan-out's External Storage added.
 * One that has External Storage of its own is refused: payloads can be kept in one place only.
 */
export function withFanoutStorage(
  dataConverter: DataConverter | undefined,
  blobs: BlobStore,
  onStored?: (payloads: number) => void,
): DataConverter {
  if (dataConverter?.externalStorage)
    throw new Error(
      'the data converter already has externalStorage: the fan-out keeps large payloads in its own store; leave externalStorage out',
    );
  return {
    ...dataConverter,
    externalStorage: new ExternalStorage({
      drivers: [new BlobStorageDriver(blobs, onStored)],
      payloadSizeThreshold: EXTERNAL_PAYLOAD_THRESHOLD_BYTES,
    }),
  };
}
