/**
 * Following a fan-out as it runs: an event with the counts whenever they change (polled at most four times a
 * second), one per newly settled target's record (read from the result store), and a final `end` with the outcome.
 * Every event's ID says which records were sent (see DeliveredSet), so a watcher resumed with it repeats none.
 * Shared by `FanoutClient.watch` and the API's Server-Sent Events.
 */
import { QueryNotRegisteredError, WorkflowFailedError } from '@temporalio/client';
import type {
  FanoutCounts,
  FanoutOutcome,
  FanoutProgress,
  InvokeRetryOutcome,
  StopReason,
  StoredRecord,
} from '../contracts';
import type { RecordStore } from '../store/records';
import { DeliveredSet } from './delivered-set';
import { FanoutFailedError, InvalidRequestError } from './errors';

/** Least time between two progress polls: at most four a second per watcher. */
export const WATCH_POLL_MS = 250;

/** The counts of a progress event: the progress without each target's state (a wide fan-out's would be large). */
export type WatchedProgress = Omit<FanoutProgress, 'targets' | 'runningShards'>;

/** How it ended: a fan-out's state, counts and why it stopped early; or how a workflow without a result ended. */
export interface WatchOutcome {
  state: FanoutOutcome['state'] | FanoutFailedError['state'];
  counts?: FanoutCounts;
  stopped?: StopReason;
  redrive?: number;
  /** Invoke/retry: whether its target succeeded. */
  ok?: boolean;
  /** Set when it ended without a result (failed, terminated, timed out). */
  failure?: { type: string; message: string };
}

export type FanoutEvent =
  | { type: 'progress'; id: string; progress: WatchedProgress }
  | { type: 'record'; id: string; position: number; record: StoredRecord }
  | { type: 'end'; id: string; outcome: WatchOutcome };

export interface WatchOptions {
  /** Send each settled target's record (default true); false for wide fan-outs where counts are enough. */
  records?: boolean;
  /** The ID of the last event already seen: records it covers are not sent again. */
  after?: string;
  /** Stops the watch (and the calls it has in flight). */
  signal?: AbortSignal;
}

/** What a watch reads, each call cut short by the signal. */
export interface WatchSource {
  cid: string;
  records: RecordStore;
  progress(signal: AbortSignal): Promise<FanoutProgress>;
  /** Settles once the workflow closes. */
  result(signal: AbortSignal): Promise<FanoutOutcome | InvokeRetryOutcome>;
}

/** The event ID (`after`) as a set of records sent; InvalidRequestError naming `after` if it is not one. */
export function parseEventId(after: string | undefined): DeliveredSet {
  if (after === undefined) return new DeliveredSet();
  const set = DeliveredSet.parse(after);
  if (!set) throw new InvalidRequestError([{ path: 'after', segments: ['after'], message: 'not an event ID' }]);
  return set;
}

export async function* watchFanout(source: WatchSource, options: WatchOptions = {}): AsyncGenerator<FanoutEvent> {
  const delivered = parseEventId(options.after);
  const withRecords = options.records ?? true;
  const abort = new AbortController();
  const stop = () => abort.abort();
  options.signal?.addEventListener('abort', stop, { once: true });
  if (options.signal?.aborted) abort.abort();
  const { signal } = abort;

  let outcome: WatchOutcome | undefined;
  let broken: unknown;
  const sleep = pauser(signal);
  void source
    .result(signal)
    .then(
      (result) => (outcome = outcomeOf(result)),
      (error: unknown) => {
        if (signal.aborted) return;
        if (error instanceof FanoutFailedError || error instanceof WorkflowFailedError) {
          const failed = error instanceof FanoutFailedError ? error : FanoutFailedError.from(source.cid, error);
          outcome = { state: failed.state, failure: failed.failure };
        } else broken = error; // not how the workflow ended, but that it could not be followed: the watch fails
      },
    )
    .finally(sleep.wake);

  let lastCounts = '';
  let scannedAt = -1;
  // A redrive's watch sends the records of the targets it runs again: those an earlier run wrote and this one will
  // not replace (ok) are passed over, and remembered so that they are not read again at every scan.
  const scan = { delivered, redrive: 0, earlier: new Set<number>() };
  let progressQuery = true; // invoke/retry has none
  try {
    while (!signal.aborted) {
      if (broken !== undefined) throw broken;
      const ended = outcome; // taken before polling: whatever settled before the close is read below
      if (!ended && progressQuery) {
        const progress = await source.progress(signal).catch((error: unknown) => {
          if (error instanceof QueryNotRegisteredError) progressQuery = false;
          else if (!outcome && !signal.aborted) throw error; // a query failing as the workflow closes is expected
          return undefined;
        });
        if (signal.aborted) return;
        if (progress) {
          const { targets: _targets, runningShards: _shards, ...counts } = progress;
          const text = JSON.stringify(counts);
          if (text !== lastCounts) {
            lastCounts = text;
            yield { type: 'progress', id: delivered.toId(), progress: counts };
          }
          // Records appear in the store about when the counts change; written a little later, the next poll finds them.
          if (withRecords && (progress.settled !== scannedAt || delivered.size < progress.settled)) {
            scannedAt = progress.settled;
            scan.redrive = progress.redrive ?? 0;
            yield* newRecords(source, scan, signal);
          }
        }
      }
      if (ended) {
        scan.redrive = ended.redrive ?? scan.redrive;
        if (withRecords) yield* newRecords(source, scan, signal);
        if (signal.aborted) return;
        yield { type: 'end', id: delivered.toId(), outcome: ended };
        return;
      }
      await sleep.pause(WATCH_POLL_MS);
    }
  } finally {
    options.signal?.removeEventListener('abort', stop);
    abort.abort(); // the result's long poll and any call in flight end with the watch
  }
}

async function* newRecords(
  source: WatchSource,
  scan: { delivered: DeliveredSet; redrive: number; earlier: Set<number> },
  signal: AbortSignal,
): AsyncGenerator<FanoutEvent> {
  const { delivered, earlier } = scan;
  const known = (position: number) => delivered.has(position) || earlier.has(position);
  for await (const [position, record] of source.records.since(source.cid, delivered.prefix() - 1, known)) {
    if (signal.aborted) return;
    if ((record.redrive ?? 0) < scan.redrive) {
      // Failed or cancelled in an earlier run: this redrive replaces it, and the new record is the one to send.
      if (record.state === 'ok') earlier.add(position);
      continue;
    }
    delivered.add(position);
    yield { type: 'record', id: delivered.toId(), position, record };
  }
}

function outcomeOf(result: FanoutOutcome | InvokeRetryOutcome): WatchOutcome {
  if (!('pattern' in result)) return { state: 'completed', ok: result.ok };
  return {
    state: result.state,
    counts: result.counts,
    ...(result.stopped ? { stopped: result.stopped } : {}),
    ...(result.redrive ? { redrive: result.redrive } : {}),
  };
}

/** Waits `ms`, or less if the watch is stopped or `wake` is called (the workflow closed). */
function pauser(signal: AbortSignal): { pause(ms: number): Promise<void>; wake(): void } {
  let woken: (() => void) | undefined;
  return {
    pause: (ms) =>
      new Promise((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal.removeEventListener('abort', done);
          woken = undefined;
          resolve();
        };
        const timer = setTimeout(done, ms);
        signal.addEventListener('abort', done, { once: true });
        woken = done;
      }),
    wake: () => woken?.(),
  };
}
