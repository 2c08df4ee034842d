import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance } from 'fastify';
import {
  createJsonSchemaTransform,
  createJsonSchemaTransformObject,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import { AasError } from '../kernel/index.js';
import type { ApiApp, RouteContext } from './api-app.js';
import type { ApiDeps } from './api-deps.js';
import {
  clientErrorHandlerFor,
  invalidJson,
  MAX_PARAM_LENGTH,
  paramTooLong,
  replyWithError,
  sendError,
  unmatchedRoute,
} from './api-errors.js';
import { ApiMetrics } from './api-metrics.js';
import { apiSchemaRegistry } from './api-schemas.js';
import { authenticate, authorize } from './authenticate.js';
import { findBodyProblem } from './body-guard.js';
import { EventStreams } from './event-stream.js';
import { registerPanelRoutes } from './panel-routes.js';
import { registerPromotionRoutes } from './promotion-routes.js';
import { registerRunRoutes } from './runs-routes.js';
import { registerScheduleRoutes } from './schedule-routes.js';
import { SessionFeed } from './session-feed.js';
import { registerSessionRoutes } from './sessions-routes.js';
import { SharedTokenCheck } from './shared-token-check.js';
import { StreamSlots } from './stream-slots.js';
import { registerSystemRoutes } from './system-routes.js';
import { registerWorkerRoutes } from './worker-routes.js';

export const API_VERSION = '1';

/**
 * How long a request may take to arrive. The largest body is a remote worker's artifact upload
 * (33 MiB: a 32 MiB patch), which the worker itself gives 300 s to complete (its transfer
 * timeout): over a slow link that is legitimate, so the server allows exactly as long. Its
 * clock starts at the request's first byte, after the worker's, so the server never cuts off
 * an upload the worker is still waiting for; anything slower has been given up on by then.
 */
export const REQUEST_TIMEOUT_MS = 300_000;

/** How often Node looks for requests past their time (its default, 30 s, would add as much). */
const CONNECTIONS_CHECK_MS = 1_000;

/** How long the request line and headers may take: Node's default, kept. */
const HEADERS_TIMEOUT_MS = 60_000;

/**
 * Builds the HTTP API over the store and the control plane; the composition root listens.
 * Every route declares who may call it (`config.access`) and zod schemas for everything it
 * accepts and returns; the OpenAPI document at /openapi.json is generated from those schemas.
 */
export async function createApiServer(deps: ApiDeps): Promise<FastifyInstance> {
  const log = deps.log.child({ component: 'api' });
  const requestTimeout = deps.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
  const app = Fastify({
    // Requests are logged through deps.log in onResponse (its interface is not Fastify's).
    logger: false,
    bodyLimit: deps.bodyLimitBytes,
    // While closing, requests get this API's own 503 (below), not the framework's body.
    return503OnClosing: false,
    requestTimeout,
    http: {
      requestTimeout,
      // Node refuses a headers timeout longer than the request timeout; its default is 60 s.
      headersTimeout: Math.min(HEADERS_TIMEOUT_MS, requestTimeout),
      connectionsCheckingInterval: Math.min(CONNECTIONS_CHECK_MS, requestTimeout),
    },
    // A request that did not arrive in time reaches clientErrorHandler as
    // ERR_HTTP_REQUEST_TIMEOUT, and is answered 408 in the API's error model there.
    clientErrorHandler: clientErrorHandlerFor(requestTimeout),
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    frameworkErrors: (error, request, reply) => {
      const named =
        error.code === 'FST_ERR_MAX_PARAM_LENGTH'
          ? paramTooLong(app, request.method, request.url)
          : error;
      replyWithError(named, request, reply, log);
    },
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  // JSON only: a text/plain body is refused (415) instead of being handed to a JSON schema.
  app.removeContentTypeParser('text/plain');
  // Raw bytes for one route only: a remote worker's artifact upload (its route sets the limit;
  // a JSON route receiving bytes fails its schema with 400).
  app.addContentTypeParser(
    'application/octet-stream',
    { parseAs: 'buffer' },
    (_request, body, done) => done(null, body),
  );
  // Fastify's own JSON parser (its prototype-poisoning checks included), except that an empty
  // body is no body: `curl -X POST -H 'content-type: application/json' …/pause` sends one to a
  // route that takes none, and a route that needs one refuses it by its schema, naming it.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') done(null, undefined);
    else
      parseJson(request, text, (error, value) => {
        // Fastify's error says only that the JSON is invalid; the client is told where.
        if (error === null) done(null, value);
        else done(invalidJson(text));
      });
  });
  app.decorateRequest('identity', null);

  const streams = new EventStreams({
    store: deps.store,
    bus: deps.bus,
    log,
    pollMs: deps.streamPollMs,
    keepAliveMs: deps.streamKeepAliveMs,
  });
  const feed = new SessionFeed({
    store: deps.store,
    bus: deps.bus,
    log,
    keepAliveMs: deps.streamKeepAliveMs,
    ...(deps.feedRetryMs === undefined ? {} : { firstRetryMs: deps.feedRetryMs }),
  });
  const streamSlots: StreamSlots = new StreamSlots(deps.streamLimits, (limit) =>
    metrics.streamRefused(limit),
  );
  const metrics = new ApiMetrics(deps.store, deps.bus, () => streamSlots.size);
  const streamTokens = new SharedTokenCheck({
    store: deps.store,
    clock: deps.clock,
    // Streams keep alive at different moments: half the period still spares most lookups.
    maxAgeMs: Math.floor(deps.streamKeepAliveMs / 2),
  });
  const context: RouteContext = { deps, streams, feed, metrics, streamSlots, streamTokens };
  let closing = false;

  app.setErrorHandler((error, request, reply) => {
    if (reply.sent || reply.raw.headersSent) return;
    return replyWithError(error, request, reply, log);
  });
  app.setNotFoundHandler((request, reply) => {
    sendError(reply, unmatchedRoute(app, request.method, request.url));
  });

  app.addHook('onRequest', async () => {
    if (closing) {
      throw new AasError('SERVER_UNAVAILABLE', 'the server is shutting down', {
        hint: 'retry against another server or after the restart',
      });
    }
  });
  app.addHook('onSend', async (_request, reply) => {
    // Logs and patches are agent-produced text: a browser must never sniff them into HTML.
    reply.header('x-content-type-options', 'nosniff');
  });
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? '(unmatched)';
    const seconds = reply.elapsedTime / 1000;
    metrics.observeRequest(request.method, route, reply.statusCode, seconds);
    log.debug(
      {
        requestId: request.id,
        method: request.method,
        route,
        status: reply.statusCode,
        durationMs: Math.round(reply.elapsedTime),
        caller: request.identity?.name ?? null,
      },
      'request',
    );
  });
  app.addHook('preClose', async () => {
    closing = true;
    // Open event streams would hold their connections (and so the close) forever.
    await Promise.all([streams.closeAll(), feed.closeAll()]);
  });
  app.addHook('onClose', async () => {
    metrics.close();
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'AAS control plane',
        version: API_VERSION,
        description:
          'Submit jobs, follow sessions and runs, read patches and logs, cancel runs, manage ' +
          'tokens. Every error is `{code, message, details}` with a code from one closed table.',
      },
      components: {
        securitySchemes: {
          bearerAuth: {
            type: 'http',
            scheme: 'bearer',
            description: 'An AAS token secret (`aas_…`), issued by an administrator',
          },
        },
      },
    },
    transform: createJsonSchemaTransform({ schemaRegistry: apiSchemaRegistry }),
    transformObject: createJsonSchemaTransformObject({ schemaRegistry: apiSchemaRegistry }),
  });
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    // Like the panel: the API's documentation page may not be framed by another site.
    uiHooks: {
      onRequest: (_request, reply, done) => {
        reply.header('content-security-policy', "frame-ancestors 'none'");
        reply.header('x-frame-options', 'DENY');
        done();
      },
    },
  });

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  await app.register(async (api) => {
    const typed: ApiApp = api.withTypeProvider<ZodTypeProvider>();
    typed.addHook('onRoute', (route) => {
      if (route.config?.access === undefined) {
        throw new Error(`API route ${route.method} ${route.url} declares no access`);
      }
    });
    typed.addHook('onRequest', async (request) => {
      const access = request.routeOptions.config.access;
      if (access === 'public') return;
      if (access === undefined) throw new AasError('FORBIDDEN', 'this route is not available');
      const identity = await authenticate(deps.store, request.headers.authorization);
      authorize(identity, access);
      request.identity = identity;
    });
    typed.addHook('onRequest', async (request) => {
      // Nothing here decompresses: a gzip body would be parsed as JSON (or stored as an
      // artifact) as it is, and fail as something it is not.
      const encoding = request.headers['content-encoding'];
      if (encoding === undefined || encoding.trim().toLowerCase() === 'identity') return;
      throw new AasError(
        'MEDIA_TYPE_UNSUPPORTED',
        `this API accepts only uncompressed bodies, not Content-Encoding ${encoding.slice(0, 40)}`,
        {
          field: 'content-encoding',
          in: 'headers',
          hint: 'send the body uncompressed, without a Content-Encoding header',
        },
      );
    });
    typed.addHook('preValidation', async (request) => {
      // `?limit=1&limit=2` parses as an array, which a one-value parameter's schema then
      // refuses as a wrong type or value: said as what it is. Parameters that take several
      // values accept an array (an empty one too) and are left to their schema.
      const repeated = repeatedQueryParameter(
        request.query,
        request.routeOptions.schema?.querystring,
      );
      if (repeated !== null) {
        throw new AasError('REQUEST_INVALID', `give \`${repeated}\` once`, {
          field: repeated,
          in: 'query',
          hint: `the query names ${repeated} more than once; this parameter takes one value`,
        });
      }
      // Raw bytes (an artifact upload) are stored as bytes, never as text: walking a buffer as
      // an object would visit every byte (a 1 MiB upload took 1.2 s and 450 MB).
      if (request.body === undefined) {
        // An empty body where the route needs one: said as such, before its schema would.
        const schema: unknown = request.routeOptions.schema?.body;
        if (isZodType(schema) && !schema.safeParse(undefined).success) {
          throw new AasError(
            'REQUEST_INVALID',
            'the body is empty; this route takes a JSON object',
            {
              field: '(body)',
              in: 'body',
              hint: 'see the route in the API document (GET /api/v1/openapi.json)',
            },
          );
        }
        return;
      }
      if (ArrayBuffer.isView(request.body)) return;
      // A route without a body schema takes none: what a client sends it would be ignored
      // silently (an empty object, or null, stands for no body).
      if (request.routeOptions.schema?.body === undefined && !isNoBody(request.body)) {
        throw new AasError('REQUEST_INVALID', 'this route takes no body', {
          field: '(body)',
          in: 'body',
          hint: 'send no body, or {}',
        });
      }
      const problem = findBodyProblem(request.body);
      if (problem === null) return;
      const code = request.routeOptions.config.jobBody === true ? 'JOB_INVALID' : 'REQUEST_INVALID';
      throw new AasError(code, problem.message, { field: problem.field, in: 'body' });
    });
    registerSessionRoutes(typed, context);
    registerRunRoutes(typed, context);
    registerPromotionRoutes(typed, context);
    registerScheduleRoutes(typed, context);
    registerSystemRoutes(typed, context);
    registerWorkerRoutes(typed, context);
  });
  // Outside the API's scope: the static panel needs no token and is not in the OpenAPI document.
  await registerPanelRoutes(app, deps.panelDir);

  await app.ready();
  return app;
}

/** The first query parameter given more than once that takes one value, or null. */
function repeatedQueryParameter(query: unknown, schema: unknown): string | null {
  if (typeof query !== 'object' || query === null) return null;
  const shape: unknown =
    typeof schema === 'object' && schema !== null ? (schema as { shape?: unknown }).shape : null;
  if (typeof shape !== 'object' || shape === null) return null;
  for (const [key, value] of Object.entries(query)) {
    if (!Array.isArray(value) || !Object.hasOwn(shape, key)) continue;
    const field: unknown = (shape as Record<string, unknown>)[key];
    if (isZodType(field) && !field.safeParse([]).success) return key;
  }
  return null;
}

/** A body that says nothing: `{}` or `null`. */
function isNoBody(body: unknown): boolean {
  return (
    body === null ||
    (typeof body === 'object' && !Array.isArray(body) && Object.keys(body).length === 0)
  );
}

function isZodType(value: unknown): value is { safeParse(input: unknown): { success: boolean } } {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { safeParse?: unknown }).safeParse === 'function'
  );
}
