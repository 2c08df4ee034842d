import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL_CODES } from '../../src/kernel/index.js';
import type { StoreFixture } from '../store/dialects.js';
import { storeDialects } from '../store/dialects.js';
import { type RunningApi, startApi } from './api-fixture.js';

/**
 * The OpenAPI document is generated from the schemas the routes validate with: it must be a
 * well-formed 3.1 document listing every route with its security, parameters and responses.
 */

interface Operation {
  readonly operationId?: string;
  readonly security?: readonly Record<string, readonly string[]>[];
  readonly parameters?: readonly { name: string; in: string; required?: boolean }[];
  readonly requestBody?: { content: Record<string, { schema: unknown }> };
  readonly responses: Record<string, { description?: string; content?: Record<string, unknown> }>;
}
interface OpenApiDocument {
  readonly openapi: string;
  readonly info: { title: string; version: string };
  readonly paths: Record<string, Record<string, Operation>>;
  readonly components: {
    securitySchemes: Record<string, { type: string; scheme: string }>;
    schemas: Record<string, { type?: string; properties?: Record<string, unknown> }>;
  };
}

const EXPECTED_OPERATIONS: Record<string, 'bearer' | 'public'> = {
  'POST /api/v1/sessions': 'bearer',
  'GET /api/v1/sessions': 'bearer',
  'GET /api/v1/sessions/{id}': 'bearer',
  'GET /api/v1/sessions/{id}/events': 'bearer',
  'GET /api/v1/sessions/{id}/events/stream': 'bearer',
  'GET /api/v1/sessions/{id}/verify': 'bearer',
  'GET /api/v1/stream': 'bearer',
  'GET /api/v1/runs/{id}': 'bearer',
  'GET /api/v1/runs/{id}/patch': 'bearer',
  'GET /api/v1/runs/{id}/logs/{name}': 'bearer',
  'GET /api/v1/runs/{id}/policy': 'bearer',
  'POST /api/v1/runs/{id}/cancel': 'bearer',
  'GET /api/v1/workers': 'bearer',
  'GET /api/v1/whoami': 'bearer',
  'POST /api/v1/tokens': 'bearer',
  'GET /api/v1/tokens': 'bearer',
  'DELETE /api/v1/tokens/{idOrName}': 'bearer',
  'POST /api/v1/runs/{id}/approvals': 'bearer',
  'GET /api/v1/runs/{id}/approvals': 'bearer',
  'GET /api/v1/approvals': 'bearer',
  'POST /api/v1/runs/{id}/promote': 'bearer',
  'GET /api/v1/runs/{id}/promotion': 'bearer',
  'GET /api/v1/runs/{id}/attestation': 'bearer',
  'GET /api/v1/keys': 'public',
  'GET /api/v1/schedules': 'bearer',
  'POST /api/v1/schedules': 'bearer',
  'GET /api/v1/schedules/{id}': 'bearer',
  'PATCH /api/v1/schedules/{id}': 'bearer',
  'DELETE /api/v1/schedules/{id}': 'bearer',
  'POST /api/v1/schedules/{id}/pause': 'bearer',
  'POST /api/v1/schedules/{id}/resume': 'bearer',
  'POST /api/v1/schedules/{id}/trigger': 'bearer',
  'GET /api/v1/schedules/{id}/preview': 'bearer',
  'GET /api/v1/health': 'public',
  'GET /api/v1/metrics': 'bearer',
  'POST /api/v1/workers/enrolments': 'bearer',
  'GET /api/v1/workers/enrolments': 'bearer',
  'DELETE /api/v1/workers/enrolments/{name}': 'bearer',
  'POST /api/v1/workers/register': 'public',
  'DELETE /api/v1/workers/{idOrName}': 'bearer',
  'POST /api/v1/workers/{idOrName}/drain': 'bearer',
  'POST /api/v1/workers/{idOrName}/resume': 'bearer',
  'POST /api/v1/workers/claim': 'bearer',
  'POST /api/v1/workers/heartbeat': 'bearer',
  'POST /api/v1/workers/runs/{id}/ops': 'bearer',
  'GET /api/v1/workers/runs/{id}/base-pack': 'bearer',
  'PUT /api/v1/workers/runs/{id}/artifacts/{name}': 'bearer',
  'POST /api/v1/runs/{id}/report': 'bearer',
};

const [sqlite] = await storeDialects();

