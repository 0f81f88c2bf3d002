/**
 * fastify's routes, registered from the route table: one per operation, each with its handler. Routes that take
 * NDJSON bodies are registered in a context of their own where an NDJSON body reaches the handler as the request's
 * stream, unread, so it is read line by line as the start takes its targets; every other route answers 415 to it.
 */
import type { FastifyInstance, RouteHandlerMethod } from 'fastify';
import type { RouteDeps } from './handlers';
import { createHandlers } from './handlers';
import type { OperationId } from './route-table';
import { ROUTES } from './route-table';

export type { RouteDeps } from './handlers';

export function registerRoutes(app: FastifyInstance, deps: RouteDeps): void {
  const handlers = createHandlers(deps);
  const operations = Object.keys(ROUTES) as OperationId[];
  const takesNdjson = (id: OperationId) => 'ndjsonBody' in ROUTES[id];
  const route = (context: FastifyInstance, operationId: OperationId) => {
    const { method, path } = ROUTES[operationId];
    // Each handler is typed with the params of its own route's path, which the loop cannot carry.
    context.route({ method, url: path, handler: handlers[operationId] as RouteHandlerMethod });
  };
  for (const operationId of operations.filter((id) => !takesNdjson(id))) route(app, operationId);
  void app.register(async (streaming) => {
    streaming.addContentTypeParser('application/x-ndjson', (_request, payload, done) => done(null, payload));
    for (const operationId of operations.filter(takesNdjson)) route(streaming, operationId);
  });
}
