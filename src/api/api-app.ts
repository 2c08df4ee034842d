import type {
  FastifyBaseLogger,
  FastifyInstance,
  FastifyRequest,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { AasError } from '../kernel/index.js';
import type { ApiDeps, Identity } from './api-deps.js';
import type { ApiMetrics } from './api-metrics.js';
import type { EventStreams } from './event-stream.js';
import type { RouteAccess } from './permissions.js';
import type { SessionFeed } from './session-feed.js';
import type { SharedTokenCheck } from './shared-token-check.js';
import type { StreamSlots } from './stream-slots.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call the route: a permission, or `public`. Every API route must say. */
    access?: RouteAccess;
    /** The body is a JobSpec: its validation errors are JOB_INVALID, as on the command line. */
    jobBody?: boolean;
  }
  interface FastifyRequest {
    /** The authenticated caller; null on public routes. */
    identity: Identity | null;
  }
}

/** The server as route modules see it: zod schemas type params, query, body and replies. */
export type ApiApp = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  ZodTypeProvider
>;

export interface RouteContext {
  readonly deps: ApiDeps;
  readonly streams: EventStreams;
  /** The live feed of session status changes (`GET /stream`). */
  readonly feed: SessionFeed;
  readonly metrics: ApiMetrics;
  /** The SSE streams open, against the limits. */
  readonly streamSlots: StreamSlots;
  /** Whether a stream's token still holds, one lookup per token for all its streams. */
  readonly streamTokens: SharedTokenCheck;
}

export const API_PREFIX = '/api/v1';

/** The security requirement of a route in the OpenAPI document. */
export const BEARER_SECURITY = [{ bearerAuth: [] }] as const;
export const NO_SECURITY = [] as const;

export function identityOf(request: FastifyRequest): Identity {
  if (request.identity === null) {
    // Only a public route has no caller, and no public route asks for one.
    throw new AasError('INTERNAL', 'the route ran without an authenticated identity');
  }
  return request.identity;
}
