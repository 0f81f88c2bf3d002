/** fastify's routes, registered from the route table: one per operation, each with its handler. */
import type { FastifyInstance, RouteHandlerMethod } from 'fastify';
import type { RouteDeps } from './handlers';
import { createHandlers } from './handlers';
import type { OperationId } from './route-table';
import { ROUTES } from './route-table';

export type { RouteDeps } from './handlers';

export function registerRoutes(app: FastifyInstance, deps: RouteDeps): void {
  const handlers = createHandlers(deps);
  for (const operationId of Object.keys(ROUTES) as OperationId[]) {
    const { method, path } = ROUTES[operationId];
    // Each handler is typed with the params of its own route's path, which the loop cannot carry.
    app.route({ method, url: path, handler: handlers[operationId] as RouteHandlerMethod });
  }
}
