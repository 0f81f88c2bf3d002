/** The client's typed errors as HTTP problems; anything else is a genuine server fault and propagates (500). */
import { isGrpcServiceError } from '@temporalio/client';
import type { FastifyReply } from 'fastify';
import {
  DuplicateCidError,
  FanoutControlError,
  FanoutFailedError,
  FanoutNotFoundError,
  FanoutRunningError,
  InvalidRequestError,
  ItemsSourceError,
  PayloadTooLargeError,
  UndeliverableCallbackError,
  UnknownServiceError,
} from '../client';
import { problem, sendProblem } from './problem';

/** gRPC status INVALID_ARGUMENT. */
const GRPC_INVALID_ARGUMENT = 3;

export function sendClientError(reply: FastifyReply, error: unknown): FastifyReply {
  if (error instanceof InvalidRequestError) {
    const errors = error.issues.map((i) => ({ pointer: toPointer(i.segments), reason: i.message }));
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
  if (error instanceof UndeliverableCallbackError) {
    const errors = error.issues.map((i) => ({ pointer: toPointer(i.segments), reason: i.message }));
    return sendProblem(reply, problem(422, 'callback-not-deliverable', error.message, { errors }));
  }
  if (error instanceof ItemsSourceError) {
    return sendProblem(reply, problem(422, `items-${error.reason}`, error.message, { url: error.url }));
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
  if (error instanceof FanoutControlError) {
    return sendProblem(reply, problem(409, 'control-refused', error.message, { cid: error.cid }));
  }
  if (error instanceof FanoutFailedError) {
    // A fan-out that ended without a result: a definite answer, not a server fault.
    return sendProblem(
      reply,
      problem(409, 'fanout-failed', error.message, { cid: error.cid, state: error.state, failure: error.failure }),
    );
  }
  if (isGrpcServiceError(error) && error.code === GRPC_INVALID_ARGUMENT) {
    // The server refused what the client sent (checked here too, in case a check upstream missed it).
    return sendProblem(reply, problem(400, 'invalid-request', 'Temporal refused the request as invalid'));
  }
  if (error instanceof PayloadTooLargeError) {
    return sendProblem(reply, problem(413, 'payload-too-large', error.message, { limit: error.limit }));
  }
  throw error;
}

/** RFC 6901 JSON pointer from the exact path segments (target names may contain dots and slashes). */
function toPointer(segments: (string | number)[]): string {
  return segments.map((segment) => '/' + String(segment).replace(/~/g, '~0').replace(/\//g, '~1')).join('');
}
