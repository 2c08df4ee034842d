import { Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { AasError } from '../kernel/index.js';
import {
  API_PREFIX,
  type ApiApp,
  BEARER_SECURITY,
  identityOf,
  type RouteContext,
} from './api-app.js';
import {
  AttemptSchema,
  ErrorBodySchema,
  ModelSpendSchema,
  NoQuerySchema,
  RunLogParamsSchema,
  RunParamsSchema,
  RunPolicyQuerySchema,
  RunPolicySchema,
  RunSchema,
} from './api-schemas.js';
import { requireRun } from './require-run.js';
import { READ_ERRORS } from './route-errors.js';
import { listRunLogs, openPatch, openRunLog, parseLogName } from './run-files.js';
import { explainRunPolicy } from './run-policy.js';

/**
 * Files are streamed, never read whole. The route's typed reply knows only the documented
 * body shapes (a string for the file); a stream is what carries that string.
 */
function sendStream(reply: FastifyReply, contentType: string, body: Readable): FastifyReply {
  return reply.type(contentType).send(body);
}

export function registerRunRoutes(app: ApiApp, context: RouteContext): void {
  const { store, controlPlane, paths, log } = context.deps;

  app.route({
    method: 'GET',
    url: `${API_PREFIX}/runs/:id`,
    config: { access: 'read' },
    schema: {
      summary: 'A run with its attempts, its model spend and the names of its logs',
      tags: ['runs'],
      operationId: 'getRun',
      security: BEARER_SECURITY,
      querystring: NoQuerySchema,
      params: RunParamsSchema,
      response: {
        200: z.object({
          run: RunSchema,
          attempts: z.array(AttemptSchema),
          spend: ModelSpendSchema,
          logs: z.array(z.string()).describe('names for GET /runs/{id}/logs/{name}'),
        }),
        ...READ_ERRORS,
        404: ErrorBodySchema,
      },
    },
    handler: async (request) => {
      const run = await requireRun(store, request.params.id);
      const [attempts, spend] = await Promise.all([
        store.listAttempts(run.id),
        store.modelSpend({ runId: run.id }),
      ]);
      const logs = await listRunLogs(
        paths.runs,
        run.id,
        attempts,
        await store.listRunArtifacts(run.id),
      );
      return { run, attempts, spend, logs };
    },
  });

  app.route({
    method: 'GET',
    url: `${API_PREFIX}/runs/:id/patch`,
    config: { access: 'read' },
    schema: {
      summary: "The run's patch (git diff format)",
      tags: ['runs'],
      operationId: 'getRunPatch',
      security: BEARER_SECURITY,
      querystring: NoQuerySchema,
      params: RunParamsSchema,
      response: {
        200: { description: 'The patch', content: { 'text/x-diff': { schema: z.string() } } },
        ...READ_ERRORS,
        404: ErrorBodySchema,
      },
    },
    handler: async (request, reply) => {
      const run = await requireRun(store, request.params.id);
      if (run.patchSha256 === null) {
        throw new AasError('NOT_FOUND', `run ${run.id} has no patch`, {
          hint: 'only a run whose agent changed something and passed the patch gates has one',
        });
      }
      reply.header('content-disposition', `inline; filename="${run.id}.patch"`);
      // This host's copy when it ran the attempt; else the one every replica reads.
      const handle = await openPatch(paths.artifacts, run.patchSha256);
      if (handle !== null) {
        return sendStream(reply, 'text/x-diff; charset=utf-8', handle.createReadStream());
      }
      const stored = await store.getRunArtifact(run.id, 'patch');
      if (stored === null || stored.artifact.sha256 !== run.patchSha256) {
        throw new AasError('NOT_FOUND', `the patch of run ${run.id} is no longer stored`, {
          sha256: run.patchSha256,
        });
      }
      return sendStream(reply, 'text/x-diff; charset=utf-8', Readable.from(stored.content));
    },
  });

  app.route({
    method: 'GET',
    url: `${API_PREFIX}/runs/:id/logs/:name`,
    config: { access: 'read' },
    schema: {
      summary: "One of the run's logs: agent output or a validator's output",
      tags: ['runs'],
      operationId: 'getRunLog',
      security: BEARER_SECURITY,
      querystring: NoQuerySchema,
      params: RunLogParamsSchema,
      response: {
        200: { description: 'The log', content: { 'text/plain': { schema: z.string() } } },
        ...READ_ERRORS,
        404: ErrorBodySchema,
      },
    },
    handler: async (request, reply) => {
      const { id, name } = request.params;
      const location = parseLogName(name);
      if (location === null) {
        throw new AasError('REQUEST_INVALID', `"${name}" is not a log name`, { field: 'name' });
      }
      const run = await requireRun(store, id);
      const attempts = await store.listAttempts(run.id);
      const notFound = new AasError('NOT_FOUND', `run ${run.id} has no log ${name}`, {
        field: 'name',
        hint: 'GET /runs/{id} lists the logs that exist',
      });
      if (!attempts.some((attempt) => attempt.number === location.attempt)) throw notFound;
      // The whole log where this host ran the attempt; else its tail, which every replica reads.
      const handle = await openRunLog(paths.runs, run.id, location);
      if (handle !== null) {
        return sendStream(reply, 'text/plain; charset=utf-8', handle.createReadStream());
      }
      const stored = await store.getRunArtifact(run.id, name);
      if (stored === null) throw notFound;
      if (stored.artifact.originalBytes > stored.artifact.bytes) {
        reply.header('x-aas-log-truncated', String(stored.artifact.originalBytes));
      }
      return sendStream(reply, 'text/plain; charset=utf-8', Readable.from(stored.content));
    },
  });

  app.route({
    method: 'GET',
    url: `${API_PREFIX}/runs/:id/policy`,
    config: { access: 'read' },
    schema: {
      summary: "The run's effective policy, explained, with a verdict for each given path",
      description:
        'Read from the `policy.resolved` event the runner recorded when it started the agent ' +
        '(with fallbacks, the latest agent’s), so it is the policy the run was judged under, ' +
        'whatever the policy files say now. Each value names the layers that decided it; each ' +
        '`path` gets the verdict a patch touching it would get. A run whose policy is not ' +
        'resolved yet (queued) is NOT_FOUND with a hint.',
      tags: ['runs'],
      operationId: 'getRunPolicy',
      security: BEARER_SECURITY,
      querystring: RunPolicyQuerySchema,
      params: RunParamsSchema,
      response: { 200: RunPolicySchema, ...READ_ERRORS, 404: ErrorBodySchema },
    },
    handler: async (request) => {
      const run = await requireRun(store, request.params.id);
      const { path } = request.query;
      const asked = path === undefined ? [] : typeof path === 'string' ? [path] : path;
      return explainRunPolicy(store, log, run, asked);
    },
  });

  app.route({
    method: 'POST',
    url: `${API_PREFIX}/runs/:id/cancel`,
    config: { access: 'cancel' },
    schema: {
      summary: 'Cancel a run',
      description:
        'A queued run is cancelled at once (`cancelled`); a running one is told to stop through ' +
        'its heartbeat (`cancel_requested`). A finished run is CONFLICT.',
      tags: ['runs'],
      operationId: 'cancelRun',
      security: BEARER_SECURITY,
      querystring: NoQuerySchema,
      params: RunParamsSchema,
      response: {
        202: z.object({
          runId: z.string(),
          outcome: z.enum(['cancelled', 'cancel_requested']),
          status: RunSchema.shape.status,
        }),
        ...READ_ERRORS,
        404: ErrorBodySchema,
        409: ErrorBodySchema,
        415: ErrorBodySchema,
      },
    },
    handler: async (request, reply) => {
      const { run, outcome } = await controlPlane.cancelRun(request.params.id, identityOf(request));
      return reply.code(202).send({ runId: run.id, outcome, status: run.status });
    },
  });
}
