/**
 * An NDJSON start's body, read as it arrives: the first line holds the request's options (what a JSON body holds
 * but its targets), every further line one target item. Bytes are counted as they come, so a body past the limit
 * fails with NdjsonTooLargeError whatever its Content-Length said; nothing is read ahead of the lines taken.
 */
import type { Readable } from 'node:stream';
import { parseJsonLine, readLines } from '../client/json-lines';
import { UnreadableItem } from '../client/staging';

export const DEFAULT_NDJSON_LIMIT = 256 * 1024 * 1024;

/** Item `index` is on line index + 2: the options take line 1. */
export const ndjsonLine = (index: number): (string | number)[] => ['line', index + 2];

export class NdjsonTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`The NDJSON body is over ${limit} bytes`);
  }
}

export interface NdjsonBody {
  /** The first line's JSON value, or why there is none. */
  options: unknown;
  /** The lines after it, each a JSON value or an UnreadableItem. */
  items: AsyncIterable<unknown>;
}

export async function readNdjsonBody(body: Readable, limit: number): Promise<NdjsonBody> {
  // Not destroyed when the reading stops early (a refused item): the request's socket must live to carry the answer.
  const lines = readLines(counted(body.iterator({ destroyOnReturn: false }), limit));
  const first = await lines.next();
  const options = first.done ? new UnreadableItem('no options: an empty body') : parseJsonLine(first.value);
  async function* items(): AsyncGenerator<unknown> {
    for await (const line of { [Symbol.asyncIterator]: () => lines }) yield parseJsonLine(line);
  }
  return { options, items: items() };
}

async function* counted(chunks: AsyncIterable<Uint8Array>, limit: number): AsyncGenerator<Uint8Array> {
  let bytes = 0;
  for await (const chunk of chunks) {
    bytes += chunk.byteLength;
    if (bytes > limit) throw new NdjsonTooLargeError(limit);
    yield chunk;
  }
}
