import { z } from 'zod';
import { AasError } from '../kernel/index.js';
import {
  API_PREFIX,
  type ApiApp,
  BEARER_SECURITY,
  identityOf,
  NO_SECURITY,
  type RouteContext,
} from './api-app.js';
import {
  ApprovalSchema,
  DecideBodySchema,
  ErrorBodySchema,
  ListApprovalsQuerySchema,
  NoQuerySchema,
  PromoteBodySchema,
  PromotionRecordSchema,
  PromotionResultSchema,
  RunParamsSchema,
  RunSchema,
} from './api-schemas.js';
import { requireRun } from './require-run.js';
import { READ_ERRORS } from './route-errors.js';

const WRITE_ERRORS = {
  ...READ_ERRORS,
  404: ErrorBodySchema,
  409: ErrorBodySchema,
  413: ErrorBodySchema,
  415: ErrorBodySchema,
} as const;

export function registerPromotionRoutes(app: ApiApp, context: RouteContext): void {
  const { promotion, store } = context.deps;

  app.route({
    method: 'POST',
    url: `${API_PREFIX}/runs/:id/approvals`,
    config: { access: 'approve' },
    schema: {
      summary: "Approve or reject the run's current patch",
      description:
        'Binds the decision to the run, its patch digest, its latest attempt and the target ' +
        'branch. The requester of the run and any identity that produced it are refused ' +
        '(APPROVAL_SELF). A rejection ends the run `blocked` (APPROVAL_REJECTED).',
      tags: ['approvals'],
      operationId: 'decideRun',
      security: BEARER_SECURITY,
      querystring: NoQuerySchema,
      params: RunParamsSchema,
      body: DecideBodySchema,
      response: {
        201: z.object({ approval: ApprovalSchema, run: RunSchema }),
        ...WRITE_ERRORS,
      },
    },
    handler: async (request, reply) => {
      const identity = identityOf(request);
      const result = await promotion.decide(
        request.params.id,
        { name: identity.name, tokenId: identity.tokenId },
        {
          decision: request.body.decision,
          note: request.body.note,
          ...(request.body.expiresInSec === undefined
            ? {}
            : { expiresInSec: request.body.expiresInSec }),
        },
      );
      return reply.code(201).send(result);
    },
  });

  app.route({
    method: 'GET',
    url: `${API_PREFIX}/runs/:id/approvals`,
    config: { access: 'read' },
    schema: {
      summary: "The run's approvals, each with whether it counts and why not",
      tags: ['approvals'],
      operationId: 'listRunApprovals',
      security: BEARER_SECURITY,
      querystring: NoQuerySchema,
      params: RunParamsSchema,
      response: {
        200: z.object({
          runId: z.string(),
          targetBranch: z.string(),
          required: z.number().int(),
          counted: z.number().int(),
          items: z
            .array(ApprovalSchema.extend({ counts: z.boolean(), reason: z.string() }))
            .readonly(),
        }),
        ...READ_ERRORS,
        404: ErrorBodySchema,
      },
    },
    handler: async (request) => {
      await requireRun(store, request.params.id);
      return promotion.approvalsOf(request.params.id);
    },
  });

  app.route({
    method: 'GET',
    url: `${API_PREFIX}/approvals`,
    config: { access: 'read' },
    schema: {
      summary: 'Approval decisions, newest first',
      tags: ['approvals'],
      operationId: 'listApprovals',
      security: BEARER_SECURITY,
      querystring: ListApprovalsQuerySchema,
      response: { 200: z.object({ items: z.array(ApprovalSchema) }), ...READ_ERRORS },
    },
    handler: async (request) => ({
      items: await promotion.listApprovals({
        limit: request.query.limit,
        ...(request.query.status === undefined ? {} : { state: request.query.status }),
      }),
    }),
  });

  app.route({
    method: 'POST',
    url: `${API_PREFIX}/runs/:id/promote`,
    config: { access: 'promote' },
    schema: {
      summary: 'Promote the run: preflight, then patch, branch or draft pull request',
      description:
        'Runs under the target branch’s writer lease. Every preflight check is recorded; a ' +
        'failing one writes nothing (missing approvals move the run to awaiting_approval). A ' +
        'retry of a promotion that stopped half-way finishes it.',
      tags: ['promotion'],
      operationId: 'promoteRun',
      security: BEARER_SECURITY,
      querystring: NoQuerySchema,
      params: RunParamsSchema,
      body: PromoteBodySchema.nullish(),
      response: {
        200: PromotionResultSchema,
        ...WRITE_ERRORS,
        422: ErrorBodySchema,
        502: ErrorBodySchema,
      },
    },
    handler: async (request) => {
      await requireRun(store, request.params.id);
      return promotion.promote(request.params.id, identityOf(request).name, request.body?.mode);
    },
  });

  app.route({
    method: 'GET',
    url: `${API_PREFIX}/runs/:id/promotion`,
    config: { access: 'read' },
    schema: {
      summary: "The run's promotion record: state, branch, commit, pull request, checks",
      tags: ['promotion'],
      operationId: 'getPromotion',
      security: BEARER_SECURITY,
      querystring: NoQuerySchema,
      params: RunParamsSchema,
      response: { 200: PromotionRecordSchema, ...READ_ERRORS, 404: ErrorBodySchema },
    },
    handler: async (request) => {
      await requireRun(store, request.params.id);
      const record = await promotion.promotionOf(request.params.id);
      if (record === null) {
        throw new AasError('NOT_FOUND', `run ${request.params.id} has not been promoted`, {
          hint: 'POST /runs/{id}/promote',
        });
      }
      return record;
    },
  });

  app.route({
    method: 'GET',
    url: `${API_PREFIX}/runs/:id/attestation`,
    config: { access: 'read' },
    schema: {
      summary: 'The signed provenance of a promoted run (DSSE envelope of an in-toto Statement)',
      tags: ['promotion'],
      operationId: 'getAttestation',
      security: BEARER_SECURITY,
      querystring: NoQuerySchema,
      params: RunParamsSchema,
      response: {
        200: {
          description: 'The envelope, byte for byte as signed and stored',
          content: { 'application/json': { schema: z.unknown() } },
        },
        ...READ_ERRORS,
        404: ErrorBodySchema,
      },
    },
    handler: async (request, reply) => {
      await requireRun(store, request.params.id);
      const attestation = await promotion.attestationOf(request.params.id);
      if (attestation === null) {
        throw new AasError('NOT_FOUND', `run ${request.params.id} has no attestation`, {
          hint: 'a run gets one when it is promoted',
        });
      }
      reply.header(
        'content-disposition',
        `attachment; filename="${request.params.id}.attestation.json"`,
      );
      reply.header('x-aas-attestation-sha256', attestation.sha256);
      return reply.type('application/json').send(attestation.bytes);
    },
  });

  app.route({
    method: 'GET',
    url: `${API_PREFIX}/keys`,
    // Public keys, public: a verifier needs no token, and a worker checks with them that another
    // address is the same installation before it sends its credential there.
    config: { access: 'public' },
    schema: {
      summary: "The installation's public signing keys, to verify attestations offline (no token)",
      tags: ['promotion'],
      operationId: 'listKeys',
      security: NO_SECURITY,
      querystring: NoQuerySchema,
      response: {
        200: z.object({
          keys: z.array(
            z.object({
              keyId: z.string().describe('sha256: of the SPKI DER bytes'),
              algorithm: z.literal('ed25519'),
              publicKeyPem: z.string(),
            }),
          ),
        }),
        ...READ_ERRORS,
      },
    },
    handler: async () => ({
      keys: (await promotion.publicKeys()).map((key) => ({
        ...key,
        algorithm: 'ed25519' as const,
      })),
    }),
  });
}
