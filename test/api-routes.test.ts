/**
 * The served OpenAPI document against the routes fastify actually registered, both ways: no route left out of the
 * document, no documented operation without a route. No Temporal: the only handler called is the document's.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi } from '../src/api/server';
import type { FanoutClient } from '../src/client';

interface Operation {
  responses: Record<string, { content?: Record<string, unknown> }>;
  security?: unknown[];
}

interface Document {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, { properties?: Record<string, unknown> }> };
}

let app: FastifyInstance;
let doc: Document;

beforeAll(async () => {
  app = await buildApi({ fanoutClient: {} as FanoutClient, apiKeys: ['test-key'] });
  await app.ready();
  const reply = await app.inject({ method: 'GET', url: '/v1/openapi.json' }); // no key: the document is public
  expect(reply.statusCode).toBe(200);
  doc = reply.json();
});

afterAll(async () => {
  await app.close();
});

/**
 * "METHOD /path/{param}" for every route in fastify's route tree. printRoutes indents each node four characters
 * per level under its parent and lists its methods in parentheses; a node's path is its ancestors' joined.
 */
function registeredRoutes(tree: string): string[] {
  const ancestors: string[] = [];
  const routes: string[] = [];
  for (const line of tree.split('\n')) {
    const node = /^(.*?)[├└]── (.+?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!node) continue;
    ancestors.length = node[1].length / 4;
    ancestors.push(node[2]);
    const path = ancestors.join('').replace(/:(\w+)/g, '{$1}');
    for (const method of node[3]?.split(', ') ?? []) routes.push(`${method} ${path}`);
  }
  return routes.sort();
}

function documentedOperations(document: Document): string[] {
  return Object.entries(document.paths)
    .flatMap(([path, operations]) => Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`))
    .sort();
}

describe('OpenAPI document', () => {
  it('describes exactly the routes fastify registered', () => {
    const registered = registeredRoutes(app.printRoutes({ commonPrefix: false }));
    // fastify answers HEAD for every GET route by itself; the document describes the GET.
    const heads = registered.filter((route) => route.startsWith('HEAD '));
    expect(heads.map((route) => route.replace('HEAD', 'GET'))).toEqual(
      registered.filter((route) => route.startsWith('GET ')),
    );
    expect(documentedOperations(doc)).toEqual(registered.filter((route) => !route.startsWith('HEAD ')));
  });

  it('is OpenAPI 3.1, generated from the zod contracts', () => {
    expect(doc.openapi).toBe('3.1.0');
    const request = doc.components.schemas.FanoutRequest;
    expect(Object.keys(request.properties ?? {})).toEqual(
      expect.arrayContaining(['targets', 'finalCallbacks', 'onTarget', 'cid', 'delivery']),
    );
    expect(doc.components.schemas.FanoutResult).toBeDefined();
    expect(doc.components.schemas.ProblemDetails).toBeDefined();
  });

  it('describes the listing’s filters and the event stream with its media type and Last-Event-ID', () => {
    const list = doc.paths['/v1/fanouts'].get as Operation & { parameters: { name: string; in: string }[] };
    expect(list.parameters.map((p) => p.name).sort()).toEqual(['cursor', 'limit', 'pattern', 'source', 'state']);
    expect(doc.components.schemas.FanoutList).toBeDefined();
    const events = doc.paths['/v1/fanouts/{cid}/events'].get as Operation & {
      parameters: { name: string; in: string }[];
    };
    expect(Object.keys(events.responses['200'].content ?? {})).toEqual(['text/event-stream']);
    expect(events.parameters.map((p) => `${p.in}:${p.name}`)).toEqual([
      'path:cid',
      'query:records',
      'header:Last-Event-ID',
    ]);
    const records = doc.paths['/v1/fanouts/{cid}/records'].get as Operation & { parameters: { name: string }[] };
    expect(records.parameters.map((p) => p.name)).toContain('state');
  });

  it('answers every error with problem details, and 401 wherever a key is needed', () => {
    for (const [name, operation] of Object.values(doc.paths).flatMap((ops) => Object.entries(ops))) {
      const keyNeeded = operation.security === undefined;
      expect(Object.keys(operation.responses).includes('401'), name).toBe(keyNeeded);
      for (const [status, response] of Object.entries(operation.responses)) {
        if (Number(status) >= 400) expect(Object.keys(response.content ?? {})).toEqual(['application/problem+json']);
      }
    }
  });
});
