/**
 * `GET /v1/fanouts/{cid}/events`: a fan-out watched (FanoutClient.watch) and written as Server-Sent Events. An
 * unknown CID or a bad Last-Event-ID is a problem before the stream starts; once it has started, the watch ends
 * with the `end` event or when the client goes away (nothing goes on polling for a reader that left).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FanoutClient, FanoutEvent } from '../client';
import { DeliveredSet } from '../client/delivered-set';
import { sendClientError } from './errors';
import { invalidParams, problem, sendProblem } from './problem';
import { EventsQuery } from './schemas';

/** A comment line this often keeps proxies and the server's idle timeout from closing a quiet stream. */
export const DEFAULT_KEEP_ALIVE_MS = 15_000;

/** How long a browser's EventSource waits before it reconnects (it then sends Last-Event-ID). */
const RETRY_MS = 2_000;

export async function streamEvents(
  request: FastifyRequest<{ Params: { cid: string } }>,
  reply: FastifyReply,
  client: FanoutClient,
  keepAliveMs = DEFAULT_KEEP_ALIVE_MS,
): Promise<unknown> {
  const { cid } = request.params;
  const query = EventsQuery.safeParse(request.query);
  if (!query.success) {
    const errors = invalidParams(query.error.issues);
    return sendProblem(reply, problem(400, 'invalid-query', 'A query parameter is not valid', { cid, errors }));
  }
  const lastEventId = request.headers['last-event-id'];
  const after = Array.isArray(lastEventId) ? lastEventId[0] : lastEventId;
  if (after !== undefined && !DeliveredSet.parse(after)) {
    const errors = [{ pointer: '/Last-Event-ID', reason: 'not an event ID of this stream' }];
    return sendProblem(reply, problem(400, 'invalid-query', 'Last-Event-ID is not valid', { cid, errors }));
  }
  try {
    await client.status(cid); // 404 before the stream starts
  } catch (error) {
    return sendClientError(reply, error);
  }
  if (request.method === 'HEAD') return reply.type('text/event-stream').send();

  // From here on the response is written by hand, event by event.
  reply.hijack();
  const raw = reply.raw;
  const stop = new AbortController();
  raw.on('close', () => stop.abort());
  raw.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no', // nginx: pass each event on at once
  });
  const write = async (text: string) => {
    if (stop.signal.aborted) return;
    if (!raw.write(text)) await new Promise<void>((resolve) => raw.once('drain', resolve).once('close', resolve));
  };
  const keepAlive = setInterval(() => void write(': keep-alive\n\n'), keepAliveMs);
  try {
    await write(`retry: ${RETRY_MS}\n\n`);
    const records = query.data.records !== 'false';
    for await (const event of client.watch(cid, { records, after, signal: stop.signal })) await write(frame(event));
  } catch (error) {
    if (!stop.signal.aborted) {
      request.log.error({ err: error }, 'event stream failed');
      await write(`event: error\ndata: ${JSON.stringify({ message: 'The stream failed; reconnect to resume' })}\n\n`);
    }
  } finally {
    clearInterval(keepAlive);
    stop.abort();
    raw.end();
  }
  return reply;
}

/** One event as the stream carries it: `id:`, `event:` and one line of JSON `data:`. */
function frame(event: FanoutEvent): string {
  const data =
    event.type === 'progress'
      ? event.progress
      : event.type === 'record'
        ? { position: event.position, ...event.record }
        : event.outcome;
  return `id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(data)}\n\n`;
}
