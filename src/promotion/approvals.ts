import { join } from 'node:path';
import { AasError, newId } from '../kernel/index.js';
import { branchOfRef, NO_BRANCH } from '../runner/index.js';
import { SessionRecorder, sessionEvent } from '../sessions/index.js';
import type { ApprovalDecision, ApprovalRecord, RunRecord, RunStatus } from '../store/index.js';
import { isRepoUrl } from '../workspaces/index.js';
import { historyDisagreements, historyRefusal } from './history-agreement.js';
import {
  loadPromotionContext,
  type PromotionContext,
  type PromotionStoreDeps,
} from './promotion-context.js';
import { checkedOutBranch, openPromotionGit } from './promotion-git.js';

/** Runs that can be decided on: finished with every gate passed, not yet promoting. */
export const APPROVABLE_STATUSES: readonly RunStatus[] = [
  'ready_for_promotion',
  'awaiting_approval',
];

/** Who is asking: the authenticated identity, never a name from a request body. */
export interface Decider {
  readonly name: string;
  readonly tokenId: string | null;
}

export interface ApprovalDeps extends PromotionStoreDeps {
  readonly runsDir: string;
  readonly approvalTtlSec: number;
}

/**
 * The branch a run's patch is promoted onto: the job's `promotion.targetBranch` (which a
 * submission fills in with the branch the checkout was on, or NO_BRANCH on a detached HEAD, see
 * withTargetBranch), else the branch its base ref named. A run recorded before submissions did
 * so reads the branch the repository has checked out now. A repository named by URL has no
 * checkout here and no branch either. NO_BRANCH binds approvals, and only patch mode promotes
 * such a run (the preflight refuses the others), so nothing is pushed to it.
 */
export async function targetBranchOf(context: PromotionContext, runsDir: string): Promise<string> {
  const named = context.job.promotion.targetBranch ?? branchOfRef(context.run.baseRef);
  if (named !== null) return named;
  if (isRepoUrl(context.session.repo)) return NO_BRANCH;
  const git = await openPromotionGit(join(runsDir, context.run.id), context.session.repo);
  return (await checkedOutBranch(git)) ?? NO_BRANCH;
}

/**
 * Records an approval or a rejection of the run's current patch. Separation of duties: the
 * identity that requested the run and every identity that held its lease (produced the patch)
 * are refused with APPROVAL_SELF. A rejection is final: the run ends `blocked` with
 * APPROVAL_REJECTED in the same transaction.
 */
export async function recordDecision(
  deps: ApprovalDeps,
  input: {
    runId: string;
    decider: Decider;
    decision: ApprovalDecision;
    note: string | null;
    expiresInSec?: number;
  },
): Promise<{ approval: ApprovalRecord; run: RunRecord }> {
  const context = await loadPromotionContext(deps.store, input.runId);
  const { run, session } = context;
  if (!APPROVABLE_STATUSES.includes(run.status)) {
    throw new AasError(
      'CONFLICT',
      `run ${run.id} is ${run.status}; only a run that is ready for promotion or awaiting approval can be decided on`,
      { runId: run.id, status: run.status },
    );
  }
  if (run.patchSha256 === null) {
    throw new AasError('CONFLICT', `run ${run.id} has no patch to approve`, { runId: run.id });
  }
  const decided = context.approvals;
  const disagreements = historyDisagreements(context.history, { session, run, approvals: decided });
  if (disagreements.length > 0) throw historyRefusal(run.id, disagreements);
  const why = selfApprovalReason(context, input.decider.name);
  if (why !== null) {
    throw new AasError(
      'APPROVAL_SELF',
      `${input.decider.name} cannot decide on run ${run.id}: ${why}`,
      {
        runId: run.id,
        identity: input.decider.name,
        hint: "ask an approver who neither requested the run nor produced its patch; working alone, the operator's policy (AAS_POLICY) may set promotion: { approvals: 0 } before the run starts",
      },
    );
  }
  // The approver's standing decision on this patch is checked by the store, in the same
  // transaction as the insert: checked here, concurrent requests would each find none.
  const targetBranch = await targetBranchOf(context, deps.runsDir);
  const now = deps.clock.nowMs();
  const ttlSec = Math.min(input.expiresInSec ?? deps.approvalTtlSec, deps.approvalTtlSec);
  const approval = {
    id: newId('apr', now),
    runId: run.id,
    sessionId: session.id,
    attemptNumber: context.attemptNumber,
    patchSha256: run.patchSha256,
    repo: session.repo,
    targetBranch,
    decision: input.decision,
    note: input.note,
    decidedBy: input.decider.name,
    tokenId: input.decider.tokenId,
    createdAt: new Date(now).toISOString(),
    expiresAt: new Date(now + ttlSec * 1000).toISOString(),
  };
  const recorder = new SessionRecorder(deps, session.id, input.decider.name);
  const rejected = input.decision === 'rejected';
  const detail = `rejected by ${input.decider.name}${input.note ? `: ${input.note}` : ''}`;
  const result = await recorder.recordApproval(
    {
      approval,
      guard: {
        status: APPROVABLE_STATUSES,
        patchSha256: run.patchSha256,
        attemptNumber: context.attemptNumber,
      },
      ...(rejected
        ? {
            runChanges: {
              status: 'blocked',
              reasonCode: 'APPROVAL_REJECTED',
              reasonDetail: detail,
            },
          }
        : {}),
    },
    [
      sessionEvent('approval.recorded', {
        runId: run.id,
        approvalId: approval.id,
        decision: approval.decision,
        decidedBy: approval.decidedBy,
        note: approval.note,
        patchSha256: approval.patchSha256,
        attempt: approval.attemptNumber,
        targetBranch,
        expiresAt: approval.expiresAt,
      }),
      ...(rejected
        ? [
            sessionEvent('run.completed', {
              runId: run.id,
              status: 'blocked',
              reasonCode: 'APPROVAL_REJECTED',
              detail,
              patchSha256: run.patchSha256,
            }),
          ]
        : []),
    ],
  );
  return { approval: result.approval, run: result.run };
}

