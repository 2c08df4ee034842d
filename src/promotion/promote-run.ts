import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  AasError,
  canonicalJson,
  type Logger,
  normaliseError,
  sha256Hex,
} from '../kernel/index.js';
import { SessionRecorder, sessionEvent, type TypedEvent } from '../sessions/index.js';
import {
  type PromotionRecord,
  type RunStatus,
  type WriterLeaseFence,
  writerLeaseKey,
} from '../store/index.js';
import { APPROVABLE_STATUSES, standingOf, targetBranchOf } from './approvals.js';
import { type DraftPrProvider, parseGitHubRemote } from './draft-pr-provider.js';
import { signEnvelope } from './dsse.js';
import {
  loadPromotionContext,
  type PromotionContext,
  type PromotionStoreDeps,
} from './promotion-context.js';
import {
  commitPatch,
  createRemoteBranch,
  fetchBranch,
  openPromotionGit,
  type PromotionGit,
  patchApplies,
  redactUrl,
  remoteBranchHead,
  remoteUrlOf,
} from './promotion-git.js';
import {
  buildStatement,
  PROVENANCE_PAYLOAD_TYPE,
  type PromotionPredicate,
  statementBytes,
} from './provenance-statement.js';
import type { SigningKey } from './signing-key.js';

export const PromotionMode = { patch: 'patch', branch: 'branch', draftPr: 'draft_pr' } as const;
export type PromotionMode = (typeof PromotionMode)[keyof typeof PromotionMode];

/** Where a promotion is; each state is recorded before the next step starts. */
export const PromotionState = {
  committed: 'committed',
  pushed: 'pushed',
  prOpened: 'pr_opened',
  started: 'started',
  completed: 'completed',
  failed: 'failed',
} as const;

export interface RevalidationInput {
  readonly context: PromotionContext;
  /** The promotion's git dir: it holds the fetched target head and borrows the repository. */
  readonly git: PromotionGit;
  readonly newBase: string;
  readonly patchText: string;
}

export interface PromotionDeps extends PromotionStoreDeps {
  readonly log: Logger;
  readonly runsDir: string;
  readonly artifactsDir: string;
  readonly signingKey: () => Promise<SigningKey>;
  readonly settings: {
    readonly remote: string;
    readonly branchPrefix: string;
    readonly authorName: string;
    readonly authorEmail: string;
    readonly leaseMs: number;
    readonly waitMs: number;
    /** The host whose remotes the pull request provider serves (github.com, a GHE host). */
    readonly forgeHost: string;
  };
  /** Null when no forge credential is configured: draft_pr falls back to branch. */
  readonly provider: DraftPrProvider | null;
  /** Extra environment for git's HTTPS requests to the forge (its Authorization header). */
  readonly httpEnvFor: (remoteUrl: string) => Readonly<Record<string, string>>;
  /** Re-runs the job's validators on `newBase` + patch; absent = a moved base cannot be revalidated. */
  readonly revalidate?: (input: RevalidationInput) => Promise<{ ok: boolean; detail: string }>;
  /** Identity of this process as the writer-lease holder. */
  readonly owner: string;
}