describe('OpenAPI document and interactive docs', () => {
  let fixture: StoreFixture;
  let api: RunningApi;
  let document: OpenApiDocument;

  beforeAll(async () => {
    if (sqlite === undefined) throw new Error('no SQLite fixture');
    fixture = await sqlite.open();
    api = await startApi(fixture);
    // Documentation is public: no token.
    const response = await fetch(`${api.url}/openapi.json`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    document = (await response.json()) as OpenApiDocument;
  });
  afterAll(async () => {
    await api?.close();
    await fixture?.cleanup();
  });

  it('is an OpenAPI 3.1 document with a bearer security scheme', () => {
    expect(document.openapi).toBe('3.1.0');
    expect(document.info.title).toBeTruthy();
    expect(document.info.version).toBeTruthy();
    expect(document.components.securitySchemes.bearerAuth).toMatchObject({
      type: 'http',
      scheme: 'bearer',
    });
  });

  it('lists every route exactly once, each with its security', () => {
    const operations = Object.entries(document.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, operation]) => ({
        key: `${method.toUpperCase()} ${path}`,
        operation,
      })),
    );
    expect(operations.map((entry) => entry.key).sort()).toEqual(
      Object.keys(EXPECTED_OPERATIONS).sort(),
    );
    const operationIds = new Set<string>();
    for (const { key, operation } of operations) {
      const expected = EXPECTED_OPERATIONS[key] === 'public' ? [] : [{ bearerAuth: [] }];
      expect(operation.security, key).toEqual(expected);
      expect(operation.operationId, key).toBeTruthy();
      operationIds.add(operation.operationId ?? '');
      // Every response has the description OpenAPI requires; every route documents a success.
      for (const [status, response] of Object.entries(operation.responses)) {
        expect(typeof response.description, `${key} ${status}`).toBe('string');
      }
      expect(
        Object.keys(operation.responses).some((status) => status.startsWith('2')),
        key,
      ).toBe(true);
      if (EXPECTED_OPERATIONS[key] === 'bearer') {
        expect(Object.keys(operation.responses), key).toEqual(
          expect.arrayContaining(['400', '401', '403']),
        );
      }
      // Path templates and path parameters agree.
      const templated = [...key.matchAll(/\{(\w+)\}/g)].map((match) => match[1]);
      const pathParameters = (operation.parameters ?? [])
        .filter((parameter) => parameter.in === 'path')
        .map((parameter) => parameter.name);
      expect(pathParameters.sort(), key).toEqual(templated.sort());
    }
    expect(operationIds.size).toBe(operations.length);
  });

  it('documents the bodies and parameters the routes validate', () => {
    const submit = document.paths['/api/v1/sessions']?.post;
    const jobSchema = submit?.requestBody?.content['application/json']?.schema as {
      properties: Record<string, unknown>;
      required: string[];
      additionalProperties: boolean;
    };
    expect(Object.keys(jobSchema.properties)).toEqual(
      expect.arrayContaining(['task', 'repo', 'agent', 'validators', 'labels']),
    );
    expect(jobSchema.properties).not.toHaveProperty('requestedBy');
    expect(jobSchema.required).toEqual(expect.arrayContaining(['task', 'repo', 'agent']));
    expect(jobSchema.additionalProperties).toBe(false);

    const list = document.paths['/api/v1/sessions']?.get;
    expect(
      list?.parameters?.map((parameter) => `${parameter.in}:${parameter.name}`).sort(),
    ).toEqual([
      'query:agent',
      'query:cursor',
      'query:label',
      'query:limit',
      'query:q',
      'query:repo',
      'query:requester',
      'query:status',
    ]);
    const stream = document.paths['/api/v1/sessions/{id}/events/stream']?.get;
    expect(stream?.parameters?.map((parameter) => `${parameter.in}:${parameter.name}`)).toEqual(
      expect.arrayContaining(['header:last-event-id', 'query:after']),
    );
    expect(Object.keys(stream?.responses['200']?.content ?? {})).toEqual(['text/event-stream']);
    expect(
      Object.keys(document.paths['/api/v1/runs/{id}/patch']?.get?.responses['200']?.content ?? {}),
    ).toEqual(['text/x-diff']);
    const feed = document.paths['/api/v1/stream']?.get;
    expect(Object.keys(feed?.responses['200']?.content ?? {})).toEqual(['text/event-stream']);
    const policy = document.paths['/api/v1/runs/{id}/policy']?.get;
    expect(policy?.parameters?.map((parameter) => `${parameter.in}:${parameter.name}`)).toEqual(
      expect.arrayContaining(['path:id', 'query:path']),
    );
  });

  it('gives the panel explicit shapes: list items, verification, the policy explanation', () => {
    const schemas = document.components.schemas;
    expect(Object.keys(schemas.SessionListItem?.properties ?? {})).toEqual(
      expect.arrayContaining(['id', 'status', 'task', 'runId']),
    );
    expect(Object.keys(schemas.SessionVerification?.properties ?? {})).toEqual(
      expect.arrayContaining(['sessionId', 'ok', 'events', 'firstBrokenSeq', 'reason', 'lastHash']),
    );
    const policy = schemas.RunPolicy as {
      properties: Record<string, { items?: { oneOf?: { properties: Record<string, unknown> }[] } }>;
    };
    expect(Object.keys(policy.properties)).toEqual(
      expect.arrayContaining(['layers', 'values', 'paths', 'agents', 'unrecorded']),
    );
    // One variant per policy field, each with its own value shape rather than "anything".
    const variants = policy.properties.values?.items?.oneOf ?? [];
    expect(variants).toHaveLength(24);
    for (const variant of variants) {
      expect(Object.keys(variant.properties.value as object).length).toBeGreaterThan(0);
    }
  });

  it('leaves the static panel out of the document', () => {
    expect(Object.keys(document.paths).filter((path) => path.startsWith('/panel'))).toEqual([]);
  });

  it('publishes the shared shapes as components, the error model with the closed code set', () => {
    const schemas = document.components.schemas;
    expect(Object.keys(schemas)).toEqual(
      expect.arrayContaining(['Error', 'Session', 'Run', 'Event', 'Token', 'Worker', 'Health']),
    );
    const error = schemas.Error as {
      properties: { code: { enum: string[] }; message: unknown; details: unknown };
    };
    expect(error.properties.code.enum.sort()).toEqual([...ALL_CODES].sort());
    expect(JSON.stringify(schemas.Token)).not.toMatch(/secret|hash/i);
    expect(Object.keys(schemas.ModelSpend?.properties ?? {})).toEqual([
      'calls',
      'inputTokens',
      'outputTokens',
      'cachedInputTokens',
      'costUsd',
    ]);
  });

  it('serves the interactive documentation at /docs without a token', async () => {
    const response = await fetch(`${api.url}/docs`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await response.text();
    expect(html).toMatch(/swagger/i);
  });
});
