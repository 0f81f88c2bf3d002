/** `temporal-fanout/api`: the HTTP API over a FanoutClient (fastify is an optional peer dependency). */
export { DEFAULT_BODY_LIMIT, DEFAULT_MAX_CONNECTIONS, buildApi } from './server';
export type { ApiOptions } from './server';
export { DEFAULT_NDJSON_LIMIT } from './ndjson-body';
export { apiKeysFromEnv } from './auth';
