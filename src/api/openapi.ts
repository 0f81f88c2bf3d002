/**
 * The OpenAPI 3.1 document, generated from the same zod schemas the API validates with (and the client uses), so
 * the description cannot drift from the behaviour.
 */
import { z } from 'zod';

export interface ResponseSpec {
  description: string;
  /** Name of a schema in `schemas`; `problem` for problem details. */
  schema?: string;
  headers?: Record<string, string>;
}

export interface OperationSpec {
  method: 'get' | 'post' | 'patch' | 'delete';
  path: string;
  operationId: string;
  summary: string;
  requestBody?: string;
  responses: Record<number, ResponseSpec>;
}

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
      .describe('On 400: one entry per invalid field, named by JSON Pointer into the request body'),
  })
  .describe('RFC 9457 problem details');

export function buildOpenApiDocument(
  info: { title: string; version: string; description?: string },
  schemas: { requests: Record<string, z.ZodType>; responses: Record<string, z.ZodType> },
  operations: readonly OperationSpec[],
): Record<string, unknown> {
  const components = {
    // Requests are described as clients write them (defaults optional), responses as the API sends them.
    ...componentSchemas(schemas.responses, 'output'),
    ...componentSchemas({ ProblemDetails }, 'output'),
    ...componentSchemas(schemas.requests, 'input'),
  };
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of operations) {
    const path = op.path.replace(/:(\w+)/g, '{$1}');
    const parameters = [...op.path.matchAll(/:(\w+)/g)].map(([, name]) => ({
      name,
      in: 'path',
      required: true,
      schema: { type: 'string' },
    }));
    (paths[path] ??= {})[op.method] = {
      operationId: op.operationId,
      summary: op.summary,
      ...(parameters.length ? { parameters } : {}),
      ...(op.requestBody ? { requestBody: { required: true, content: jsonContent(op.requestBody) } } : {}),
      responses: Object.fromEntries(Object.entries(op.responses).map(([status, r]) => [status, response(r)])),
      ...(op.path === '/v1/openapi.json' ? { security: [] } : {}),
    };
  }
  return {
    openapi: '3.1.0',
    info,
    servers: [{ url: '/' }],
    security: [{ apiKey: [] }],
    components: { securitySchemes: { apiKey: { type: 'http', scheme: 'bearer' } }, schemas: components },
    paths,
  };
}

function componentSchemas(named: Record<string, z.ZodType>, io: 'input' | 'output'): Record<string, unknown> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(named)) registry.add(schema, { id });
  const { schemas } = z.toJSONSchema(registry, {
    io,
    unrepresentable: 'any',
    uri: (id) => `#/components/schemas/${id}`,
  });
  return Object.fromEntries(
    Object.entries(schemas).map(([id, schema]) => {
      const { $schema: _schema, $id: _id, ...rest } = schema as Record<string, unknown>;
      return [id, rest];
    }),
  );
}

function jsonContent(schema: string, mediaType = 'application/json') {
  return { [mediaType]: { schema: { $ref: `#/components/schemas/${schema}` } } };
}

function response({ description, schema, headers }: ResponseSpec) {
  return {
    description,
    ...(schema
      ? {
          content:
            schema === 'problem' ? jsonContent('ProblemDetails', 'application/problem+json') : jsonContent(schema),
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
