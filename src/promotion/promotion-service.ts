import { readFile } from 'node:fs/promises';
import type {
  ApprovalDecision,
  ApprovalRecord,
  PromotionRecord,
  RunRecord,
} from '../store/index.js';
import {
  type ApprovalDeps,
  type Decider,
  recordDecision,
  standingOf,
  targetBranchOf,
} from './approvals.js';
import {
  attestationPath,
  type PromotionDeps,
  type PromotionMode,
  type PromotionResult,
  promoteRun,
} from './promote-run.js';
import { loadPromotionContext } from './promotion-context.js';
import type { PublicKeyInfo } from './signing-key.js';

export const ApprovalState = {
  standing: 'standing',
  rejected: 'rejected',
  voided: 'voided',
  expired: 'expired',
} as const;
export type ApprovalState = (typeof ApprovalState)[keyof typeof ApprovalState];
export const APPROVAL_STATES = Object.values(ApprovalState) as ApprovalState[];

export interface ApprovalView extends ApprovalRecord {
  readonly state: ApprovalState;
}

export interface RunApprovals {
  readonly runId: string;
  readonly targetBranch: string;
  readonly required: number;
  readonly counted: number;
  readonly items: readonly (ApprovalView & { readonly counts: boolean; readonly reason: string })[];
}

/** What the API and the CLI ask of approvals and promotion, on one runtime's store. */
export interface PromotionService {
  decide(
    runId: string,
    decider: Decider,
    input: { decision: ApprovalDecision; note: string | null; expiresInSec?: number },
  ): Promise<{ approval: ApprovalView; run: RunRecord }>;
  approvalsOf(runId: string): Promise<RunApprovals>;
  listApprovals(filter: { state?: ApprovalState; limit: number }): Promise<ApprovalView[]>;
  promote(runId: string, by: string, mode?: PromotionMode): Promise<PromotionResult>;
  promotionOf(runId: string): Promise<PromotionRecord | null>;
  /** The stored DSSE envelope of a promoted run (bytes as signed and stored), or null. */
  attestationOf(runId: string): Promise<{ sha256: string; bytes: Buffer } | null>;
  publicKeys(): Promise<PublicKeyInfo[]>;
  /**
   * Finishes promotions a crashed process abandoned half-way: the run is still `promoting`, no
   * one holds the target's writer lease, and the last thing recorded was not a failure (a
   * failed promotion waits for a person to retry it). Returns the runs it finished. Once
   * `signal` aborts, no further promotion is started (a closing server waits for one at most;
   * the rest are finished by the next pass, here or on another replica).
   */
  resumeAbandoned(options?: {
    readonly limit?: number;
    readonly signal?: AbortSignal;
  }): Promise<string[]>;
}

export function approvalState(approval: ApprovalRecord, nowIso: string): ApprovalState {
  if (approval.decision === 'rejected') return ApprovalState.rejected;
  if (approval.voidedAt !== null) return ApprovalState.voided;
  if (approval.expiresAt <= nowIso) return ApprovalState.expired;
  return ApprovalState.standing;
}

export function createPromotionService(deps: {
  promotion: PromotionDeps;
  approvals: ApprovalDeps;
}): PromotionService {
  const { promotion, approvals } = deps;
  const view = (approval: ApprovalRecord): ApprovalView => ({
    ...approval,
    state: approvalState(approval, promotion.clock.nowIso()),
  });
  return {
    async decide(runId, decider, input) {
      const result = await recordDecision(approvals, { runId, decider, ...input });
      return { approval: view(result.approval), run: result.run };
    },
    async approvalsOf(runId) {
      const context = await loadPromotionContext(promotion.store, runId);
      const existing = await promotion.store.getPromotion(runId);
      const targetBranch =
        existing?.targetBranch ?? (await targetBranchOf(context, promotion.runsDir));
      // The approvals read with the history (before it): each is judged against the events.
      const standing = standingOf(
        context,
        context.approvals,
        targetBranch,
        promotion.clock.nowIso(),
      );
      const items = standing
        .map((entry) => ({ ...view(entry.approval), counts: entry.counts, reason: entry.reason }))
        .reverse();
      return {
        runId,
        targetBranch,
        required: context.policy.approvals,
        counted: standing.filter((entry) => entry.counts).length,
        items,
      };
    },
    async listApprovals(filter) {
      // States are computed (expiry depends on now): read a window and filter it.
      const records = await promotion.store.listApprovals({
        limit: filter.state === undefined ? filter.limit : Math.max(filter.limit * 10, 500),
      });
      return records
        .map(view)
        .filter((approval) => filter.state === undefined || approval.state === filter.state)
        .slice(0, filter.limit);
    },
    promote: (runId, by, mode) =>
      promoteRun(promotion, { runId, by, ...(mode === undefined ? {} : { mode }) }),
    promotionOf: (runId) => promotion.store.getPromotion(runId),
    async attestationOf(runId) {
      const record = await promotion.store.getPromotion(runId);
      if (record?.attestationSha256 == null) return null;
      try {
        const bytes = await readFile(
          attestationPath(promotion.artifactsDir, record.attestationSha256),
        );
        return { sha256: record.attestationSha256, bytes };
      } catch {
        return null;
      }
    },
    async resumeAbandoned({ limit = 20, signal } = {}) {
      const finished: string[] = [];
      for (const record of await promotion.store.listUnfinishedPromotions(limit)) {
        if (signal?.aborted === true) break;
        const events = await promotion.store.readEvents(record.sessionId);
        const last = events
          .filter(
            (event) =>
              event.type.startsWith('promotion.') &&
              (event.data as { runId?: unknown } | null)?.runId === record.runId,
          )
          .at(-1);
        if (last?.type === 'promotion.failed') continue;
        try {
          // Never wait: a live holder of the lease is still working on it.
          await promoteRun(promotion, { runId: record.runId, by: record.requestedBy, waitMs: 0 });
          finished.push(record.runId);
        } catch (thrown) {
          promotion.log.warn(
            { runId: record.runId, err: thrown instanceof Error ? thrown.message : String(thrown) },
            'an abandoned promotion could not be finished yet',
          );
        }
      }
      return finished;
    },
    async publicKeys() {
      const key = await promotion.signingKey();
      return [{ keyId: key.keyId, publicKeyPem: key.publicKeyPem }];
    },
  };
}
