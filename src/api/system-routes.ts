import { z } from 'zod';
import { type Code, normaliseError } from '../kernel/index.js';
import {
  API_PREFIX,
  type ApiApp,
  BEARER_SECURITY,
  identityOf,
  NO_SECURITY,
  type RouteContext,
} from './api-app.js';
import {
  CreateTokenBodySchema,
  ErrorBodySchema,
  HealthSchema,
  IdentitySchema,
  NoQuerySchema,
  TokenRefParamsSchema,
  TokenSchema,
} from './api-schemas.js';
import { namingNotFound, READ_ERRORS } from './route-errors.js';
import { issueToken } from './tokens.js';

export function registerSystemRoutes(app: ApiApp, context: RouteContext): void {
  const { store, clock, controlPlane, log } = context.deps;

  app.route({
    method: 'GET',
    url: `${API_PREFIX}/whoami`,
    config: { access: 'read' },
    schema: {
      summary: 'The identity of the calling token',
      tags: ['system'],
      operationId: 'whoami',
      security: BEARER_SECURITY,
      querystring: NoQuerySchema,
      response: { 200: IdentitySchema, ...READ_ERRORS },
    },
    handler: async (request) => identityOf(request),
  });

  app.route({
    method: 'POST',
    url: `${API_PREFIX}/tokens`,
    config: { access: 'tokens' },
    schema: {
      summary: 'Issue a token; its secret is in this response only',
      tags: ['tokens'],
      operationId: 'createToken',
      security: BEARER_SECURITY,
      querystring: NoQuerySchema,
      body: CreateTokenBodySchema,
      response: {
        201: z.object({
          token: TokenSchema,
          secret: z.string().describe('send as "Authorization: Bearer <secret>"; shown once'),
        }),
        ...READ_ERRORS,
        409: ErrorBodySchema,
        413: ErrorBodySchema,
        415: ErrorBodySchema,
      },
    },
    handler: async (request, reply) => {
      const issued = await issueToken(store, clock, {
        name: request.body.name,
        role: request.body.role,
        createdBy: identityOf(request).name,
      });
      log.info(
        { tokenId: issued.token.id, name: issued.token.name, role: issued.token.role },
        'token issued',
      );
      return reply.code(201).send(issued);
    },
  });

  app.route({
    method: 'GET',
    url: `${API_PREFIX}/tokens`,
    config: { access: 'tokens' },
    schema: {
      summary: 'Every token, revoked ones included (never a secret or its hash)',
      tags: ['tokens'],
      operationId: 'listTokens',
      security: BEARER_SECURITY,
      querystring: NoQuerySchema,
      response: { 200: z.object({ items: z.array(TokenSchema) }), ...READ_ERRORS },
    },
    handler: async () => ({ items: await store.listTokens() }),
  });

  app.route({
    method: 'DELETE',
    url: `${API_PREFIX}/tokens/:idOrName`,
    config: { access: 'tokens' },
    schema: {
      summary: 'Revoke a token; it stops working on its next request',
      tags: ['tokens'],
      operationId: 'revokeToken',
      security: BEARER_SECURITY,
      querystring: NoQuerySchema,
      params: TokenRefParamsSchema,
      response: { 200: TokenSchema, ...READ_ERRORS, 404: ErrorBodySchema },
    },
    handler: async (request) => {
      const token = await namingNotFound(
        store.revokeToken(request.params.idOrName, clock.nowIso()),
        'idOrName',
        'GET /api/v1/tokens (aas token list) lists the tokens by id and name',
      );
      log.info(
        { tokenId: token.id, name: token.name, by: identityOf(request).name },
        'token revoked',
      );
      return token;
    },
  });

  app.route({
    method: 'GET',
    url: `${API_PREFIX}/health`,
    config: { access: 'public' },
    schema: {
      summary: 'Liveness and readiness: 200 when the database answers, 503 otherwise',
      tags: ['system'],
      operationId: 'health',
      security: NO_SECURITY,
      querystring: NoQuerySchema,
      response: { 200: HealthSchema, 503: HealthSchema, 500: ErrorBodySchema },
    },
    handler: async (_request, reply) => {
      const workers = controlPlane.workers();
      const workerCounts = {
        total: workers.length,
        busy: workers.filter((worker) => worker.state === 'busy').length,
        draining: workers.filter((worker) => worker.state === 'draining').length,
      };
      let failure: Code | null = null;
      try {
        await store.countTokens();
      } catch (error) {
        const normalised = normaliseError(error, 'STORE_UNAVAILABLE');
        failure = normalised.code;
        log.warn({ err: error, code: failure }, 'health check: the database did not answer');
      }
      // The public answer names the code only: connection details stay in the log.
      const database =
        failure === null
          ? { ok: true, dialect: store.dialect }
          : { ok: false, dialect: store.dialect, error: failure };
      return reply
        .code(failure === null ? 200 : 503)
        .send({ status: failure === null ? 'ok' : 'degraded', database, workers: workerCounts });
    },
  });

  app.route({
    method: 'GET',
    url: `${API_PREFIX}/metrics`,
    config: { access: 'read' },
    schema: {
      summary: 'Prometheus metrics',
      tags: ['system'],
      operationId: 'metrics',
      security: BEARER_SECURITY,
      querystring: NoQuerySchema,
      response: {
        200: {
          description: 'Prometheus text exposition format',
          content: { 'text/plain': { schema: z.string() } },
        },
        ...READ_ERRORS,
      },
    },
    handler: async (_request, reply) => {
      const { contentType, text } = await context.metrics.scrape();
      return reply.type(contentType).send(text);
    },
  });
}
