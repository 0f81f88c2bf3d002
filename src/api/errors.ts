/** The client's typed errors as HTTP problems; anything else is a genuine server fault and propagates (500). */
import type { FastifyReply } from 'fastify';
import {
  DuplicateCidError,
  FanoutNotFoundError,
  FanoutRunningError,
  InvalidRequestError,
  PayloadTooLargeError,
  UnknownServiceError,
} from '../client';
import { problem, sendProblem } from './problem';

export function sendClientError(reply: FastifyReply, error: unknown, request?: Record<string, unknown>): FastifyReply {
  if (error instanceof InvalidRequestError) {
    const targets = Object.keys((request?.targets as Record<string, unknown> | undefined) ?? {});
    const errors = error.issues.map((i) => ({ pointer: dottedToPointer(i.path, targets), reason: i.message }));
    return sendProblem(reply, problem(400, 'invalid-request', 'The request body is not valid', { errors }));
  }
  if (error instanceof UnknownServiceError) {
    return sendProblem(
      reply,
      problem(422, 'unknown-service', error.message, {
        unknownServices: error.unknownServices,
        unknownCallbacks: error.unknownCallbacks,
      }),
    );
  }
  if (error instanceof DuplicateCidError) {
    return sendProblem(reply, problem(409, 'duplicate-cid', error.message, { cid: error.cid }));
  }
  if (error instanceof FanoutNotFoundError) {
    return sendProblem(reply, problem(404, 'fanout-not-found', error.message, { cid: error.cid }));
  }
  if (error instanceof FanoutRunningError) {
    return sendProblem(reply, problem(409, 'still-running', error.message, { cid: error.cid }));
  }
  if (error instanceof PayloadTooLargeError) {
    return sendProblem(reply, problem(413, 'payload-too-large', error.message, { limit: error.limit }));
  }
  throw error;
}

/**
 * The client reports paths joined with dots, and target names may contain dots ("crm.get-user"): a known target
 * name after "targets." is kept whole.
 */
function dottedToPointer(path: string, targets: readonly string[]): string {
  if (!path) return '';
  const escape = (segment: string) => segment.replace(/~/g, '~0').replace(/\//g, '~1');
  for (const list of ['targets.', 'targetOptions.']) {
    if (!path.startsWith(list)) continue;
    const rest = path.slice(list.length);
    const target = [...targets].sort((a, b) => b.length - a.length).find((t) => rest === t || rest.startsWith(`${t}.`));
    if (target) {
      const tail = rest.slice(target.length + 1);
      return `/${list.slice(0, -1)}/${escape(target)}${tail ? `/${tail.split('.').map(escape).join('/')}` : ''}`;
    }
  }
  return `/${path.split('.').map(escape).join('/')}`;
}
