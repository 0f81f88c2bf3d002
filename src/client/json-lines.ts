/**
 * JSON lines from a byte stream (an NDJSON upload, a JSONL file): split as the bytes arrive, pulling the next chunk
 * only once the lines before have been taken (so a slow consumer slows the reading), and parsed one at a time. A
 * line that is not JSON, empty or too long becomes an UnreadableItem in its place, to be reported at its line.
 */
import { UnreadableItem } from './staging';

/**
 * A line's length at most, in characters: a target's request is at most 2 MiB as JSON, and its name and service add
 * little. A longer line is dropped as it arrives, never held whole.
 */
export const MAX_LINE_CHARS = 4 * 1024 * 1024;

/** The lines of the stream, without their `\n` (or `\r\n`); a last line without one counts if it is not empty. */
export async function* readLines(
  chunks: AsyncIterable<Uint8Array | string>,
  maxLineChars = MAX_LINE_CHARS,
): AsyncGenerator<string | UnreadableItem> {
  const decoder = new TextDecoder();
  const tooLong = () => new UnreadableItem(`a line over ${maxLineChars} characters`);
  let partial = '';
  let overLong = false;
  for await (const chunk of chunks) {
    const text = typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    let start = 0;
    for (let end = text.indexOf('\n'); end >= 0; end = text.indexOf('\n', start)) {
      const line = partial + text.slice(start, end);
      yield overLong || line.length > maxLineChars ? tooLong() : withoutCr(line);
      partial = '';
      overLong = false;
      start = end + 1;
    }
    if (!overLong) partial += text.slice(start);
    if (partial.length > maxLineChars) [partial, overLong] = ['', true];
  }
  partial += decoder.decode();
  if (overLong) yield tooLong();
  else if (partial !== '') yield withoutCr(partial);
}

/** One line's JSON value, or why it has none. */
export function parseJsonLine(line: string | UnreadableItem): unknown {
  if (line instanceof UnreadableItem) return line;
  if (line.trim() === '') return new UnreadableItem('an empty line: each line holds one JSON value');
  try {
    return JSON.parse(line);
  } catch (error) {
    return new UnreadableItem(`not JSON: ${(error as Error).message}`);
  }
}

export async function* parseJsonLines(lines: AsyncIterable<string | UnreadableItem>): AsyncGenerator<unknown> {
  for await (const line of lines) yield parseJsonLine(line);
}

function withoutCr(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}
