/**
 * Problem details (RFC 9457) for every error the API returns, so clients get one machine-readable shape,
 * including the list of invalid fields on a 400.
 */
import type { FastifyReply } from 'fastify';
import type { z } from 'zod';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export interface InvalidParam {
  /** JSON Pointer (RFC 6901) to the invalid member of the request body, e.g. "/targets/crm.get-user". */
  pointer: string;
  reason: string;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  errors?: InvalidParam[];
  [extension: string]: unknown;
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  404: 'Not Found',
  408: 'Request Timeout',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  409: 'Conflict',
  413: 'Content Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  417: 'Expectation Failed',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** `type` is a stable identifier clients can switch on; the API serves no page at that URI. */
export function problem(status: number, slug: string, detail?: string, extra: Partial<Problem> = {}): Problem {
  return { type: `urn:problem:fanout:${slug}`, title: TITLES[status] ?? 'Error', status, detail, ...extra };
}

export function sendProblem(reply: FastifyReply, body: Problem): FastifyReply {
  return reply
    .code(body.status)
    .type(PROBLEM_CONTENT_TYPE)
    .send({ ...body, instance: body.instance ?? reply.request.url });
}

/** One entry per invalid field, each named by JSON Pointer. */
export function invalidParams(issues: readonly z.core.$ZodIssue[], prefix = ''): InvalidParam[] {
  return issues.flatMap((issue) => {
    const at = prefix + pointer(issue.path);
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ pointer: at + pointer([key]), reason: 'unknown field' }));
    }
    if (issue.code === 'invalid_union') {
      // Report the alternative the client evidently meant: the one that got past the type check.
      const meant = issue.errors.find((branch) => branch.some((i) => i.code !== 'invalid_type' || i.path.length > 0));
      if (meant) return invalidParams(meant, at);
    }
    return [{ pointer: at, reason: issue.message }];
  });
}

/** RFC 6901 JSON Pointer from exact path segments (names may contain "/" and "~"). */
export function toPointer(path: readonly PropertyKey[]): string {
  return pointer(path);
}

function pointer(path: readonly PropertyKey[]): string {
  return path.map((key) => `/${String(key).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
}
