import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AasError, isAasError, normaliseError, sha256Hex } from '../kernel/index.js';
import { REPO_POLICY_PATH } from '../policy/index.js';
import { NO_BRANCH } from '../runner/index.js';
import type { ApprovalRecord, PromotionRecord, RunStatus } from '../store/index.js';
import { isRepoUrl } from '../workspaces/index.js';
import { APPROVABLE_STATUSES, standingOf } from './approvals.js';
import { parseGitHubRemote } from './draft-pr-provider.js';
import { historyDisagreements, historyRefusal } from './history-agreement.js';
import type { PromotionContext, RunPromotionPolicy } from './promotion-context.js';
import type { PromotionDeps } from './promotion-deps.js';
import { detailOf, type PromotionDetail } from './promotion-detail.js';
import {
  fetchBranch,
  type PromotionGit,
  patchApplies,
  redactUrl,
  remoteBranchHead,
  remoteUrlOf,
} from './promotion-git.js';
import { branchNameOf } from './promotion-names.js';
import { type TargetPromotionPolicy, targetPromotionPolicy } from './target-promotion-policy.js';

export const PromotionMode = { patch: 'patch', branch: 'branch', draftPr: 'draft_pr' } as const;
export type PromotionMode = (typeof PromotionMode)[keyof typeof PromotionMode];

