/**
 * Bearer API keys. Keys are compared as SHA-256 digests with timingSafeEqual, so neither a key's content nor its
 * length leaks through response timing.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { problem, sendProblem } from './problem';
import type { RouteSpec } from './route-table';
import { ROUTES } from './route-table';

/** Paths anyone may read (the API description and the health check): the table's public routes, none with params. */
const routes: RouteSpec[] = Object.values(ROUTES);
const PUBLIC_PATHS = new Set(routes.filter((route) => route.public).map((route) => route.path));

export function apiKeyAuth(apiKeys: readonly string[]) {
  if (apiKeys.length === 0) throw new Error('At least one API key is required');
  const digests = apiKeys.map(digest);
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (PUBLIC_PATHS.has(request.url.split('?')[0])) return;
    const match = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '');
    if (match && isKnown(digests, digest(match[1]))) return;
    reply.header('www-authenticate', 'Bearer realm="fanout"');
    await sendProblem(
      reply,
      problem(
        401,
        'unauthorized',
        match ? 'The API key is not valid' : 'Send an API key as "Authorization: Bearer <key>"',
      ),
    );
  };
}

/** API_KEYS: comma- or whitespace-separated; several keys allow rotation without downtime. */
export function apiKeysFromEnv(env: NodeJS.ProcessEnv = process.env): string[] {
  return (env.API_KEYS ?? '').split(/[\s,]+/).filter(Boolean);
}

function digest(key: string): Buffer {
  return createHash('sha256').update(key).digest();
}

function isKnown(digests: readonly Buffer[], candidate: Buffer): boolean {
  // Compare against every key, so timing does not reveal which one matched.
  return digests.reduce((found, d) => timingSafeEqual(d, candidate) || found, false);
}
