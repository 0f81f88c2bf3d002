/**
 * Where a fan-out's results files live in the result store, beside its records: `fanouts/<cid>/results/`, one
 * JSON-lines file per outcome and the manifest that names them. Written by `fanout.writeResults`, read through
 * `FanoutClient.resultFiles` and the HTTP API.
 */
import { ResultsManifest } from '../contracts';
import type { BlobStore } from './blob-store';
import { keySegment } from './blob-store';

/** The files, by the name the manifest gives each. */
export const RESULTS_FILES = ['succeeded', 'failed', 'cancelled'] as const;
export type ResultsFileName = (typeof RESULTS_FILES)[number];

function prefix(cid: string): string {
  return `fanouts/${keySegment(cid)}/results/`;
}

export function resultsFileKey(cid: string, name: ResultsFileName): string {
  return `${prefix(cid)}${name}.jsonl`;
}

export function resultsManifestKey(cid: string): string {
  return `${prefix(cid)}manifest.json`;
}

/** The manifest, or undefined when no run of this fan-out has written its results. */
export async function readResultsManifest(blobs: BlobStore, cid: string): Promise<ResultsManifest | undefined> {
  const body = await blobs.get(resultsManifestKey(cid));
  return body && ResultsManifest.parse(JSON.parse(new TextDecoder().decode(body)));
}
