/**
 * A Server-Sent Events reader over fetch, for tests: each event as the stream frames it (id, event, JSON data),
 * and each comment line, in the order they arrive, until the server closes the stream or `signal` aborts.
 */
export type SseItem = { comment: string } | { id?: string; event: string; data: unknown };

export async function openEventStream(
  url: string,
  headers: Record<string, string>,
  signal?: AbortSignal,
): Promise<{ response: Response; items: AsyncGenerator<SseItem> }> {
  const response = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal });
  return { response, items: readEvents(response) };
}

async function* readEvents(response: Response): AsyncGenerator<SseItem> {
  if (!response.body) return;
  const decoder = new TextDecoder();
  let buffered = '';
  for await (const chunk of response.body) {
    buffered += decoder.decode(chunk as Uint8Array, { stream: true });
    let end: number;
    while ((end = buffered.indexOf('\n\n')) >= 0) {
      const block = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      const fields: Record<string, string> = {};
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) yield { comment: line.slice(1).trim() };
        else {
          const colon = line.indexOf(':');
          fields[line.slice(0, colon)] = line.slice(colon + 1).replace(/^ /, '');
        }
      }
      if (fields.data !== undefined)
        yield { id: fields.id, event: fields.event ?? 'message', data: JSON.parse(fields.data) };
    }
  }
}
