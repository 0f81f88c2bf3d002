/**
 * The OpenAPI 3.1 document, generated from the route table and the zod schemas the API validates with (and the
 * client uses), so the description cannot drift from the routes or their behaviour.
 */
import { z } from 'zod';
import type { NamedSchema, ResponseSpec, RouteSpec } from './route-table';

const ProblemDetails = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.int(),
    detail: z.string().optional(),
    instance: z.string().optional(),
    errors: z
      .array(z.object({ pointer: z.string(), reason: z.string() }))
      .optional()
      .describe(
        'On 400: one entry per invalid field, named by JSON Pointer into the request body (for a query parameter ' +
          'or header: /name)',
      ),
  })
  .describe('RFC 9457 problem details');

const unauthorized: ResponseSpec = { description: 'Missing or unknown API key', body: 'problem' };

export function buildOpenApiDocument(
  info: { title: string; version: string; description?: string },
  routes: Record<string, RouteSpec>,
): Record<string, unknown> {
  const requests = new Components();
  const responses = new Components();
  const paths: Record<string, Record<string, unknown>> = {};
  for (const [operationId, route] of Object.entries(routes)) {
    if (route.body) requests.add(route.body);
    const statuses = route.public ? route.responses : { ...route.responses, 401: unauthorized };
    for (const { body, alternative } of Object.values(statuses)) {
      if (body && body !== 'problem') responses.add(body);
      if (alternative) responses.add(alternative);
    }
    const parameters = [
      ...pathParameters(route.path),
      ...queryParameters(route.query),
      ...Object.entries(route.requestHeaders ?? {}).map(([name, description]) => ({
        name,
        in: 'header',
        required: false,
        description,
        schema: { type: 'string' },
      })),
    ];
    (paths[route.path.replace(/:(\w+)/g, '{$1}')] ??= {})[route.method.toLowerCase()] = {
      operationId,
      summary: route.summary,
      ...(parameters.length ? { parameters } : {}),
      ...(route.body ? { requestBody: { required: true, content: requestContent(route) } } : {}),
      responses: Object.fromEntries(Object.entries(statuses).map(([status, r]) => [status, response(r)])),
      ...(route.public ? { security: [] } : {}),
    };
  }
  return {
    openapi: '3.1.0',
    info,
    servers: [{ url: '/' }],
    security: [{ apiKey: [] }],
    components: {
      securitySchemes: { apiKey: { type: 'http', scheme: 'bearer' } },
      // Requests are described as clients write them (defaults optional), responses as the API sends them.
      schemas: {
        ...responses.toJsonSchemas('output'),
        ...componentSchemas({ ProblemDetails }, 'output'),
        ...requests.toJsonSchemas('input'),
      },
    },
    paths,
  };
}

/** The named schemas the document refers to; a name stands for one schema only. */
class Components {
  private readonly byName: Record<string, z.ZodType> = {};

  add({ name, schema }: NamedSchema): void {
    const known = this.byName[name];
    if (known && known !== schema) throw new Error(`Two schemas are named ${name} in the route table`);
    this.byName[name] = schema;
  }

  toJsonSchemas(io: 'input' | 'output'): Record<string, unknown> {
    return componentSchemas(this.byName, io);
  }
}

function componentSchemas(named: Record<string, z.ZodType>, io: 'input' | 'output'): Record<string, unknown> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(named)) registry.add(schema, { id });
  const { schemas } = z.toJSONSchema(registry, {
    io,
    unrepresentable: 'any',
    uri: (id) => `#/components/schemas/${id}`,
  });
  return Object.fromEntries(Object.entries(schemas).map(([id, schema]) => [id, withoutDialect(schema)]));
}

function withoutDialect(schema: object): Record<string, unknown> {
  const { $schema: _schema, $id: _id, ...rest } = schema as Record<string, unknown>;
  return rest;
}

function pathParameters(path: string) {
  return [...path.matchAll(/:(\w+)/g)].map(([, name]) => ({
    name,
    in: 'path',
    required: true,
    schema: { type: 'string' },
  }));
}

function queryParameters(query: z.ZodObject | undefined) {
  if (!query) return [];
  const { properties = {}, required = [] } = z.toJSONSchema(query, { io: 'input', unrepresentable: 'any' }) as {
    properties?: Record<string, Record<string, unknown>>;
    required?: string[];
  };
  return Object.entries(properties).map(([name, schema]) => ({
    name,
    in: 'query',
    required: required.includes(name),
    schema,
  }));
}

/** A route's JSON body, and its NDJSON one where it takes one (a text of lines: described, not a schema). */
function requestContent({ body, ndjsonBody }: RouteSpec) {
  return {
    ...jsonContent(body!.name),
    ...(ndjsonBody ? { 'application/x-ndjson': { schema: { type: 'string', description: ndjsonBody } } } : {}),
  };
}

function jsonContent(schema: string, mediaType = 'application/json') {
  return { [mediaType]: { schema: { $ref: `#/components/schemas/${schema}` } } };
}

function response({ description, body, headers, mediaType }: ResponseSpec) {
  return {
    description,
    ...(body
      ? {
          content:
            body === 'problem'
              ? jsonContent('ProblemDetails', 'application/problem+json')
              : jsonContent(body.name, mediaType),
        }
      : {}),
    ...(headers
      ? {
          headers: Object.fromEntries(
            Object.entries(headers).map(([name, d]) => [name, { description: d, schema: { type: 'string' } }]),
          ),
        }
      : {}),
  };
}