export interface PreflightCheck {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface Fallback {
  readonly from: string;
  readonly to: string;
  readonly reason: string;
}

export interface PreflightOutcome {
  readonly checks: PreflightCheck[];
  readonly failure: AasError | null;
  readonly mode: PromotionMode;
  readonly fallbacks: Fallback[];
  /** The patch bytes whose digest was verified: exactly these are committed. */
  readonly patch: Buffer;
  readonly remote: string | null;
  /** The commit the promotion builds on: the target head now, or the recorded parent. */
  readonly parent: string | null;
  readonly forgeRepo: { owner: string; repo: string } | null;
  /** Ids of the approvals that counted. */
  readonly approvalIds: readonly string[];
}

/**
 * Every check in order, each recorded with its verdict. Checks of the run itself come first;
 * once one of them fails nothing touches a remote or runs a validator. A promotion that
 * already made its commit (`existing.commitSha`) is finished rather than judged anew: its
 * approvals need only still stand (not voided), and its base is the parent it was built on.
 * Only configuration gaps fall back (draft_pr → branch → patch), each with its reason; an
 * unreachable or unsupported remote is an error the caller can retry or fix.
 */
export async function runPreflight(
  deps: PromotionDeps,
  context: PromotionContext,
  openGit: () => Promise<PromotionGit>,
  input: {
    targetBranch: string;
    requestedMode: PromotionMode;
    /**
     * The mode was asked for with this request (`--mode`), not taken from the job: one that
     * cannot be had is refused rather than quietly lowered, and nothing is recorded.
     */
    explicitMode?: boolean;
    existing: PromotionRecord | null;
  },
): Promise<PreflightOutcome> {
  const { run } = context;
  const existing = input.existing;
  const existingDetail: PromotionDetail | null = existing === null ? null : detailOf(existing);
  const committed = existing?.commitSha != null;
  const checks: PreflightCheck[] = [];
  let failure: AasError | null = null;
  const fail = (check: PreflightCheck, error: AasError) => {
    checks.push(check);
    failure ??= error;
  };
  const pass = (name: string, detail: string) => checks.push({ name, ok: true, detail });

  const allowed: readonly RunStatus[] =
    existing === null ? APPROVABLE_STATUSES : [...APPROVABLE_STATUSES, 'promoting'];
  if (allowed.includes(run.status)) pass('run.status', `${run.status}`);
  else {
    const detail = `run is ${run.status}${run.reasonCode ? ` (${run.reasonCode})` : ''}; promotion needs ready_for_promotion or awaiting_approval`;
    fail(
      { name: 'run.status', ok: false, detail },
      new AasError(refusalCode(run), detail, { runId: run.id, status: run.status }),
    );
  }
  if (run.baseCommit === null || !/^[0-9a-f]{40}$/.test(run.baseCommit)) {
    const detail = 'the run recorded no base commit';
    fail({ name: 'run.base', ok: false, detail }, new AasError('PREFLIGHT_FAILED', detail));
  }
  const failedGates = context.gates.filter((gate) => gate.verdict !== 'passed');
  // A rejection comes after the gates passed: the run's reason then says who, not the gates.
  const gatesWereLast = run.reasonCode === 'GATES_PASSED' || run.reasonCode === 'APPROVAL_REJECTED';
  if (context.gates.length > 0 && failedGates.length === 0 && gatesWereLast) {
    pass(
      'gates.passed',
      `${context.gates.length} gates passed on attempt ${context.attemptNumber}`,
    );
  } else {
    const detail =
      failedGates.length > 0
        ? `failed: ${failedGates.map((gate) => `${gate.name} (${gate.code ?? '?'})`).join(', ')}`
        : `the run did not end with every gate passed (${run.reasonCode ?? 'no verdict'})`;
    fail({ name: 'gates.passed', ok: false, detail }, new AasError('PREFLIGHT_FAILED', detail));
  }
  // Before the patch file: a digest the records agree on is the one worth comparing it with.
  const approvals = context.approvals;
  const disagreements = historyDisagreements(context.history, {
    session: context.session,
    run,
    approvals,
  });
  if (disagreements.length === 0) {
    pass(
      'history',
      'the requester, the patch and the approvals agree with the hash-chained events',
    );
  } else {
    fail(
      { name: 'history', ok: false, detail: disagreements.join('; ') },
      historyRefusal(run.id, disagreements),
    );
  }
  const patch = await verifiedPatch(deps, run.id, run.patchSha256);
  if (patch.ok) pass('patch.digest', `sha256:${run.patchSha256 ?? ''}`);
  else fail({ name: 'patch.digest', ok: false, detail: patch.detail }, patch.error);

  const approved = committed
    ? recordedApprovals(existingDetail?.approvalIds ?? [], approvals, run.patchSha256)
    : countApprovals(context, approvals, input.targetBranch, deps.clock.nowIso());
  if (approved.ok) pass('approvals', approved.detail);
  else {
    fail(
      { name: 'approvals', ok: false, detail: approved.detail },
      new AasError('APPROVAL_REQUIRED', `run ${run.id} has ${approved.detail}`, {
        runId: run.id,
        hint: `an approver (not the requester) runs: aas approve ${run.id}; working alone, the operator's policy (AAS_POLICY) may set promotion: { approvals: 0 } before the run starts`,
      }),
    );
  }

  let mode: PromotionMode = (existing?.mode as PromotionMode | null) ?? input.requestedMode;
  const fallbacks: Fallback[] = [];
  const fallBack = (to: PromotionMode, reason: string) => {
    if (input.explicitMode === true && existing === null) {
      const detail = `${mode} was asked for, but ${reason}`;
      fail(
        { name: 'mode', ok: false, detail },
        new AasError('PREFLIGHT_FAILED', detail, {
          field: '--mode',
          hint: `settle that and promote again, or promote with --mode ${to}`,
        }),
      );
      return;
    }
    fallbacks.push({ from: mode, to, reason });
    mode = to;
  };
  const outcome = (extra: Partial<PreflightOutcome> = {}): PreflightOutcome => ({
    checks,
    failure,
    mode,
    fallbacks,
    patch: patch.ok ? patch.bytes : Buffer.alloc(0),
    remote: null,
    parent: null,
    forgeRepo: null,
    approvalIds: approved.ids,
    ...extra,
  });
  // Nothing of the remote is read, and nothing runs, for a run that cannot be promoted anyway.
  if (failure !== null || mode === PromotionMode.patch) {
    checks.push(modeCheck(mode, fallbacks, failure));
    return outcome();
  }
  if (isRepoUrl(context.session.repo)) {
    // A branch is built on the target's head in the checkout's remote; a URL gives this host
    // no checkout and no remote of its own to push to.
    const detail = `the run's repository is a URL (${redactUrl(context.session.repo)}): ${mode} promotion needs a checkout with a remote on this server`;
    fail(
      { name: 'remote', ok: false, detail },
      new AasError('PREFLIGHT_FAILED', detail, {
        hint: 'promote with --mode patch and apply the patch where the repository is checked out',
      }),
    );
    checks.push(modeCheck(mode, fallbacks, failure));
    return outcome();
  }
  if (input.targetBranch === NO_BRANCH) {
    const detail = `the run names no target branch (its repository was on a detached HEAD when the run was asked for): ${mode} promotion needs one`;
    fail(
      { name: 'target', ok: false, detail },
      new AasError('PREFLIGHT_FAILED', detail, {
        field: 'promotion.targetBranch',
        hint: 'promote with --mode patch, or submit the job again with promotion.targetBranch set',
      }),
    );
    checks.push(modeCheck(mode, fallbacks, failure));
    return outcome();
  }

  const git = await openGit();
  const url = await remoteUrlOf(git, deps.settings.remote);
  let forgeRepo: { owner: string; repo: string } | null = null;
  if (mode === PromotionMode.draftPr) {
    const forge = forgeRepositoryOf(deps, context, url);
    if (deps.provider === null) {
      fallBack(PromotionMode.branch, 'no forge credential is configured (AAS_GITHUB_TOKEN)');
    } else if ('refused' in forge) fallBack(PromotionMode.branch, forge.refused);
    else {
      forgeRepo = forge;
      pass('credentials', `${deps.provider.name}: ${forge.owner}/${forge.repo}`);
    }
    // A mode asked for and refused above: nothing more of the remote is read.
    if (failure !== null) {
      checks.push(modeCheck(mode, fallbacks, failure));
      return outcome();
    }
  }
  if (url === null) {
    if (committed) {
      const detail = `the repository no longer has a remote named ${deps.settings.remote}, but this promotion already made its commit`;
      fail({ name: 'remote', ok: false, detail }, new AasError('PREFLIGHT_FAILED', detail));
    } else
      fallBack(PromotionMode.patch, `the repository has no remote named ${deps.settings.remote}`);
    checks.push(modeCheck(mode, fallbacks, failure));
    return outcome();
  }
  if (!isSupportedRemote(url)) {
    const detail = `the remote ${redactUrl(url)} uses a transport promotion does not support`;
    fail(
      { name: 'remote', ok: false, detail },
      new AasError('PREFLIGHT_FAILED', detail, {
        hint: 'promotion pushes to local paths, file:// and https:// remotes; set AAS_PROMOTION_REMOTE to one of those, or promote with --mode patch',
      }),
    );
    checks.push(modeCheck(mode, fallbacks, failure));
    return outcome({ remote: url });
  }
  // The recorded branch of a promotion under way, whatever the prefix is now (see promoteRun).
  const branch =
    input.existing?.branch ?? branchNameOf(deps.settings.branchPrefix, context.session.id);
  const protectedHit = context.policy.protectedBranches.includes(branch);
  if (branch === input.targetBranch || protectedHit) {
    const detail = `the promotion branch ${branch} is ${protectedHit ? 'protected by the policy' : 'the target branch itself'}`;
    fail({ name: 'target.branch', ok: false, detail }, new AasError('PREFLIGHT_FAILED', detail));
    checks.push(modeCheck(mode, fallbacks, failure));
    return outcome({ remote: url });
  }
  const authed = { ...git, httpEnv: deps.httpEnvFor(url) };
  // A remote that cannot be read is an error to retry, never a quiet downgrade.
  const targetHead = await remoteBranchHead(authed, url, input.targetBranch);
  if (targetHead === null) {
    const detail = `the target branch ${input.targetBranch} does not exist on ${redactUrl(url)}`;
    fail(
      { name: 'target.branch', ok: false, detail },
      new AasError('PREFLIGHT_FAILED', detail, {
        field: 'promotion.targetBranch',
        hint: 'name an existing branch in the job, or push it first',
      }),
    );
    checks.push(modeCheck(mode, fallbacks, failure));
    return outcome({ remote: url });
  }
  pass(
    'target.branch',
    `${input.targetBranch} at ${targetHead} on ${redactUrl(url)}; writes ${branch}`,
  );
  // Said before anything is committed or recorded: the push would find it anyway, but only
  // after the commit, leaving the run `promoting`. Its own commit there (a retry after a push
  // whose record was lost) is this promotion's, and fine.
  const occupied = await remoteBranchHead(authed, url, branch);
  if (occupied !== null && occupied !== existing?.commitSha) {
    const detail = `the remote already has ${branch} at ${occupied}; a promotion never overwrites a branch`;
    fail(
      { name: 'branch.free', ok: false, detail },
      new AasError('BRANCH_EXISTS', detail, {
        branch,
        found: occupied,
        hint: 'delete or rename that branch on the remote, then promote again',
      }),
    );
    checks.push(modeCheck(mode, fallbacks, failure));
    return outcome({ remote: url });
  }
  pass(
    'branch.free',
    occupied === null
      ? `${branch} does not exist on the remote yet`
      : `${branch} holds this promotion's commit already`,
  );
  await fetchBranch(authed, url, input.targetBranch);
  // The rules of the branch written to, not only those of the base the submitter chose.
  let rules: TargetPromotionPolicy;
  try {
    rules = await targetPromotionPolicy(git, targetHead, context.policy);
  } catch (thrown) {
    if (!isAasError(thrown)) throw thrown;
    fail({ name: 'target.policy', ok: false, detail: thrown.message }, thrown);
    checks.push(modeCheck(mode, fallbacks, failure));
    return outcome({ remote: url });
  }
  const targetRefusal = committed
    ? null
    : stricterTargetRefusal(rules, context.policy, approved.ids.length, branch);
  if (targetRefusal === null) {
    pass(
      'target.policy',
      rules.stricter.length === 0
        ? `${input.targetBranch} asks nothing of a promotion beyond the run's own policy`
        : `${input.targetBranch}'s ${REPO_POLICY_PATH} asks ${rules.stricter.join('; ')}: met`,
    );
  } else {
    fail({ name: 'target.policy', ok: false, detail: targetRefusal.message }, targetRefusal);
    checks.push(modeCheck(mode, fallbacks, failure));
    return outcome({ remote: url });
  }

  let parent = targetHead;
  if (committed && existingDetail?.parent !== undefined) {
    parent = existingDetail.parent;
    pass(
      'base',
      `the commit ${existing?.commitSha ?? '?'} was built on ${parent} when this promotion started`,
    );
  } else {
    const base = await baseCheck(deps, context, git, {
      targetHead,
      patch: patch.ok ? patch.bytes : Buffer.alloc(0),
      onBaseMoved: rules.policy.onBaseMoved,
    });
    checks.push(base.check);
    if (base.error !== null) failure ??= base.error;
  }
  pass(
    'writes.isolated',
    `the commit is built in a private git dir from ${input.targetBranch}; the checkout at ${git.repoRoot}, its index and its refs are not written`,
  );
  checks.push(modeCheck(mode, fallbacks, failure));
  return outcome({ remote: url, parent, forgeRepo });
}

/**
 * Why the target's stricter rules refuse this promotion, or null: more approvals than counted
 * (APPROVAL_REQUIRED, as the run's own count would be), or the promotion branch protected there.
 */
function stricterTargetRefusal(
  rules: TargetPromotionPolicy,
  recorded: RunPromotionPolicy,
  counted: number,
  branch: string,
): AasError | null {
  if (rules.policy.protectedBranches.includes(branch)) {
    return new AasError(
      'PREFLIGHT_FAILED',
      `the promotion branch ${branch} is protected by the target's ${REPO_POLICY_PATH}`,
      {
        hint: `set AAS_PROMOTION_BRANCH_PREFIX so that promotion branches are not among the target's protectedBranches, or take ${branch} out of them`,
      },
    );
  }
  // The run's own count, when it is not met, is the approvals check's refusal already.
  if (rules.policy.approvals <= recorded.approvals || counted >= rules.policy.approvals) {
    return null;
  }
  return new AasError(
    'APPROVAL_REQUIRED',
    `the target's ${REPO_POLICY_PATH} asks ${rules.policy.approvals} approvals; ${counted} counted (the run's base asked fewer)`,
    {
      hint: 'another approver (not the requester) runs aas approve for this run; the rules of the branch written to apply whatever the base of the run was',
    },
  );
}

/** The mode the promotion takes; not taken at all when a check before it failed. */
function modeCheck(
  mode: PromotionMode,
  fallbacks: readonly Fallback[],
  failure: AasError | null,
): PreflightCheck {
  const detail = describeMode(mode, fallbacks);
  return failure === null
    ? { name: 'mode', ok: true, detail }
    : { name: 'mode', ok: false, detail: `${detail}: not taken, as a check above failed` };
}

function describeMode(mode: PromotionMode, fallbacks: readonly Fallback[]): string {
  const last = fallbacks.at(-1);
  return last === undefined ? mode : `${mode} (fell back: ${last.reason})`;
}

export function refusalCode(run: { status: RunStatus; reasonCode: string | null }) {
  if (run.reasonCode === 'APPROVAL_REJECTED') return 'APPROVAL_REJECTED' as const;
  if (run.status === 'promoted') return 'CONFLICT' as const;
  return 'PREFLIGHT_FAILED' as const;
}

/**
 * The run's patch, checked against the digest its final report recorded: this host's file when
 * this host ran the attempt, else the copy in the database (a remote worker's upload, or another
 * replica's run). Either way the bytes must hash to the recorded digest.
 */
async function verifiedPatch(
  deps: Pick<PromotionDeps, 'artifactsDir' | 'store'>,
  runId: string,
  patchSha256: string | null,
): Promise<{ ok: true; bytes: Buffer } | { ok: false; detail: string; error: AasError }> {
  if (patchSha256 === null) {
    const detail = 'the run recorded no patch';
    return { ok: false, detail, error: new AasError('PREFLIGHT_FAILED', detail) };
  }
  const path = join(deps.artifactsDir, `${patchSha256}.patch`);
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch {
    const stored = await deps.store.getRunArtifact(runId, 'patch');
    if (stored === null) {
      const detail = `the patch is neither in ${path} nor stored with the run`;
      return {
        ok: false,
        detail,
        error: new AasError('PATCH_DIGEST_MISMATCH', detail, { file: path }),
      };
    }
    bytes = stored.content;
  }
  const actual = sha256Hex(bytes);
  if (actual === patchSha256) return { ok: true, bytes };
  const detail = `the patch file hashes to ${actual}, the run recorded ${patchSha256}`;
  return {
    ok: false,
    detail,
    error: new AasError('PATCH_DIGEST_MISMATCH', detail, {
      file: path,
      hint: 'the artifact was changed on disk after the run; it is never promoted',
    }),
  };
}

function countApprovals(
  context: PromotionContext,
  approvals: readonly ApprovalRecord[],
  targetBranch: string,
  nowIso: string,
): { ok: boolean; detail: string; ids: string[] } {
  const standing = standingOf(context, approvals, targetBranch, nowIso);
  const counted = standing.filter((entry) => entry.counts);
  const required = context.policy.approvals;
  const notCounted = standing
    .filter((entry) => !entry.counts)
    .map((entry) => `${entry.approval.decidedBy}: ${entry.reason}`);
  const detail = `${counted.length} of ${required} required${
    counted.length > 0 ? ` (${counted.map((entry) => entry.approval.decidedBy).join(', ')})` : ''
  }${notCounted.length > 0 ? `; not counted: ${notCounted.join('; ')}` : ''}`;
  return {
    ok: counted.length >= required,
    detail,
    ids: counted.map((entry) => entry.approval.id),
  };
}

/**
 * For a promotion that already committed: the approvals it was granted on must still stand for
 * this digest (not voided). Their expiry no longer matters: they were valid when it started.
 */
function recordedApprovals(
  ids: readonly string[],
  approvals: readonly ApprovalRecord[],
  patchSha256: string | null,
): { ok: boolean; detail: string; ids: string[] } {
  const problems = ids.flatMap((id) => {
    const approval = approvals.find((candidate) => candidate.id === id);
    if (approval === undefined) return [`${id} is gone`];
    if (approval.voidedAt !== null) return [`${approval.decidedBy}'s approval was voided`];
    if (approval.patchSha256 !== patchSha256)
      return [`${approval.decidedBy} approved another digest`];
    return [];
  });
  const names = ids.map((id) => approvals.find((a) => a.id === id)?.decidedBy ?? id);
  return problems.length === 0
    ? {
        ok: true,
        detail: `granted when this promotion started (${names.join(', ') || 'none required'})`,
        ids: [...ids],
      }
    : { ok: false, detail: problems.join('; '), ids: [] };
}

/**
 * The forge repository a pull request goes to. The remote's URL decides; a job may name one
 * only when the URL does not say (a mirror, a local path), and then only one the operator lists
 * in AAS_GITHUB_REPOSITORIES: the server's token must not open pull requests wherever a
 * requester points it.
 */
function forgeRepositoryOf(
  deps: PromotionDeps,
  context: PromotionContext,
  url: string | null,
): { owner: string; repo: string } | { refused: string } {
  const fromRemote = url === null ? null : parseGitHubRemote(url, deps.settings.forgeHost);
  const named = context.job.promotion.repository;
  if (named === undefined) {
    return (
      fromRemote ?? {
        refused: `the remote ${deps.settings.remote} (${url === null ? 'none' : redactUrl(url)}) is not a repository on ${deps.settings.forgeHost}, and the job names no promotion.repository (one of AAS_GITHUB_REPOSITORIES)`,
      }
    );
  }
  if (fromRemote !== null) {
    return `${fromRemote.owner}/${fromRemote.repo}`.toLowerCase() === named.toLowerCase()
      ? fromRemote
      : {
          refused: `the job names ${named}, but the remote is ${fromRemote.owner}/${fromRemote.repo}`,
        };
  }
  if (
    !deps.settings.forgeRepositories.some(
      (allowed) => allowed.toLowerCase() === named.toLowerCase(),
    )
  ) {
    return { refused: `${named} is not in AAS_GITHUB_REPOSITORIES` };
  }
  const [owner = '', repo = ''] = named.split('/');
  return { owner, repo };
}

/** Local paths, file:// and https:// (see TRANSPORT_CONFIG in promotion-git.ts). */
function isSupportedRemote(url: string): boolean {
  if (url.startsWith('/') || url.startsWith('file://') || url.startsWith('https://')) return true;
  // A relative path (`../origin.git`) is a local path too; `host:path` is scp-like ssh.
  return !url.includes('://') && !/^[^/]+:/.test(url);
}

async function baseCheck(
  deps: PromotionDeps,
  context: PromotionContext,
  git: PromotionGit,
  input: { targetHead: string; patch: Buffer; onBaseMoved: RunPromotionPolicy['onBaseMoved'] },
): Promise<{ check: PreflightCheck; error: AasError | null }> {
  const base = context.run.baseCommit;
  if (base === input.targetHead) {
    return { check: { name: 'base', ok: true, detail: `unchanged at ${base}` }, error: null };
  }
  const applies = await patchApplies(git, input.targetHead, input.patch);
  // Moved since the run, or never there: a job may be based on another branch's commit.
  const moved = `the target is at ${input.targetHead}, not at the run's base ${base ?? '?'}`;
  if (!applies.ok) {
    const detail = `${moved} and the patch no longer applies: ${applies.detail.split('\n')[0] ?? ''}`;
    return {
      check: { name: 'base', ok: false, detail },
      error: new AasError('BASE_MOVED', detail, {
        hint: 'run the job again on the current target',
      }),
    };
  }
  if (input.onBaseMoved === 'block') {
    const detail = `${moved}; the patch applies, but the policy says onBaseMoved: block`;
    return {
      check: { name: 'base', ok: false, detail },
      error: new AasError('BASE_MOVED', detail),
    };
  }
  if (deps.revalidate === undefined) {
    const detail = `${moved}; re-validation is not available in this process`;
    return {
      check: { name: 'base', ok: false, detail },
      error: new AasError('BASE_MOVED', detail),
    };
  }
  try {
    const verdict = await deps.revalidate({
      context,
      git,
      newBase: input.targetHead,
      patchText: input.patch.toString('utf8'),
    });
    const detail = `${moved}; re-validated there: ${verdict.detail}`;
    return verdict.ok
      ? { check: { name: 'base', ok: true, detail }, error: null }
      : { check: { name: 'base', ok: false, detail }, error: new AasError('BASE_MOVED', detail) };
  } catch (thrown) {
    // Fail closed: a re-validation that cannot decide is a refusal.
    const detail = `${moved}; re-validation could not decide: ${normaliseError(thrown).message}`;
    return {
      check: { name: 'base', ok: false, detail },
      error: new AasError('BASE_MOVED', detail),
    };
  }
}
