/**
 * Targets streamed in, kept in the result store until their fan-out loads them: planned targets, one JSON object a
 * line, STAGED_CHUNK_TARGETS a file, under `fanouts/<cid>/input/<upload id>/`. Written by the client as the targets
 * arrive (never all held at once), read by the worker's `fanout.loadTargets`.
 */
import type { PlannedTarget, StagedTargets } from '../contracts';
import type { BlobStore } from './blob-store';
import { keySegment } from './blob-store';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A fresh folder for one upload: a CID given twice never mixes two uploads' files. */
export function stagingPrefix(cid: string, uploadId: string): string {
  return `fanouts/${keySegment(cid)}/input/${keySegment(uploadId)}/`;
}

export function stagedChunkKey(prefix: string, chunk: number): string {
  return `${prefix}targets-${String(chunk).padStart(5, '0')}.jsonl`;
}

export async function writeStagedChunk(
  blobs: BlobStore,
  prefix: string,
  chunk: number,
  targets: PlannedTarget[],
): Promise<void> {
  const body = targets.map((target) => JSON.stringify(target)).join('\n') + '\n';
  await blobs.put(stagedChunkKey(prefix, chunk), encoder.encode(body));
}

export async function readStagedTargets(blobs: BlobStore, staged: StagedTargets): Promise<PlannedTarget[]> {
  const targets: PlannedTarget[] = [];
  for (let chunk = 1; chunk <= staged.chunks; chunk++) {
    const body = await blobs.get(stagedChunkKey(staged.prefix, chunk));
    if (!body) throw new Error(`staged targets missing from the store: ${stagedChunkKey(staged.prefix, chunk)}`);
    for (const line of decoder.decode(body).split('\n')) if (line) targets.push(JSON.parse(line) as PlannedTarget);
  }
  if (targets.length !== staged.count)
    throw new Error(`staged targets under ${staged.prefix}: ${targets.length} found, ${staged.count} written`);
  return targets;
}

/** Removes an upload's files (a refused upload), where the store can delete. */
export async function removeStaged(blobs: BlobStore, prefix: string, chunks: number): Promise<void> {
  if (!blobs.delete) return;
  for (let chunk = 1; chunk <= chunks; chunk++) await blobs.delete(stagedChunkKey(prefix, chunk));
}
