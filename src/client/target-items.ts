/**
 * `readTargetItems(source)`: target items kept in a file (an S3 object or a local file) as a stream of
 * `{ name, service?, request }` items for `invoke` / `parallel` (and the HTTP API's `items`), checked and stored as
 * they come like any streamed targets. JSONL and CSV files are read as they arrive, an item at a time; a JSON file
 * is one array, so it is read whole (at most MAX_JSON_ITEMS_BYTES): use JSONL for large files.
 *
 * Problems name the item's place in the file: `['items', 'line', n]` for JSONL (its line) and CSV (its row, the
 * header being row 1), `['items', i]` for JSON (its index in the array).
 */
import type * as CsvParse from 'csv-parse';
import { Readable, pipeline } from 'node:stream';
import type { ItemsSource } from '../contracts';
import { requirePeer } from '../optional-peer';
import { InvalidRequestError } from './errors';
import type { ItemSourceOptions } from './item-sources';
import { openItemSource } from './item-sources';
import { parseJsonLines, readLines } from './json-lines';
import { UnreadableItem } from './staging';

export type { ItemSourceOptions } from './item-sources';

/** A JSON file of items is read whole: this large at most. */
export const MAX_JSON_ITEMS_BYTES = 64 * 1024 * 1024;

/** Items streamed from a file, with where each one is in it (for the problems a start reports). */
export interface TargetItems extends AsyncIterable<unknown> {
  where(index: number): (string | number)[];
}

const WHERE: Record<ItemsSource['format'], (index: number) => (string | number)[]> = {
  jsonl: (index) => ['items', 'line', index + 1],
  json: (index) => ['items', index],
  csv: (index) => ['items', 'line', index + 2],
};

/**
 * The items of `source`. Nothing is read until the items are: a missing or forbidden file then throws
 * ItemsSourceError before the first item; an unreadable line or row is an UnreadableItem in its place.
 */
export function readTargetItems(source: ItemsSource, options: ItemSourceOptions = {}): TargetItems {
  const { url, format } = source;
  return {
    where: WHERE[format],
    async *[Symbol.asyncIterator]() {
      const bytes = await openItemSource(url, options);
      if (format === 'jsonl') yield* parseJsonLines(readLines(bytes));
      else if (format === 'json') yield* await jsonArray(bytes);
      else yield* csvItems(bytes);
    },
  };
}

async function jsonArray(bytes: AsyncIterable<Uint8Array>): Promise<unknown[]> {
  const refuse = (message: string) => new InvalidRequestError([{ path: 'items', segments: ['items'], message }]);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of bytes) {
    size += chunk.byteLength;
    if (size > MAX_JSON_ITEMS_BYTES)
      throw refuse(`a JSON file of items is at most ${MAX_JSON_ITEMS_BYTES} bytes: use JSONL for larger ones`);
    chunks.push(Buffer.from(chunk));
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (error) {
    throw refuse(`not JSON: ${(error as Error).message}`);
  }
  if (!Array.isArray(parsed)) throw refuse('a JSON file of items holds one array of items');
  return parsed;
}

/**
 * CSV rows as items: the header row names the columns; `name` is required, `service` optional (an empty cell: none),
 * every other column a key of the request, its cell a string. A row csv-parse cannot read ends the items with an
 * UnreadableItem in its place.
 */
async function* csvItems(bytes: AsyncIterable<Uint8Array>): AsyncGenerator<unknown> {
  const { parse } = requirePeer<typeof CsvParse>('csv-parse', 'Target items from CSV files');
  const rows = parse({ bom: true });
  // The source's errors reach the rows (and so this reader); stopping early destroys both.
  pipeline(Readable.from(bytes), rows, () => undefined);
  let header: string[] | undefined;
  try {
    for await (const row of rows as AsyncIterable<string[]>) {
      if (!header) {
        header = checkedHeader(row);
        continue;
      }
      yield csvItem(header, row);
    }
  } catch (error) {
    if (!String((error as { code?: unknown }).code).startsWith('CSV_')) throw error;
    yield new UnreadableItem(`not valid CSV: ${(error as Error).message}`);
  }
}

function checkedHeader(header: string[]): string[] {
  const problems: string[] = [];
  if (!header.includes('name')) problems.push('the header row has no `name` column');
  if (new Set(header).size !== header.length) problems.push('the header row names a column twice');
  if (problems.length)
    throw new InvalidRequestError(
      problems.map((message) => ({ path: 'items.line.1', segments: ['items', 'line', 1], message })),
    );
  return header;
}

function csvItem(header: string[], row: string[]): unknown {
  const cell = (column: string) => row[header.indexOf(column)];
  // fromEntries: a column named `__proto__` is a key like any other, not the object's prototype.
  const request = Object.fromEntries(
    header.flatMap((column, i) => (column === 'name' || column === 'service' ? [] : [[column, row[i]]])),
  );
  const service = header.includes('service') ? cell('service') || undefined : undefined;
  return { name: cell('name'), ...(service !== undefined ? { service } : {}), request };
}