export interface PreflightCheck {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface PromotionResult {
  readonly runId: string;
  readonly status: RunStatus;
  readonly requestedMode: string;
  readonly mode: string;
  readonly branch: string | null;
  readonly commitSha: string | null;
  readonly prUrl: string | null;
  readonly attestationSha256: string;
  readonly checks: readonly PreflightCheck[];
  readonly fallbacks: readonly { from: string; to: string; reason: string }[];
  /** A pushed branch whose pull request could not be opened: reported, never silent. */
  readonly prError: string | null;
}

/** What the promotion record's `detail` holds. */
interface PromotionDetail {
  readonly checks: readonly PreflightCheck[];
  readonly fallbacks: readonly { from: string; to: string; reason: string }[];
  readonly provenanceSha256?: string;
  readonly prError?: string | null;
  readonly error?: string;
}

const POLL_MS = 200;

/**
 * Promotes a run's patch: the only step in AAS that turns a patch into git state. Under the
 * target's writer lease: preflight (recorded check by check, nothing written unless all pass),
 * then the mode — a signed attestation always; a commit of the patch on the target head pushed
 * as a new branch for `branch`; that plus a draft pull request for `draft_pr`. Every step is
 * recorded before the next starts and re-checks the lease, so a retried promotion finishes
 * what a crashed one began and never makes a second commit, branch or pull request.
 */
export async function promoteRun(
  deps: PromotionDeps,
  input: { runId: string; by: string; mode?: PromotionMode },
): Promise<PromotionResult> {
  let context = await loadPromotionContext(deps.store, input.runId);
  const existing = await deps.store.getPromotion(input.runId);
  if (existing?.state === PromotionState.completed) return resultOf(context, existing);
  const targetBranch = existing?.targetBranch ?? (await targetBranchOf(context, deps.runsDir));
  const requestedMode = (existing?.requestedMode ??
    input.mode ??
    context.job.promotion.mode) as PromotionMode;
  const runDir = join(deps.runsDir, context.run.id);
  // Opened only by modes that touch git: a patch promotion needs no repository at hand.
  let opened: Promise<PromotionGit> | null = null;
  const openGit = () => {
    opened ??= openPromotionGit(runDir, context.session.repo);
    return opened;
  };
  const recorder = new SessionRecorder(deps, context.session.id, input.by);

  // Keyed by the repository as the session recorded it: every promotion of this target, in
  // any process or replica, contends for the same row.
  const key = writerLeaseKey(context.session.repo, targetBranch);
  const fence = await acquireLease(deps, key, context.run.id);
  const leaseRef = () => ({ fence, nowIso: deps.clock.nowIso() });
  const renew = async () => {
    const now = deps.clock.nowMs();
    const held = await deps.store.renewWriterLease(
      fence,
      new Date(now).toISOString(),
      new Date(now + deps.settings.leaseMs).toISOString(),
    );
    if (!held) {
      throw new AasError(
        'LEASE_FENCED',
        `the writer lease of ${targetBranch} was lost (token ${fence.fencingToken}); this promotion stops`,
        { leaseKey: key, fencingToken: fence.fencingToken },
      );
    }
  };
  let promotion: PromotionRecord | null = existing;
  // Long steps (a slow push, a pull request call, re-validation) outlast a lease: a heartbeat
  // renews it meanwhile. Once a renewal is refused the lease is gone, and the next step's own
  // check stops the promotion before it writes.
  let leaseLost = false;
  const heartbeat = setInterval(
    () => {
      if (leaseLost) return;
      renew().catch(() => {
        leaseLost = true;
      });
    },
    Math.max(250, Math.floor(deps.settings.leaseMs / 3)),
  );
  heartbeat.unref();
  try {
    const preflight = await runPreflight(deps, context, openGit, {
      targetBranch,
      requestedMode,
      resuming: existing !== null,
    });
    const leaseEvent = sessionEvent('promotion.lease.acquired', {
      runId: context.run.id,
      key,
      owner: fence.owner,
      fencingToken: fence.fencingToken,
      expiresAt: new Date(deps.clock.nowMs() + deps.settings.leaseMs).toISOString(),
    });
    const preflightEvents: TypedEvent[] = [
      sessionEvent('promotion.requested', {
        runId: context.run.id,
        requestedMode,
        targetBranch,
        resumed: existing !== null,
      }),
      leaseEvent,
      sessionEvent('promotion.preflight', {
        runId: context.run.id,
        ok: preflight.failure === null,
        mode: preflight.mode,
        checks: preflight.checks,
      }),
      ...preflight.fallbacks.map((fallback) =>
        sessionEvent('promotion.fallback', { runId: context.run.id, ...fallback }),
      ),
    ];
    if (preflight.failure !== null) {
      await recordRefusal(deps, recorder, context, preflight.failure, preflightEvents);
      throw preflight.failure;
    }
    const detail: PromotionDetail = {
      checks: preflight.checks,
      fallbacks: preflight.fallbacks,
      ...(promotion === null ? {} : { provenanceSha256: detailOf(promotion).provenanceSha256 }),
    };
    const started = await recorder.recordPromotionStep(
      {
        runId: context.run.id,
        lease: leaseRef(),
        guard: { status: [...APPROVABLE_STATUSES, 'promoting'] },
        create: {
          runId: context.run.id,
          requestedMode,
          state: PromotionState.started,
          requestedBy: input.by,
          targetBranch,
          startedAt: deps.clock.nowIso(),
          detail,
        },
        changes: { mode: preflight.mode, detail },
        runChanges: { status: 'promoting' },
      },
      preflightEvents,
    );
    promotion = started.promotion;
    context = { ...context, run: started.run };

    let branch: string | null = promotion.branch;
    let commitSha: string | null = promotion.commitSha;
    let prUrl: string | null = promotion.prUrl;
    let prError: string | null = null;
    let provenanceSha256 = detailOf(promotion).provenanceSha256 ?? null;
    const fallbacks = [...preflight.fallbacks];
    let mode = preflight.mode;

    if (mode !== PromotionMode.patch && preflight.remote !== null && preflight.targetHead) {
      branch = branchNameOf(deps.settings.branchPrefix, context.session.id);
      const git = await openGit();
      if (commitSha === null) {
        const provenance = await signAndStore(deps, context, {
          mode,
          branch,
          remote: redactUrl(preflight.remote),
          commitSha: null,
          targetBranch,
        });
        provenanceSha256 = provenance.sha256;
        commitSha = await commitPatch(git, {
          parent: preflight.targetHead,
          patchPath: preflight.patchPath,
          message: commitMessage(context, provenance.sha256),
          identity: {
            name: deps.settings.authorName,
            email: deps.settings.authorEmail,
            dateIso: promotion.startedAt,
          },
        });
        const step = await recorder.recordPromotionStep(
          {
            runId: context.run.id,
            lease: leaseRef(),
            changes: {
              state: PromotionState.committed,
              commitSha,
              branch,
              remote: redactUrl(preflight.remote),
              detail: { ...detailOf(promotion), provenanceSha256 },
            },
          },
          [
            sessionEvent('promotion.committed', {
              runId: context.run.id,
              commitSha,
              parent: preflight.targetHead,
              branch,
            }),
          ],
        );
        promotion = step.promotion;
      }
      if (
        promotion.state === PromotionState.committed ||
        promotion.state === PromotionState.started
      ) {
        await renew();
        const alreadyPushed = await pushBranch(
          { ...git, httpEnv: deps.httpEnvFor(preflight.remote) },
          preflight.remote,
          branch,
          commitSha,
        );
        const step = await recorder.recordPromotionStep(
          { runId: context.run.id, lease: leaseRef(), changes: { state: PromotionState.pushed } },
          [
            sessionEvent('promotion.pushed', {
              runId: context.run.id,
              remote: redactUrl(preflight.remote),
              branch,
              commitSha,
              alreadyPushed,
            }),
          ],
        );
        promotion = step.promotion;
      }
      if (mode === PromotionMode.draftPr && prUrl === null && deps.provider !== null) {
        await renew();
        const forgeRepo = preflight.forgeRepo;
        try {
          if (forgeRepo === null) throw new AasError('PROVIDER_ERROR', 'no forge repository');
          const pr = await deps.provider.openDraftPr({
            ...forgeRepo,
            head: branch,
            base: targetBranch,
            title: prTitle(context),
            body: prBody(context, { targetBranch, checks: preflight.checks, commitSha }),
          });
          prUrl = pr.url;
          const step = await recorder.recordPromotionStep(
            {
              runId: context.run.id,
              lease: leaseRef(),
              changes: { state: PromotionState.prOpened, prUrl },
            },
            [
              sessionEvent('promotion.pr.opened', {
                runId: context.run.id,
                provider: deps.provider.name,
                url: pr.url,
                number: pr.number,
                created: pr.created,
              }),
            ],
          );
          promotion = step.promotion;
        } catch (thrown) {
          if (isLeaseLoss(thrown)) throw thrown;
          const error = normaliseError(thrown);
          prError = error.message;
          const fallback = {
            from: PromotionMode.draftPr,
            to: PromotionMode.branch,
            reason: `the branch ${branch} was pushed, but the pull request could not be opened: ${error.message}`,
          };
          fallbacks.push(fallback);
          mode = PromotionMode.branch;
          await recorder.recordPromotionStep(
            {
              runId: context.run.id,
              lease: leaseRef(),
              changes: { mode, detail: { ...detailOf(promotion), fallbacks, prError } },
            },
            [
              sessionEvent('promotion.pr.failed', {
                runId: context.run.id,
                provider: deps.provider.name,
                branch,
                code: error.code,
                detail: error.message,
              }),
              sessionEvent('promotion.fallback', { runId: context.run.id, ...fallback }),
            ],
          );
        }
      }
    }

    await renew();
    const attestation = await signAndStore(deps, context, {
      mode,
      branch,
      remote: preflight.remote === null ? null : redactUrl(preflight.remote),
      commitSha,
      targetBranch,
      ...(provenanceSha256 === null ? {} : { provenanceSha256 }),
    });
    const finalDetail: PromotionDetail = {
      checks: preflight.checks,
      fallbacks,
      ...(provenanceSha256 === null ? {} : { provenanceSha256 }),
      prError,
    };
    const done = await recorder.recordPromotionStep(
      {
        runId: context.run.id,
        lease: leaseRef(),
        guard: { status: ['promoting'] },
        changes: {
          state: PromotionState.completed,
          mode,
          attestationSha256: attestation.sha256,
          detail: finalDetail,
        },
        runChanges: { status: 'promoted' },
      },
      [
        sessionEvent('promotion.attested', {
          runId: context.run.id,
          attestationSha256: attestation.sha256,
          keyId: attestation.keyId,
          subjects: attestation.subjects,
        }),
        sessionEvent('promotion.completed', {
          runId: context.run.id,
          mode,
          branch,
          commitSha,
          prUrl,
          attestationSha256: attestation.sha256,
        }),
      ],
    );
    return resultOf({ ...context, run: done.run }, done.promotion);
  } catch (thrown) {
    const error = normaliseError(thrown);
    if (promotion !== null && error.code !== 'LEASE_FENCED') {
      await recorder
        .append(
          sessionEvent('promotion.failed', {
            runId: context.run.id,
            step: promotion.state,
            code: error.code,
            detail: error.message,
          }),
        )
        .catch((recordError: unknown) =>
          deps.log.error({ err: recordError }, 'could not record a promotion failure'),
        );
    }
    throw error;
  } finally {
    clearInterval(heartbeat);
    await deps.store
      .releaseWriterLease(fence, deps.clock.nowIso())
      .catch((releaseError: unknown) => {
        deps.log.warn({ err: releaseError, key }, 'could not release the writer lease');
      });
  }
}

function refusalCode(run: { status: RunStatus; reasonCode: string | null }) {
  if (run.reasonCode === 'APPROVAL_REJECTED') return 'APPROVAL_REJECTED' as const;
  if (run.status === 'promoted') return 'CONFLICT' as const;
  return 'PREFLIGHT_FAILED' as const;
}

function isLeaseLoss(thrown: unknown): boolean {
  return thrown instanceof AasError && thrown.code === 'LEASE_FENCED';
}

/** Waits up to `waitMs` for another promotion of the same target to finish. */
async function acquireLease(
  deps: PromotionDeps,
  key: string,
  runId: string,
): Promise<WriterLeaseFence> {
  const deadline = deps.clock.nowMs() + deps.settings.waitMs;
  for (;;) {
    const now = deps.clock.nowMs();
    const lease = await deps.store.acquireWriterLease({
      key,
      owner: `${deps.owner}:${runId}`,
      runId,
      nowIso: new Date(now).toISOString(),
      expiresAt: new Date(now + deps.settings.leaseMs).toISOString(),
    });
    if (lease !== null) return { key, owner: lease.owner, fencingToken: lease.fencingToken };
    if (deps.clock.nowMs() >= deadline) {
      const held = await deps.store.getWriterLease(key);
      throw new AasError(
        'CONFLICT',
        `another promotion holds the writer lease of ${key.split(' ')[0]} (${held?.owner ?? '?'}, run ${held?.runId ?? '?'}, until ${held?.expiresAt ?? '?'})`,
        {
          leaseKey: key,
          holder: held?.owner ?? null,
          hint: 'retry once that promotion finishes; promotions of one target run one at a time',
        },
      );
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

interface PreflightOutcome {
  readonly checks: PreflightCheck[];
  readonly failure: AasError | null;
  readonly mode: PromotionMode;
  readonly fallbacks: { from: string; to: string; reason: string }[];
  readonly patchPath: string;
  readonly remote: string | null;
  readonly targetHead: string | null;
  readonly forgeRepo: { owner: string; repo: string } | null;
}

/**
 * Every check in order, each recorded with its verdict. The first failing hard check decides
 * the error; later checks still run where they can, so the record shows the whole picture.
 * Remote and credential problems are not failures: the mode falls back (draft_pr → branch →
 * patch) and says why.
 */
async function runPreflight(
  deps: PromotionDeps,
  context: PromotionContext,
  openGit: () => Promise<PromotionGit>,
  input: { targetBranch: string; requestedMode: PromotionMode; resuming: boolean },
): Promise<PreflightOutcome> {
  const { run } = context;
  const checks: PreflightCheck[] = [];
  let failure: AasError | null = null;
  const fail = (check: PreflightCheck, error: AasError) => {
    checks.push(check);
    failure ??= error;
  };
  const pass = (name: string, detail: string) => checks.push({ name, ok: true, detail });

  const allowed: readonly RunStatus[] = input.resuming
    ? [...APPROVABLE_STATUSES, 'promoting']
    : APPROVABLE_STATUSES;
  if (allowed.includes(run.status)) pass('run.status', `${run.status}`);
  else {
    const detail = `run is ${run.status}${run.reasonCode ? ` (${run.reasonCode})` : ''}; promotion needs ready_for_promotion or awaiting_approval`;
    fail(
      { name: 'run.status', ok: false, detail },
      new AasError(refusalCode(run), detail, {
        runId: run.id,
        status: run.status,
      }),
    );
  }

  if (run.baseCommit === null || !/^[0-9a-f]{40}$/.test(run.baseCommit)) {
    const detail = 'the run recorded no base commit';
    fail({ name: 'run.base', ok: false, detail }, new AasError('PREFLIGHT_FAILED', detail));
  }

  const failedGates = context.gates.filter((gate) => gate.verdict !== 'passed');
  if (context.gates.length > 0 && failedGates.length === 0 && run.reasonCode === 'GATES_PASSED') {
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

  const patchPath = join(deps.artifactsDir, `${run.patchSha256 ?? 'none'}.patch`);
  let patchText = '';
  if (run.patchSha256 === null) {
    fail(
      { name: 'patch.digest', ok: false, detail: 'the run recorded no patch' },
      new AasError('PREFLIGHT_FAILED', `run ${run.id} recorded no patch`),
    );
  } else {
    try {
      patchText = await readFile(patchPath, 'utf8');
      const actual = sha256Hex(patchText);
      if (actual === run.patchSha256) pass('patch.digest', `sha256:${actual}`);
      else {
        const detail = `the patch file hashes to ${actual}, the run recorded ${run.patchSha256}`;
        fail(
          { name: 'patch.digest', ok: false, detail },
          new AasError('PATCH_DIGEST_MISMATCH', detail, {
            file: patchPath,
            hint: 'the artifact was changed on disk after the run; it is never promoted',
          }),
        );
      }
    } catch {
      const detail = `the patch file ${patchPath} cannot be read`;
      fail(
        { name: 'patch.digest', ok: false, detail },
        new AasError('PATCH_DIGEST_MISMATCH', detail, { file: patchPath }),
      );
    }
  }

  const approvals = await deps.store.listApprovals({ runId: run.id });
  const standing = standingOf(context, approvals, input.targetBranch, deps.clock.nowIso());
  const counted = standing.filter((entry) => entry.counts);
  const required = context.policy.approvals;
  const notCounted = standing
    .filter((entry) => !entry.counts)
    .map((entry) => `${entry.approval.decidedBy}: ${entry.reason}`);
  const approvalDetail = `${counted.length} of ${required} required${
    counted.length > 0 ? ` (${counted.map((entry) => entry.approval.decidedBy).join(', ')})` : ''
  }${notCounted.length > 0 ? `; not counted: ${notCounted.join('; ')}` : ''}`;
  if (counted.length >= required) pass('approvals', approvalDetail);
  else {
    fail(
      { name: 'approvals', ok: false, detail: approvalDetail },
      new AasError('APPROVAL_REQUIRED', `run ${run.id} has ${approvalDetail}`, {
        runId: run.id,
        required,
        counted: counted.length,
        hint: `an approver runs: aas approve ${run.id}`,
      }),
    );
  }

  let mode = input.requestedMode;
  const fallbacks: { from: string; to: string; reason: string }[] = [];
  const fallBack = (to: PromotionMode, reason: string) => {
    fallbacks.push({ from: mode, to, reason });
    mode = to;
  };
  let remote: string | null = null;
  let targetHead: string | null = null;
  let forgeRepo: { owner: string; repo: string } | null = null;

  if (mode === PromotionMode.draftPr) {
    const url = await remoteUrlOf(await openGit(), deps.settings.remote);
    const named = context.job.promotion.repository?.split('/');
    forgeRepo =
      named?.[0] !== undefined && named[1] !== undefined
        ? { owner: named[0], repo: named[1] }
        : url === null
          ? null
          : parseGitHubRemote(url, deps.settings.forgeHost);
    if (deps.provider === null) {
      fallBack(PromotionMode.branch, 'no forge credential is configured (AAS_GITHUB_TOKEN)');
    } else if (forgeRepo === null) {
      fallBack(
        PromotionMode.branch,
        `the remote ${deps.settings.remote} is not a repository on ${deps.settings.forgeHost}`,
      );
    } else pass('credentials', `${deps.provider.name}: ${forgeRepo.owner}/${forgeRepo.repo}`);
  }
  if (mode === PromotionMode.branch || mode === PromotionMode.draftPr) {
    const git = await openGit();
    const url = await remoteUrlOf(git, deps.settings.remote);
    if (url === null) {
      fallBack(PromotionMode.patch, `the repository has no remote named ${deps.settings.remote}`);
    } else {
      remote = url;
      const branch = branchNameOf(deps.settings.branchPrefix, context.session.id);
      const protectedHit = context.policy.protectedBranches.includes(branch);
      if (branch === input.targetBranch || protectedHit) {
        const detail = `the promotion branch ${branch} is ${protectedHit ? 'protected by the policy' : 'the target branch itself'}`;
        fail(
          { name: 'target.branch', ok: false, detail },
          new AasError('PREFLIGHT_FAILED', detail),
        );
      }
      const gitWithAuth = { ...git, httpEnv: deps.httpEnvFor(url) };
      try {
        targetHead = await remoteBranchHead(gitWithAuth, url, input.targetBranch);
      } catch (thrown) {
        const error = normaliseError(thrown);
        fallBack(PromotionMode.patch, `the remote cannot be read: ${error.message}`);
        remote = null;
      }
      if (remote !== null && targetHead === null) {
        const detail = `the target branch ${input.targetBranch} does not exist on ${redactUrl(url)}`;
        fail(
          { name: 'target.branch', ok: false, detail },
          new AasError('PREFLIGHT_FAILED', detail, {
            field: 'promotion.targetBranch',
            hint: 'name an existing branch in the job, or push it first',
          }),
        );
      } else if (remote !== null && targetHead !== null) {
        pass(
          'target.branch',
          `${input.targetBranch} at ${targetHead} on ${redactUrl(url)}; writes ${branch}`,
        );
        await fetchBranch(gitWithAuth, url, input.targetBranch);
        const base = await baseCheck(deps, context, git, {
          targetHead,
          patchPath,
          patchText,
        });
        checks.push(base.check);
        if (base.error !== null) failure ??= base.error;
        pass(
          'writes.isolated',
          `the commit is built in a private git dir from ${input.targetBranch}; the checkout at ${git.repoRoot}, its index and its refs are not written`,
        );
      }
    }
  }
  if (mode === PromotionMode.patch) {
    pass('mode', fallbacks.length > 0 ? `patch (fell back: ${fallbacks.at(-1)?.reason})` : 'patch');
  } else pass('mode', mode);
  return { checks, failure, mode, fallbacks, patchPath, remote, targetHead, forgeRepo };
}

async function baseCheck(
  deps: PromotionDeps,
  context: PromotionContext,
  git: PromotionGit,
  input: { targetHead: string; patchPath: string; patchText: string },
): Promise<{ check: PreflightCheck; error: AasError | null }> {
  const base = context.run.baseCommit;
  if (base === input.targetHead) {
    return { check: { name: 'base', ok: true, detail: `unchanged at ${base}` }, error: null };
  }
  const applies = await patchApplies(git, input.targetHead, input.patchPath);
  const moved = `the target moved from ${base ?? '?'} to ${input.targetHead}`;
  if (!applies.ok) {
    const detail = `${moved} and the patch no longer applies: ${applies.detail.split('\n')[0] ?? ''}`;
    return {
      check: { name: 'base', ok: false, detail },
      error: new AasError('BASE_MOVED', detail, {
        hint: 'run the job again on the current target',
      }),
    };
  }
  if (context.policy.onBaseMoved === 'block') {
    const detail = `${moved}; the patch applies, but the policy says onBaseMoved: block`;
    return {
      check: { name: 'base', ok: false, detail },
      error: new AasError('BASE_MOVED', detail),
    };
  }
  if (context.job.validators.length === 0) {
    return {
      check: {
        name: 'base',
        ok: true,
        detail: `${moved}; the patch applies there and the job has no validators to run again`,
      },
      error: null,
    };
  }
  if (deps.revalidate === undefined) {
    const detail = `${moved}; re-validation is not available in this process`;
    return {
      check: { name: 'base', ok: false, detail },
      error: new AasError('BASE_MOVED', detail),
    };
  }
  const verdict = await deps.revalidate({
    context,
    git,
    newBase: input.targetHead,
    patchText: input.patchText,
  });
  const detail = `${moved}; re-validated there: ${verdict.detail}`;
  return verdict.ok
    ? { check: { name: 'base', ok: true, detail }, error: null }
    : { check: { name: 'base', ok: false, detail }, error: new AasError('BASE_MOVED', detail) };
}

/**
 * A refused promotion writes nothing but its record: the checks as events, and for missing
 * approvals the run moves to `awaiting_approval` so the inbox shows it.
 */
async function recordRefusal(
  deps: PromotionDeps,
  recorder: SessionRecorder,
  context: PromotionContext,
  failure: AasError,
  events: readonly TypedEvent[],
): Promise<void> {
  try {
    if (failure.code === 'APPROVAL_REQUIRED' && context.run.status === 'ready_for_promotion') {
      await recorder.updateRun(context.run.id, { status: 'awaiting_approval' }, events, {
        status: ['ready_for_promotion'],
        version: context.run.version,
      });
    } else await recorder.append(...events);
  } catch (thrown) {
    deps.log.warn({ err: thrown, runId: context.run.id }, 'could not record a refused promotion');
  }
}

/** Re-checks the remote first, so a retry after a crash after the push finds its own branch. */
async function pushBranch(
  git: PromotionGit,
  remoteUrl: string,
  branch: string,
  commitSha: string,
): Promise<boolean> {
  const before = await remoteBranchHead(git, remoteUrl, branch);
  if (before === commitSha) return true;
  if (before !== null) throw branchExists(branch, before, commitSha);
  const outcome = await createRemoteBranch(git, remoteUrl, branch, commitSha);
  if (outcome === 'created') return false;
  const after = await remoteBranchHead(git, remoteUrl, branch);
  if (after === commitSha) return true;
  throw branchExists(branch, after ?? '?', commitSha);
}

function branchExists(branch: string, found: string, wanted: string): AasError {
  return new AasError(
    'BRANCH_EXISTS',
    `the remote already has ${branch} at ${found}, not this promotion's commit ${wanted}; it is never overwritten`,
    { branch, found, wanted, hint: 'delete or rename that branch on the remote, then retry' },
  );
}

/** `aas/<12 hex>`: the random half of the session id, unique and stable across retries. */
export function branchNameOf(prefix: string, sessionId: string): string {
  const short = sessionId.replace(/^ses_/, '').slice(-12);
  return `${prefix.endsWith('/') || prefix === '' ? prefix : `${prefix}/`}${short}`;
}

function firstLine(text: string, max: number): string {
  const line = text.split('\n').find((candidate) => candidate.trim() !== '') ?? 'change';
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/** The commit message: the task, then trailers linking the session, run and provenance. */
export function commitMessage(context: PromotionContext, provenanceSha256: string): string {
  return [
    firstLine(context.session.task, 72),
    '',
    `Promoted by AAS from run ${context.run.id} (agent ${context.agentId}).`,
    '',
    `AAS-Session: ${context.session.id}`,
    `AAS-Run: ${context.run.id}`,
    `AAS-Patch: sha256:${context.run.patchSha256 ?? ''}`,
    `AAS-Attestation: sha256:${provenanceSha256}`,
    '',
  ].join('\n');
}

const PUBLIC_CHECK_DETAILS = new Set([
  'run.status',
  'gates.passed',
  'patch.digest',
  'approvals',
  'mode',
]);

function prTitle(context: PromotionContext): string {
  return `[AAS] ${firstLine(context.session.task, 100)}`;
}

function prBody(
  context: PromotionContext,
  input: { targetBranch: string; checks: readonly PreflightCheck[]; commitSha: string },
): string {
  const gates = context.gates.map(
    (gate) => `| ${gate.name} | ${gate.verdict} | ${gate.code ?? ''} |`,
  );
  return [
    `Promoted by AAS from session \`${context.session.id}\`, run \`${context.run.id}\`.`,
    '',
    '## Task',
    '',
    context.session.task.slice(0, 4_000),
    '',
    '## Summary',
    '',
    `- agent: \`${context.agentId}\``,
    `- requested by: ${context.session.requestedBy}`,
    `- base: \`${context.run.baseCommit ?? '?'}\`, target: \`${input.targetBranch}\``,
    `- patch: \`sha256:${context.run.patchSha256 ?? ''}\`, commit \`${input.commitSha}\``,
    '',
    '## Gates',
    '',
    '| gate | verdict | code |',
    '|---|---|---|',
    ...gates,
    '',
    '## Preflight',
    '',
    // Only checks whose details say nothing about this server's file system or remotes.
    ...input.checks.map((check) =>
      PUBLIC_CHECK_DETAILS.has(check.name)
        ? `- ${check.ok ? '✅' : '❌'} **${check.name}**: ${check.detail}`
        : `- ${check.ok ? '✅' : '❌'} **${check.name}**`,
    ),
    '',
    'This pull request is a draft: review it like any other change.',
  ].join('\n');
}

function detailOf(promotion: PromotionRecord): PromotionDetail {
  const detail = promotion.detail as Partial<PromotionDetail> | null;
  return {
    checks: Array.isArray(detail?.checks) ? detail.checks : [],
    fallbacks: Array.isArray(detail?.fallbacks) ? detail.fallbacks : [],
    ...(typeof detail?.provenanceSha256 === 'string'
      ? { provenanceSha256: detail.provenanceSha256 }
      : {}),
    ...(typeof detail?.prError === 'string' ? { prError: detail.prError } : {}),
  };
}

function resultOf(context: PromotionContext, promotion: PromotionRecord): PromotionResult {
  const detail = detailOf(promotion);
  return {
    runId: context.run.id,
    status: context.run.status,
    requestedMode: promotion.requestedMode,
    mode: promotion.mode ?? promotion.requestedMode,
    branch: promotion.branch,
    commitSha: promotion.commitSha,
    prUrl: promotion.prUrl,
    attestationSha256: promotion.attestationSha256 ?? '',
    checks: detail.checks,
    fallbacks: detail.fallbacks,
    prError: detail.prError ?? null,
  };
}

/** Where attestations are kept: content-addressed like patches. */
export function attestationPath(artifactsDir: string, sha256: string): string {
  return join(artifactsDir, 'attestations', `${sha256}.dsse.json`);
}

/**
 * Builds, signs and stores an attestation of the run's patch (and commit, when there is one),
 * anchored to the session's current head. Returns the SHA-256 of the stored envelope bytes.
 */
async function signAndStore(
  deps: PromotionDeps,
  context: PromotionContext,
  input: {
    mode: string;
    branch: string | null;
    remote: string | null;
    commitSha: string | null;
    targetBranch: string;
    provenanceSha256?: string;
  },
): Promise<{ sha256: string; keyId: string; subjects: string[] }> {
  const key = await deps.signingKey();
  const session = await deps.store.getSession(context.session.id);
  const approvals = standingOf(
    context,
    await deps.store.listApprovals({ runId: context.run.id }),
    input.targetBranch,
    deps.clock.nowIso(),
  ).filter((entry) => entry.counts);
  const predicate: PromotionPredicate & { provenanceAttestation?: string } = {
    runId: context.run.id,
    sessionId: context.session.id,
    repo: context.session.repo,
    targetBranch: input.targetBranch,
    baseCommit: context.run.baseCommit ?? '',
    agent: { id: context.agentId, version: null },
    policyDigest: context.policyDigest,
    gates: context.gates,
    approvers: approvals.map((entry) => ({
      name: entry.approval.decidedBy,
      decidedAt: entry.approval.createdAt,
    })),
    requestedBy: context.session.requestedBy,
    producedBy: context.producers,
    sessionHead: {
      seq: session?.lastSeq ?? context.head.seq,
      hash: session?.lastHash ?? context.head.hash,
    },
    promotion: { mode: input.mode, branch: input.branch, remote: input.remote },
    createdAt: deps.clock.nowIso(),
    ...(input.provenanceSha256 === undefined
      ? {}
      : { provenanceAttestation: `sha256:${input.provenanceSha256}` }),
  };
  const statement = buildStatement({
    patchName: `${context.run.patchSha256 ?? ''}.patch`,
    patchSha256: context.run.patchSha256 ?? '',
    ...(input.commitSha === null ? {} : { commitSha: input.commitSha }),
    predicate,
  });
  const envelope = signEnvelope(PROVENANCE_PAYLOAD_TYPE, statementBytes(statement), key);
  const bytes = `${canonicalJson(envelope)}\n`;
  const sha256 = sha256Hex(bytes);
  const path = attestationPath(deps.artifactsDir, sha256);
  await mkdir(join(deps.artifactsDir, 'attestations'), { recursive: true });
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, bytes);
  await rename(temporary, path);
  return {
    sha256,
    keyId: key.keyId,
    subjects: statement.subject.map((subject) => subject.name),
  };
}
