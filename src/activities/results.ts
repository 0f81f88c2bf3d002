/**
 * `fanout.writeResults`: a finished fan-out's records written out as files a reader can take whole, without paging
 * through one blob per target: one JSON line per record in target order, in a file per outcome, then the manifest.
 */
import type { ResultsManifest, StoredRecord, WriteResultsInput } from '../contracts';
import type { RecordStore } from '../store/records';
import type { ResultsFileName } from '../store/results';
import { RESULTS_FILES, resultsFileKey, resultsManifestKey } from '../store/results';

const encoder = new TextEncoder();

const FILE_OF: Record<StoredRecord['state'], ResultsFileName> = {
  ok: 'succeeded',
  failed: 'failed',
  cancelled: 'cancelled',
  // Never stored: every record is of a settled target. Kept apart rather than dropped, should one appear.
  pending: 'cancelled',
  running: 'cancelled',
};

export function createResultsActivity(records: RecordStore) {
  return async ({ cid, state, total, run }: WriteResultsInput): Promise<ResultsManifest> => {
    const lines: Record<ResultsFileName, string[]> = { succeeded: [], failed: [], cancelled: [] };
    for await (const stored of records.all(cid))
      lines[FILE_OF[stored.state]].push(`${JSON.stringify(stored.record)}\n`);

    // Every file, empty ones too, so that a redrive's files replace the earlier run's whole.
    const files = {} as ResultsManifest['files'];
    for (const name of RESULTS_FILES) {
      const key = resultsFileKey(cid, name);
      const body = encoder.encode(lines[name].join(''));
      await records.blobs.put(key, body);
      files[name] = { key, records: lines[name].length, bytes: body.byteLength };
    }
    // Counted from the records, not taken from the workflow: a sharded fan-out's own counts are complete only once
    // its shards have finished, which may be after this runs.
    const manifest: ResultsManifest = {
      cid,
      state,
      run,
      counts: {
        total,
        ok: files.succeeded.records,
        failed: files.failed.records,
        cancelled: files.cancelled.records,
      },
      files,
      writtenAt: new Date().toISOString(),
    };
    // Last: whoever finds the manifest finds the files it names.
    await records.blobs.put(resultsManifestKey(cid), encoder.encode(JSON.stringify(manifest)));
    return manifest;
  };
}