function selfApprovalReason(context: PromotionContext, name: string): string | null {
  // The requester as the events recorded it: the sessions row is a projection of them.
  if (name === (context.history.requestedBy ?? context.session.requestedBy)) {
    return 'it requested the run';
  }
  if (context.producers.includes(name)) return 'it produced the patch (it held the run)';
  return null;
}

/** Why one approval counts or not, for the preflight and the panel. */
export interface ApprovalStanding {
  readonly approval: ApprovalRecord;
  readonly counts: boolean;
  readonly reason: string;
}

/**
 * Which approvals count for promoting `context`'s run onto `targetBranch` now: approved,
 * not voided, not expired, for this exact digest, attempt, repository and target, by someone
 * who neither requested nor produced the run; one per identity.
 */
export function standingOf(
  context: PromotionContext,
  approvals: readonly ApprovalRecord[],
  targetBranch: string,
  nowIso: string,
): ApprovalStanding[] {
  const seen = new Set<string>();
  // Oldest first, so a later duplicate by the same identity is the one that does not count.
  return [...approvals].reverse().map((approval) => {
    const reason = disqualification(context, approval, targetBranch, nowIso, seen);
    if (reason === null) seen.add(approval.decidedBy);
    return { approval, counts: reason === null, reason: reason ?? 'counts' };
  });
}

function disqualification(
  context: PromotionContext,
  approval: ApprovalRecord,
  targetBranch: string,
  nowIso: string,
  seen: ReadonlySet<string>,
): string | null {
  // A row no approval.recorded event supports was written outside AAS: it never counts (and
  // promotion refuses the run, see historyDisagreements), whatever else it says.
  if (!context.history.approvals.has(approval.id)) {
    return 'not in the history: no approval.recorded event records it (changed outside AAS)';
  }
  if (approval.decision !== 'approved') return 'a rejection';
  if (approval.voidedAt !== null) return `voided: ${approval.voidReason ?? 'a later attempt'}`;
  if (approval.patchSha256 !== context.run.patchSha256) {
    return `stale digest: it approved ${approval.patchSha256.slice(0, 12)}…, the patch is now ${context.run.patchSha256?.slice(0, 12) ?? 'none'}…`;
  }
  if (approval.attemptNumber !== context.attemptNumber) {
    return `for attempt ${approval.attemptNumber}, not ${context.attemptNumber}`;
  }
  if (approval.repo !== context.session.repo || approval.targetBranch !== targetBranch) {
    return `for ${approval.targetBranch} of ${approval.repo}, not ${targetBranch}`;
  }
  if (approval.expiresAt <= nowIso) return `expired at ${approval.expiresAt}`;
  const self = selfApprovalReason(context, approval.decidedBy);
  if (self !== null) return `self-approval: ${self}`;
  if (seen.has(approval.decidedBy)) return `${approval.decidedBy} already counted once`;
  return null;
}
