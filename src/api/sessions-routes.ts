import { z } from 'zod';
import { AasError, IdPrefix, isValidId } from '../kernel/index.js';
import { auditSession } from '../promotion/index.js';
import { canonicalRepoPath, JobSpecSchema } from '../runner/index.js';
import { NO_MODEL_SPEND } from '../store/index.js';
import {
  API_PREFIX,
  type ApiApp,
  BEARER_SECURITY,
  identityOf,
  type RouteContext,
} from './api-app.js';
import {
  ErrorBodySchema,
  EventSchema,
  ListSessionsQuerySchema,
  NoQuerySchema,
  ReadEventsQuerySchema,
  RunSchema,
  SessionListItemSchema,
  SessionParamsSchema,
  SessionSchema,
  SessionSpendSchema,
  SessionVerificationSchema,
  StreamEventsHeadersSchema,
  StreamEventsQuerySchema,
  SubmittedJobSchema,
} from './api-schemas.js';
import { READ_ERRORS } from './route-errors.js';

/**
 * Opaque page cursor: base64url of the last session id of the page. Only the exact encoding of
 * a valid session id is accepted, so a cursor cannot smuggle anything into the query.
 */
export function encodeCursor(sessionId: string): string {
  return Buffer.from(sessionId, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): string {
  const decoded = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!isValidId(decoded, IdPrefix.session) || encodeCursor(decoded) !== cursor) {
    throw new AasError('REQUEST_INVALID', 'the cursor is not one this server issued', {
      field: 'cursor',
      in: 'query',
      hint: 'pass nextCursor from the previous page unchanged',
    });
  }
  return decoded;
}

async function requireSession(context: RouteContext, id: string) {
  const session = await context.deps.store.getSession(id);
  if (session === null) throw new AasError('NOT_FOUND', `no session ${id}`, { field: 'id' });
  return session;
}

/** What both stream routes say of the stream limits (StreamSlots). */
const STREAM_LIMITS_TEXT =
  'A token may hold `AAS_MAX_STREAMS_PER_TOKEN` streams open at once (50 by default) and the ' +
  'server `AAS_MAX_STREAMS` (500), counting both kinds: another is `429 TOO_MANY_STREAMS`. ' +
  "A revoked token's streams end within a keep-alive and a half.";

