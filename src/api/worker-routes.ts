import { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { AasError, IdPrefix, newId } from '../kernel/index.js';
import type { RemoteWorkerRecord } from '../store/index.js';
import {
  API_PREFIX,
  type ApiApp,
  BEARER_SECURITY,
  identityOf,
  NO_SECURITY,
  type RouteContext,
} from './api-app.js';
import {
  ArtifactHeadersSchema,
  ArtifactParamsSchema,
  BasePackQuerySchema,
  ClaimBodySchema,
  CreateEnrolmentBodySchema,
  EnrolmentNameParamsSchema,
  ErrorBodySchema,
  HeartbeatBodySchema,
  HeartbeatReplySchema,
  LeaseOpBodySchema,
  LeaseOpReplySchema,
  NoQuerySchema,
  RegisterWorkerBodySchema,
  RemoteWorkerSchema,
  ReportBodySchema,
  RunParamsSchema,
  WorkerEnrolmentSchema,
  WorkerLeaseSchema,
  WorkerRefParamsSchema,
  WorkerSchema,
} from './api-schemas.js';
import { namingNotFound, READ_ERRORS } from './route-errors.js';
import { hashTokenSecret } from './tokens.js';
import {
  enrolWorker,
  isEnrolmentSecretFormat,
  newWorkerCredential,
  revokeWorker,
  withdrawEnrolments,
} from './worker-secrets.js';
import {
  embeddedWorkerState,
  leasesOf,
  remoteWorkerState,
  WORKER_STALE_AFTER_MS,
} from './worker-state.js';

/** Bytes under a content type the route's schema documents (the typed reply expects JSON). */
function sendBytes(reply: FastifyReply, contentType: string, body: Readable): FastifyReply {
  return reply.type(contentType).send(body);
}

const BODY_ERRORS = { 413: ErrorBodySchema, 415: ErrorBodySchema } as const;

const WORKER_LIST_HINT = 'GET /api/v1/workers (aas workers) lists the workers by id and name';

/**
 * Remote workers: enrolment (admin) → registration (the one-time secret buys a credential) →
 * long-poll claims, heartbeats and fenced reports under that credential; revocation ends it.
 */
export function registerWorkerRoutes(app: ApiApp, context: RouteContext): void {
  const { store, clock, controlPlane, log, workerGateway } = context.deps;

  /** The worker bound to the calling credential; a plain `worker`-role token has none. */
  async function callingWorker(request: FastifyRequest): Promise<RemoteWorkerRecord> {
    const identity = identityOf(request);
    const worker =
      identity.workerId === undefined ? null : await store.getWorker(identity.workerId);
    if (worker === null) {
      throw new AasError('FORBIDDEN', 'this route needs a remote worker credential', {
        hint: 'register with an enrolment secret: aas worker enrol --name <name>',
      });
    }
    return worker;
  }

  app.route({
    method: 'GET',
    url: `${API_PREFIX}/workers`,
    config: { access: 'workers:read' },
    schema: {
      summary: 'Embedded workers of this server and enrolled remote workers, with their state',
      description: `Remote workers are stale after ${WORKER_STALE_AFTER_MS / 1000} s without a claim or heartbeat, offline after 5 min.`,
      tags: ['workers'],
      operationId: 'listWorkers',
      security: BEARER_SECURITY,
      querystring: NoQuerySchema,
      response: { 200: z.object({ items: z.array(WorkerSchema) }), ...READ_ERRORS },
    },
    handler: async () => {
      const [remote, leases] = await Promise.all([store.listWorkers(), store.listRunningLeases()]);
      const nowMs = clock.nowMs();
      const embedded = controlPlane.workers().map((worker) => ({
        id: worker.id,
        kind: 'embedded' as const,
        name: worker.id,
        state: embeddedWorkerState(worker.state),
        labels: worker.labels,
        capabilities: null,
        runId: worker.runId,
        runIds: worker.runId === null ? [] : [worker.runId],
        fencingToken: worker.fencingToken,
        leaseExpiresAt: worker.leaseExpiresAt,
        lastHeartbeatAt: worker.lastHeartbeatAt,
        // It is part of the process answering: seen now.
        lastSeenAt: new Date(nowMs).toISOString(),
        enrolledAt: null,
        revokedAt: null,
        drainRequested: false,
      }));
      const remoteItems = remote.map((worker) => {
        const held = leasesOf(leases, worker.id);
        const first = held[0];
        return {
          id: worker.id,
          kind: 'remote' as const,
          name: worker.name,
          state: remoteWorkerState(worker, held.length > 0, nowMs),
          labels: worker.labels,
          capabilities: worker.capabilities,
          runId: first?.runId ?? null,
          runIds: held.map((lease) => lease.runId),
          fencingToken: first?.fencingToken ?? null,
          leaseExpiresAt: first?.leaseExpiresAt ?? null,
          lastHeartbeatAt: worker.lastSeenAt,
          lastSeenAt: worker.lastSeenAt,
          enrolledAt: worker.enrolledAt,
          revokedAt: worker.revokedAt,
          drainRequested: worker.draining,
        };
      });
      return { items: [...embedded, ...remoteItems] };
    },
  });

  app.route({
    method: 'POST',
    url: `${API_PREFIX}/workers/enrolments`,
    config: { access: 'workers:enrol' },
    schema: {
      summary:
        'Create a one-time enrolment secret for a remote worker; shown in this response only',
      tags: ['workers'],
      operationId: 'createWorkerEnrolment',
      security: BEARER_SECURITY,
      querystring: NoQuerySchema,
      body: CreateEnrolmentBodySchema,
      response: {
        201: z.object({
          enrolment: WorkerEnrolmentSchema,
          secret: z.string().describe('give to `aas worker --token`; one use, shown once'),
        }),
        ...READ_ERRORS,
        409: ErrorBodySchema,
        ...BODY_ERRORS,
      },
    },
    handler: async (request, reply) => {
      const { enrolment, secret } = await enrolWorker(store, clock, {
        name: request.body.name,
        labels: request.body.labels,
        ttlSec: request.body.ttlSec,
        createdBy: identityOf(request).name,
      });
      log.info(
        { enrolmentId: enrolment.id, name: enrolment.name, by: identityOf(request).name },
        'worker enrolment created',
      );
      return reply.code(201).send({ enrolment, secret });
    },
  });

  app.route({
    method: 'GET',
    url: `${API_PREFIX}/workers/enrolments`,
    config: { access: 'workers:enrol' },
    schema: {
      summary: 'List the enrolments not used yet and not expired: secrets that still register',
      tags: ['workers'],
      operationId: 'listWorkerEnrolments',
      security: BEARER_SECURITY,
      querystring: NoQuerySchema,
      response: { 200: z.object({ items: z.array(WorkerEnrolmentSchema) }), ...READ_ERRORS },
    },
    handler: async () => ({ items: await store.listPendingEnrolments(clock.nowIso()) }),
  });

  app.route({
    method: 'DELETE',
    url: `${API_PREFIX}/workers/enrolments/:name`,
    config: { access: 'workers:enrol' },
    schema: {
      summary:
        'Withdraw the unused enrolments of a worker name: their secrets no longer register (404 when there is none)',
      tags: ['workers'],
      operationId: 'withdrawWorkerEnrolments',
      security: BEARER_SECURITY,
      querystring: NoQuerySchema,
      params: EnrolmentNameParamsSchema,
      response: {
        200: z.object({ withdrawn: z.array(WorkerEnrolmentSchema) }),
        ...READ_ERRORS,
        404: ErrorBodySchema,
      },
    },
    handler: async (request) => {
      const withdrawn = await withdrawEnrolments(store, clock, request.params.name);
      log.info(
        { name: request.params.name, count: withdrawn.length, by: identityOf(request).name },
        'worker enrolments withdrawn',
      );
      return { withdrawn };
    },
  });

  app.route({
    method: 'POST',
    url: `${API_PREFIX}/workers/register`,
    // The enrolment secret in the body is the credential: a worker has no bearer token yet.
    config: { access: 'public' },
    schema: {
      summary: 'Exchange a one-time enrolment secret for the worker credential (once)',
      tags: ['workers'],
      operationId: 'registerWorker',
      security: NO_SECURITY,
      querystring: NoQuerySchema,
      body: RegisterWorkerBodySchema,
      response: {
        201: z.object({
          worker: RemoteWorkerSchema,
          credential: z
            .string()
            .describe('send as "Authorization: Bearer <credential>"; shown once'),
        }),
        400: ErrorBodySchema,
        401: ErrorBodySchema,
        409: ErrorBodySchema,
        ...BODY_ERRORS,
        500: ErrorBodySchema,
        503: ErrorBodySchema,
      },
    },
    handler: async (request, reply) => {
      const { enrolmentSecret, capabilities } = request.body;
      if (!isEnrolmentSecretFormat(enrolmentSecret)) {
        throw new AasError('UNAUTHENTICATED', 'the enrolment secret is unknown, used or expired', {
          hint: 'ask an administrator for a new one: aas worker enrol --name <name>',
        });
      }
      const credential = newWorkerCredential();
      const nowMs = clock.nowMs();
      const worker = await store.registerWorker({
        enrolmentSecretSha256: hashTokenSecret(enrolmentSecret),
        nowIso: new Date(nowMs).toISOString(),
        workerId: newId(IdPrefix.worker, nowMs),
        credentialSha256: hashTokenSecret(credential),
        capabilities: {
          agents: [...new Set(capabilities.agents)],
          sandbox: [...new Set(capabilities.sandbox)],
        },
      });
      log.info({ workerId: worker.id, name: worker.name }, 'remote worker registered');
      return reply.code(201).send({ worker, credential });
    },
  });

  app.route({
    method: 'DELETE',
    url: `${API_PREFIX}/workers/:idOrName`,
    config: { access: 'workers:enrol' },
    schema: {
      summary:
        'Revoke a remote worker; its credential stops working on its next request, and the unused enrolments of its name are withdrawn',
      tags: ['workers'],
      operationId: 'revokeWorker',
      security: BEARER_SECURITY,
      querystring: NoQuerySchema,
      params: WorkerRefParamsSchema,
      response: { 200: RemoteWorkerSchema, ...READ_ERRORS, 404: ErrorBodySchema },
    },
    handler: async (request) => {
      const worker = await namingNotFound(
        revokeWorker(store, clock, request.params.idOrName),
        'idOrName',
        WORKER_LIST_HINT,
      );
      log.info(
        { workerId: worker.id, name: worker.name, by: identityOf(request).name },
        'remote worker revoked',
      );
      return worker;
    },
  });

  for (const action of ['drain', 'resume'] as const) {
    const draining = action === 'drain';
    app.route({
      method: 'POST',
      url: `${API_PREFIX}/workers/:idOrName/${action}`,
      config: { access: 'workers:enrol' },
      schema: {
        summary: draining
          ? 'Drain a remote worker: it finishes what it holds and gets no new claims until resumed'
          : 'Resume a drained remote worker: its claims are served again',
        description: draining
          ? 'Kept with the worker, also across its restarts, until resumed: its claims wait ' +
            'and get nothing, its heartbeats answer `drain: true`, the runs it holds go on. ' +
            'Draining a drained worker changes nothing.'
          : "Ends an administrator's drain: the worker's waiting claims are served again. A " +
            'worker draining itself (SIGTERM) still stops; started again, it claims at once.',
        tags: ['workers'],
        operationId: draining ? 'drainWorker' : 'resumeWorker',
        security: BEARER_SECURITY,
        querystring: NoQuerySchema,
        params: WorkerRefParamsSchema,
        response: { 200: RemoteWorkerSchema, ...READ_ERRORS, 404: ErrorBodySchema },
      },
      handler: async (request) => {
        const worker = await namingNotFound(
          workerGateway.setDraining(request.params.idOrName, draining),
          'idOrName',
          WORKER_LIST_HINT,
        );
        log.info(
          { workerId: worker.id, name: worker.name, by: identityOf(request).name },
          draining ? 'remote worker drained' : 'remote worker resumed',
        );
        return worker;
      },
    });
  }

  app.route({
    method: 'POST',
    url: `${API_PREFIX}/workers/claim`,
    config: { access: 'workers:work' },
    schema: {
      summary:
        'Long-poll for a run this worker can execute: 200 with the lease, 204 when none came',
      tags: ['workers'],
      operationId: 'claimRun',
      security: BEARER_SECURITY,
      querystring: NoQuerySchema,
      body: ClaimBodySchema,
      response: {
        200: WorkerLeaseSchema,
        204: z.null().describe('no claimable run within waitSec'),
        ...READ_ERRORS,
        ...BODY_ERRORS,
      },
    },
    handler: async (request, reply) => {
      const worker = await callingWorker(request);
      // A client that goes away stops waiting; a run claimed in that instant is given back at
      // once. One whose answer is lost after it was sent is not lost either: its lease lapses
      // unrenewed and the sweep requeues it without spending the claim (no heartbeat ever
      // acknowledged it: RunQueue.sweep).
      const gone = new AbortController();
      reply.raw.on('close', () => gone.abort());
      const lease = await workerGateway.claim(worker, request.body.waitSec * 1000, gone.signal);
      if (lease === null) return reply.code(204).send(null);
      return reply.code(200).send(lease);
    },
  });

  app.route({
    method: 'POST',
    url: `${API_PREFIX}/workers/heartbeat`,
    config: { access: 'workers:work' },
    schema: {
      summary: 'Renew every listed lease; per run ok / cancel / lost, and whether to drain',
      tags: ['workers'],
      operationId: 'workerHeartbeat',
      security: BEARER_SECURITY,
      querystring: NoQuerySchema,
      body: HeartbeatBodySchema,
      response: { 200: HeartbeatReplySchema, ...READ_ERRORS, ...BODY_ERRORS },
    },
    handler: async (request) => {
      const worker = await callingWorker(request);
      const { leases, draining } = request.body;
      return workerGateway.heartbeat(worker, leases, { draining });
    },
  });

  app.route({
    method: 'POST',
    url: `${API_PREFIX}/workers/runs/:id/ops`,
    config: { access: 'workers:work' },
    schema: {
      summary: "One runner operation on a run this worker holds, under the claim's fencing token",
      description:
        'Writes (appendEvents, updateRun, createAttempt, finishAttempt) are numbered by writeSeq ' +
        'per claim and applied once: a repeat answers `duplicate: true` and writes nothing. Only ' +
        'runner events and the fields a runner sets are accepted; a final report naming a patch ' +
        'needs that patch uploaded first. Reads (getRun, listAttempts, modelSpend) see only the ' +
        'held run, its session and its repository.',
      tags: ['workers'],
      operationId: 'leaseOperation',
      security: BEARER_SECURITY,
      querystring: NoQuerySchema,
      params: RunParamsSchema,
      body: LeaseOpBodySchema,
      response: {
        200: LeaseOpReplySchema,
        ...READ_ERRORS,
        404: ErrorBodySchema,
        409: ErrorBodySchema.describe('LEASE_FENCED: this worker no longer holds the run'),
        422: ErrorBodySchema,
        ...BODY_ERRORS,
      },
    },
    handler: async (request) => {
      const worker = await callingWorker(request);
      const { fencingToken, operation } = request.body;
      return workerGateway.leaseOp(worker, request.params.id, fencingToken, operation);
    },
  });

  app.route({
    method: 'GET',
    url: `${API_PREFIX}/workers/runs/:id/base-pack`,
    config: { access: 'workers:work' },
    schema: {
      summary: "The held run's base commit with its history as a git pack",
      description:
        'A thin pack against the `have` commits the server knows (the worker completes it with ' +
        '`git index-pack --fix-thin`). The commit is in the `x-aas-base-commit` header.',
      tags: ['workers'],
      operationId: 'getBasePack',
      security: BEARER_SECURITY,
      querystring: BasePackQuerySchema,
      params: RunParamsSchema,
      response: {
        200: {
          description: 'The pack',
          content: { 'application/x-git-packfile': { schema: z.string() } },
        },
        ...READ_ERRORS,
        404: ErrorBodySchema,
        409: ErrorBodySchema,
        413: ErrorBodySchema,
      },
    },
    handler: async (request, reply) => {
      const worker = await callingWorker(request);
      const { fencingToken, have } = request.query;
      const haves = have === undefined ? [] : Array.isArray(have) ? have : [have];
      // A worker whose request timed out asks again: the pack it gave up on is not built (or is
      // stopped), so abandoned packs never queue up in front of everyone else's.
      const gone = new AbortController();
      if (reply.raw.destroyed) gone.abort();
      reply.raw.once('close', () => {
        if (!reply.raw.writableFinished) gone.abort();
      });
      const base = await workerGateway.basePack(
        worker,
        request.params.id,
        fencingToken,
        haves,
        gone.signal,
      );
      reply.header('x-aas-base-commit', base.commit);
      reply.header('x-aas-pack-haves', String(base.haves.length));
      return sendBytes(reply, 'application/x-git-packfile', Readable.from(base.pack));
    },
  });

  app.route({
    method: 'PUT',
    url: `${API_PREFIX}/workers/runs/:id/artifacts/:name`,
    config: { access: 'workers:work' },
    // A patch may be up to 32 MiB (see PATCH_MAX_BYTES in the runner); logs are 1 MiB tails.
    bodyLimit: 33 * 1024 * 1024,
    schema: {
      summary: "Upload the held run's patch (`patch`) or a log tail (`<attempt>.<file>`)",
      description:
        'Body: the raw bytes (application/octet-stream). Headers: `x-aas-fencing-token`, ' +
        '`x-aas-sha256` (of the body; a mismatch is refused), `x-aas-original-bytes` (a log ' +
        'cut to its tail: its size before). Replaces an upload of the same name.',
      tags: ['workers'],
      operationId: 'putRunArtifact',
      security: BEARER_SECURITY,
      querystring: NoQuerySchema,
      params: ArtifactParamsSchema,
      headers: ArtifactHeadersSchema,
      body: z.instanceof(Buffer).describe('the bytes'),
      response: {
        200: z.object({ name: z.string(), sha256: z.string(), bytes: z.number().int() }),
        ...READ_ERRORS,
        404: ErrorBodySchema,
        409: ErrorBodySchema,
        422: ErrorBodySchema,
        ...BODY_ERRORS,
      },
    },
    handler: async (request) => {
      const worker = await callingWorker(request);
      const headers = request.headers;
      const stored = await workerGateway.putArtifact(worker, request.params.id, {
        fencingToken: headers['x-aas-fencing-token'],
        name: request.params.name,
        sha256: headers['x-aas-sha256'],
        originalBytes: headers['x-aas-original-bytes'] ?? request.body.length,
        content: request.body,
      });
      return { name: stored.name, sha256: stored.sha256, bytes: stored.bytes };
    },
  });

  app.route({
    method: 'POST',
    url: `${API_PREFIX}/runs/:id/report`,
    config: { access: 'workers:work' },
    schema: {
      summary: "A remote worker's final report; accepted only with the current fencing token",
      tags: ['workers'],
      operationId: 'reportRun',
      security: BEARER_SECURITY,
      querystring: NoQuerySchema,
      params: RunParamsSchema,
      body: ReportBodySchema,
      response: {
        200: z.object({ runId: z.string(), status: z.string(), reasonCode: z.string().nullable() }),
        ...READ_ERRORS,
        404: ErrorBodySchema,
        409: ErrorBodySchema.describe('LEASE_FENCED: this worker no longer holds the run'),
        ...BODY_ERRORS,
      },
    },
    handler: async (request) => {
      const worker = await callingWorker(request);
      const run = await workerGateway.report(worker, request.params.id, request.body);
      return { runId: run.id, status: run.status, reasonCode: run.reasonCode };
    },
  });
}