export function registerSessionRoutes(app: ApiApp, context: RouteContext): void {
  const { store, controlPlane } = context.deps;

  app.route({
    method: 'POST',
    url: `${API_PREFIX}/sessions`,
    config: { access: 'submit', jobBody: true },
    schema: {
      summary: 'Submit a job: records a session with one queued run',
      tags: ['sessions'],
      operationId: 'submitJob',
      security: BEARER_SECURITY,
      querystring: NoQuerySchema,
      body: JobSpecSchema,
      response: {
        201: SubmittedJobSchema,
        ...READ_ERRORS,
        409: ErrorBodySchema,
        413: ErrorBodySchema,
        415: ErrorBodySchema,
      },
    },
    handler: async (request, reply) => {
      if (!controlPlane.accepting()) {
        throw new AasError(
          'SERVER_UNAVAILABLE',
          'the server is shutting down and accepts no jobs',
          {
            hint: 'submit again to another server or after the restart',
          },
        );
      }
      const submitted = await controlPlane.submitJob(request.body, identityOf(request));
      return reply.code(201).send(submitted);
    },
  });

  app.route({
    method: 'GET',
    url: `${API_PREFIX}/sessions`,
    config: { access: 'read' },
    schema: {
      summary: 'List sessions, newest first, each with its latest run',
      tags: ['sessions'],
      operationId: 'listSessions',
      security: BEARER_SECURITY,
      querystring: ListSessionsQuerySchema,
      response: {
        200: z.object({
          items: z.array(SessionListItemSchema),
          nextCursor: z.string().nullable(),
        }),
        ...READ_ERRORS,
      },
    },
    handler: async (request) => {
      const query = request.query;
      const beforeId = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
      const rows = await store.listSessions({
        ...(query.status === undefined ? {} : { status: query.status }),
        // Spelled as submissions record it: a trailing slash, a subdirectory, a symlink find it.
        ...(query.repo === undefined ? {} : { repo: canonicalRepoPath(query.repo) }),
        ...(query.agent === undefined ? {} : { agent: query.agent }),
        ...(query.label === undefined ? {} : { label: query.label }),
        ...(query.requester === undefined ? {} : { requestedBy: query.requester }),
        ...(query.q === undefined ? {} : { q: query.q }),
        ...(beforeId === undefined ? {} : { beforeId }),
        // One more than asked: whether a next page exists without a second query.
        limit: query.limit + 1,
      });
      const items = rows.slice(0, query.limit);
      const last = items.at(-1);
      const nextCursor = rows.length > query.limit && last ? encodeCursor(last.id) : null;
      return { items, nextCursor };
    },
  });

  app.route({
    method: 'GET',
    url: `${API_PREFIX}/sessions/:id`,
    config: { access: 'read' },
    schema: {
      summary: 'A session with its runs and their model spend',
      tags: ['sessions'],
      operationId: 'getSession',
      security: BEARER_SECURITY,
      querystring: NoQuerySchema,
      params: SessionParamsSchema,
      response: {
        200: z.object({
          session: SessionSchema,
          runs: z.array(RunSchema),
          spend: SessionSpendSchema,
        }),
        ...READ_ERRORS,
        404: ErrorBodySchema,
      },
    },
    handler: async (request) => {
      const session = await requireSession(context, request.params.id);
      const runs = await store.listRunsForSession(session.id);
      const [total, ...byRun] = await Promise.all([
        store.modelSpend({ sessionId: session.id }),
        ...runs.map((run) => store.modelSpend({ runId: run.id })),
      ]);
      const spend = {
        total: total ?? NO_MODEL_SPEND,
        runs: runs.map((run, index) => ({ runId: run.id, spend: byRun[index] ?? NO_MODEL_SPEND })),
      };
      return { session, runs, spend };
    },
  });

  app.route({
    method: 'GET',
    url: `${API_PREFIX}/sessions/:id/verify`,
    config: { access: 'read' },
    schema: {
      summary: "Recompute the session's hash chain and report where it breaks",
      description:
        'What `aas audit verify <id>` checks: every event hashes to its recorded hash, links ' +
        'to the previous one, seqs run without a gap, and the chain ends at the head the ' +
        'session row records; then that the tables agree with the events (`disagreements`). ' +
        'A broken chain or a disagreement is `ok: false` (200), not an error.',
      tags: ['sessions'],
      operationId: 'verifySession',
      security: BEARER_SECURITY,
      querystring: NoQuerySchema,
      params: SessionParamsSchema,
      response: { 200: SessionVerificationSchema, ...READ_ERRORS, 404: ErrorBodySchema },
    },
    handler: async (request) => {
      const session = await requireSession(context, request.params.id);
      const audit = await auditSession(store, session.id);
      if (audit === null)
        throw new AasError('NOT_FOUND', `no session ${session.id}`, { field: 'id' });
      const problem = audit.firstProblem;
      return {
        sessionId: session.id,
        ok: audit.ok,
        disagreements: [...audit.disagreements],
        tablesChecked: audit.tablesChecked,
        events: audit.eventCount,
        firstBrokenSeq: problem?.seq ?? null,
        kind: problem?.kind ?? null,
        reason: problem?.detail ?? null,
        lastHash: audit.lastHash,
      };
    },
  });

  app.route({
    method: 'GET',
    url: `${API_PREFIX}/sessions/:id/events`,
    config: { access: 'read' },
    schema: {
      summary: "A page of a session's events, by ascending seq",
      tags: ['sessions'],
      operationId: 'readEvents',
      security: BEARER_SECURITY,
      params: SessionParamsSchema,
      querystring: ReadEventsQuerySchema,
      response: {
        200: z.object({
          items: z.array(EventSchema),
          nextAfter: z
            .number()
            .int()
            .nullable()
            .describe('`after` of the next page; null at the end'),
        }),
        ...READ_ERRORS,
        404: ErrorBodySchema,
      },
    },
    handler: async (request) => {
      const session = await requireSession(context, request.params.id);
      const { after, limit } = request.query;
      const rows = await store.readEvents(session.id, { afterSeq: after, limit: limit + 1 });
      const items = rows.slice(0, limit);
      const last = items.at(-1);
      return { items, nextAfter: rows.length > limit && last ? last.seq : null };
    },
  });

  app.route({
    method: 'GET',
    url: `${API_PREFIX}/sessions/:id/events/stream`,
    // A HEAD request would open a stream with no body to carry it.
    exposeHeadRoute: false,
    config: { access: 'read' },
    schema: {
      summary: "Follow a session's events as Server-Sent Events",
      description:
        'Replays the stored events after `Last-Event-ID` (or `after`), then follows new ones. ' +
        'Each frame is `id: <seq>`, `event: <type>`, `data: <event JSON>`; comments keep the ' +
        'connection alive. Reconnecting with the last id received continues without a gap or a ' +
        'duplicate. ' +
        STREAM_LIMITS_TEXT,
      tags: ['sessions'],
      operationId: 'streamEvents',
      security: BEARER_SECURITY,
      params: SessionParamsSchema,
      querystring: StreamEventsQuerySchema,
      headers: StreamEventsHeadersSchema,
      response: {
        200: {
          description: 'An event stream',
          content: { 'text/event-stream': { schema: z.string() } },
        },
        ...READ_ERRORS,
        404: ErrorBodySchema,
        429: ErrorBodySchema,
      },
    },
    handler: async (request, reply) => {
      const session = await requireSession(context, request.params.id);
      const header = request.headers['last-event-id'];
      const afterSeq = header === undefined ? (request.query.after ?? 0) : Number(header);
      if (context.streams.closed) {
        throw new AasError('SERVER_UNAVAILABLE', 'the server is shutting down', {
          hint: 'reconnect with Last-Event-ID to another server or after the restart',
        });
      }
      context.streamSlots.hold(identityOf(request).tokenId, reply.raw);
      // From here the stream writes the response itself, and the server's close ends it.
      reply.hijack();
      context.streams.start(
        reply.raw,
        session.id,
        afterSeq,
        context.streamTokens.forHeader(request.headers.authorization),
      );
    },
  });

  app.route({
    method: 'GET',
    url: `${API_PREFIX}/stream`,
    // A HEAD request would open a stream with no body to carry it.
    exposeHeadRoute: false,
    config: { access: 'read' },
    schema: {
      summary: "Follow changes to any session's status as Server-Sent Events",
      description:
        'One `event: session` frame per status change (queued, running, ready_for_promotion, …) ' +
        'of any session, its `data` the session as `GET /sessions` lists it (SessionListItem); ' +
        'comments keep the connection alive. Changes committed by this server and, on ' +
        'PostgreSQL, those other servers sharing the database commit (relayed through ' +
        'LISTEN/NOTIFY) are carried; quick successive changes may arrive as one frame with the ' +
        'latest state, and nothing is replayed: load the list, then apply the frames, and load ' +
        'it again after reconnecting. An `event: resync` frame (data `{}`) says that this ' +
        'server may have missed changes (its link to the other servers was cut, or a read ' +
        'failed): load the list again. ' +
        STREAM_LIMITS_TEXT,
      tags: ['sessions'],
      operationId: 'streamSessions',
      security: BEARER_SECURITY,
      querystring: NoQuerySchema,
      response: {
        200: {
          description: 'An event stream of SessionListItem frames and resync frames',
          content: { 'text/event-stream': { schema: z.string() } },
        },
        ...READ_ERRORS,
        429: ErrorBodySchema,
      },
    },
    handler: async (request, reply) => {
      if (context.feed.closed) {
        throw new AasError('SERVER_UNAVAILABLE', 'the server is shutting down', {
          hint: 'reconnect to another server or after the restart, then reload the list',
        });
      }
      context.streamSlots.hold(identityOf(request).tokenId, reply.raw);
      reply.hijack();
      context.feed.start(reply.raw, context.streamTokens.forHeader(request.headers.authorization));
    },
  });
}
