import { randomBytes } from 'node:crypto';
import { mkdir, realpath, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  AasError,
  canonicalJson,
  isOpaqueCode,
  normaliseError,
  sha256Hex,
  shareableMessage,
} from '../kernel/index.js';
import { SessionRecorder, sessionEvent, type TypedEvent } from '../sessions/index.js';
import { type PromotionRecord, type WriterLeaseFence, writerLeaseKey } from '../store/index.js';
import { APPROVABLE_STATUSES, standingOf, targetBranchOf } from './approvals.js';
import type { DraftPrProvider } from './draft-pr-provider.js';
import { signEnvelope } from './dsse.js';
import { loadPromotionContext, type PromotionContext } from './promotion-context.js';
import type { PromotionDeps } from './promotion-deps.js';
import { detailOf, type PromotionDetail, type PromotionFailure } from './promotion-detail.js';
import {
  commitPatch,
  createRemoteBranch,
  fetchBranch,
  hasCommit,
  openPromotionGit,
  type PromotionGit,
  redactUrl,
  remoteBranchHead,
} from './promotion-git.js';
import { branchNameOf } from './promotion-names.js';
import {
  type Fallback,
  type PreflightCheck,
  PromotionMode,
  runPreflight,
} from './promotion-preflight.js';
import {
  buildStatement,
  PROVENANCE_PAYLOAD_TYPE,
  type PromotionPredicate,
  statementBytes,
} from './provenance-statement.js';

export type { PromotionDeps, RevalidationInput } from './promotion-deps.js';
export { branchNameOf } from './promotion-names.js';
export { type PreflightCheck, PromotionMode } from './promotion-preflight.js';

/** Where a promotion is; each state is recorded before the next step starts. */
export const PromotionState = {
  started: 'started',
  committed: 'committed',
  pushed: 'pushed',
  prOpened: 'pr_opened',
  completed: 'completed',
} as const;

export interface PromotionResult {
  readonly runId: string;
  readonly status: import('../store/index.js').RunStatus;
  readonly requestedMode: string;
  readonly mode: string;
  readonly branch: string | null;
  readonly commitSha: string | null;
  readonly prUrl: string | null;
  readonly attestationSha256: string;
  readonly checks: readonly PreflightCheck[];
  readonly fallbacks: readonly Fallback[];
  /** A pushed branch whose pull request could not be opened: reported, never silent. */
  readonly prError: string | null;
  /**
   * True when the run had been promoted before this request, which did nothing: the result,
   * checks included, is the recorded one (a run is promoted once).
   */
  readonly alreadyPromoted: boolean;
  /** When the promotion completed, and who asked for it. */
  readonly promotedAt: string;
  readonly promotedBy: string;
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
  input: {
    runId: string;
    by: string;
    mode?: PromotionMode;
    /** How long to wait for the target's writer lease; the configured wait by default. */
    waitMs?: number;
  },
): Promise<PromotionResult> {
  const first = await loadPromotionContext(deps.store, input.runId);
  const recorded = await deps.store.getPromotion(input.runId);
  if (recorded?.state === PromotionState.completed) {
    return resultOf(first, satisfying(recorded, input.mode), true);
  }
  const targetBranch = recorded?.targetBranch ?? (await targetBranchOf(first, deps.runsDir));
  // One row per target, whatever path spelling a session used for the repository.
  const repoKey = await realpath(first.session.repo).catch(() => first.session.repo);
  const key = writerLeaseKey(repoKey, targetBranch);
  const fence = await acquireLease(deps, key, first.run.id, input.waitMs ?? deps.settings.waitMs);
  const lease = () => ({ fence, nowIso: deps.clock.nowIso() });
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
  // Long steps (a slow push, a pull request call, re-validation) outlast a lease: a heartbeat
  // renews it meanwhile. Once a renewal is refused the lease is gone, and the next step's own
  // check (in its transaction) stops the promotion before it records anything.
  let leaseLost = false;
  const heartbeat = setInterval(
    () => {
      if (!leaseLost) {
        renew().catch(() => {
          leaseLost = true;
        });
      }
    },
    Math.max(250, Math.floor(deps.settings.leaseMs / 3)),
  );
  heartbeat.unref();
  const recorder = new SessionRecorder(deps, first.session.id, input.by);
  let promotion: PromotionRecord | null = null;
  try {
    // Read again under the lease: whatever a holder before us recorded is visible now.
    let context = await loadPromotionContext(deps.store, input.runId);
    promotion = await deps.store.getPromotion(input.runId);
    if (promotion?.state === PromotionState.completed) {
      return resultOf(context, satisfying(promotion, input.mode), true);
    }
    // A draft pull request that could not be opened leaves its promotion pushed; asked again
    // with `--mode branch`, it finishes as the branch it already is.
    const settleForBranch =
      promotion !== null &&
      input.mode === PromotionMode.branch &&
      promotion.mode === PromotionMode.draftPr;
    const requestedMode = (promotion?.requestedMode ??
      input.mode ??
      context.job.promotion.mode) as PromotionMode;
    let opened: Promise<PromotionGit> | null = null;
    const openGit = () => {
      opened ??= openPromotionGit(join(deps.runsDir, context.run.id), context.session.repo);
      return opened;
    };
    const preflight = await runPreflight(deps, context, openGit, {
      targetBranch,
      requestedMode,
      explicitMode: input.mode !== undefined,
      existing: promotion,
    });
    const preflightEvents: TypedEvent[] = [
      sessionEvent('promotion.requested', {
        runId: context.run.id,
        requestedMode,
        targetBranch,
        resumed: promotion !== null,
      }),
      sessionEvent('promotion.lease.acquired', {
        runId: context.run.id,
        key,
        owner: fence.owner,
        fencingToken: fence.fencingToken,
        expiresAt: new Date(deps.clock.nowMs() + deps.settings.leaseMs).toISOString(),
      }),
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
      // Every check goes with the refusal, so that whoever asked sees which passed and which not.
      throw withChecks(preflight.failure, preflight.checks);
    }
    const before = promotion === null ? null : detailOf(promotion);
    const startDetail: PromotionDetail = {
      ...before,
      lastFailure: null,
      checks: preflight.checks,
      fallbacks: [...(before?.fallbacks ?? []), ...preflight.fallbacks],
      approvalIds: preflight.approvalIds,
      ...(preflight.parent === null ? {} : { parent: preflight.parent }),
    };
    const started = await recorder.recordPromotionStep(
      {
        runId: context.run.id,
        lease: lease(),
        guard: { status: [...APPROVABLE_STATUSES, 'promoting'] },
        create: {
          runId: context.run.id,
          requestedMode,
          state: PromotionState.started,
          requestedBy: input.by,
          targetBranch,
          startedAt: deps.clock.nowIso(),
          detail: startDetail,
        },
        changes: { mode: preflight.mode, detail: startDetail },
        runChanges: { status: 'promoting' },
      },
      preflightEvents,
    );
    promotion = started.promotion;
    context = { ...context, run: started.run };

    let mode = preflight.mode;
    let branch: string | null = promotion.branch;
    let commitSha: string | null = promotion.commitSha;
    let prUrl: string | null = promotion.prUrl;
    let prError: string | null = null;
    const fallbacks = [...startDetail.fallbacks];
    let provenanceSha256 = startDetail.provenanceSha256 ?? null;
    const remote = preflight.remote;
    const parent = preflight.parent;

    if (mode !== PromotionMode.patch && remote !== null && parent !== null) {
      // A promotion that committed keeps the branch it recorded (and may have pushed): the
      // prefix in the configuration may have changed since, on this replica or another.
      branch = promotion.branch ?? branchNameOf(deps.settings.branchPrefix, context.session.id);
      const git = { ...(await openGit()), httpEnv: deps.httpEnvFor(remote) };
      const identity = {
        name: deps.settings.authorName,
        email: deps.settings.authorEmail,
        dateIso: promotion.startedAt,
      };
      if (commitSha === null) {
        const provenance = await signAndStore(deps, context, {
          mode,
          branch,
          remote: redactUrl(remote),
          commitSha: null,
          targetBranch,
        });
        provenanceSha256 = provenance.sha256;
        commitSha = await commitPatch(git, {
          parent,
          patch: preflight.patch,
          message: commitMessage(context, provenance.sha256),
          identity,
        });
        const step = await recorder.recordPromotionStep(
          {
            runId: context.run.id,
            lease: lease(),
            changes: {
              state: PromotionState.committed,
              commitSha,
              branch,
              remote: redactUrl(remote),
              detail: { ...startDetail, provenanceSha256, parent },
            },
          },
          [
            sessionEvent('promotion.committed', {
              runId: context.run.id,
              commitSha,
              parent,
              branch,
            }),
          ],
        );
        promotion = step.promotion;
      } else if (!(await hasCommit(git, commitSha))) {
        // The private git dir went (another replica without a shared AAS_HOME, a cleanup): the
        // commit is deterministic, so it is built again from what was recorded.
        await fetchBranch(git, remote, targetBranch);
        const rebuilt = await commitPatch(git, {
          parent,
          patch: preflight.patch,
          message: commitMessage(context, provenanceSha256 ?? ''),
          identity,
        });
        if (rebuilt !== commitSha) {
          throw new AasError(
            'INTERNAL',
            `the recorded commit ${commitSha} is gone and could not be rebuilt (got ${rebuilt})`,
            { hint: 'the branch is still unpushed: promote the run again after a new run' },
          );
        }
      }
      // A promotion stopped after its push (its pull request not opened) may wait for days:
      // before a pull request or a settled branch goes on record, the branch is looked at
      // again (made again if it was deleted, BRANCH_EXISTS if it moved).
      const pushedBefore = promotion.state === PromotionState.pushed && prUrl === null;
      if (
        promotion.state === PromotionState.started ||
        promotion.state === PromotionState.committed ||
        pushedBefore
      ) {
        await renew();
        const alreadyPushed = await pushBranch(git, remote, branch, commitSha);
        const step = await recorder.recordPromotionStep(
          { runId: context.run.id, lease: lease(), changes: { state: PromotionState.pushed } },
          [
            sessionEvent('promotion.pushed', {
              runId: context.run.id,
              remote: redactUrl(remote),
              branch,
              commitSha,
              alreadyPushed,
            }),
          ],
        );
        promotion = step.promotion;
      }
      if (mode === PromotionMode.draftPr && prUrl === null && settleForBranch) {
        // Asked to finish without the pull request (`--mode branch`), which could not be opened.
        const fallback = {
          from: PromotionMode.draftPr,
          to: PromotionMode.branch,
          reason: `finished without a pull request, as asked${
            before?.prError ? ` (it could not be opened: ${before.prError})` : ''
          }`,
        };
        fallbacks.push(fallback);
        mode = PromotionMode.branch;
        prError = before?.prError ?? null;
        const step = await recorder.recordPromotionStep(
          {
            runId: context.run.id,
            lease: lease(),
            changes: { mode, detail: { ...detailOf(promotion), fallbacks } },
          },
          [sessionEvent('promotion.fallback', { runId: context.run.id, ...fallback })],
        );
        promotion = step.promotion;
      }
      if (mode === PromotionMode.draftPr && prUrl === null && deps.provider !== null) {
        await renew();
        let opened: Awaited<ReturnType<DraftPrProvider['openDraftPr']>> | null = null;
        let failure: AasError | null = null;
        try {
          if (preflight.forgeRepo === null) {
            throw new AasError('PROVIDER_ERROR', 'no forge repository');
          }
          opened = await deps.provider.openDraftPr({
            ...preflight.forgeRepo,
            head: branch,
            base: targetBranch,
            title: prTitle(context),
            body: prBody(context, { targetBranch, checks: preflight.checks, commitSha }),
          });
        } catch (thrown) {
          failure = normaliseError(thrown);
        }
        if (opened !== null) {
          prUrl = opened.url;
          const step = await recorder.recordPromotionStep(
            {
              runId: context.run.id,
              lease: lease(),
              changes: { state: PromotionState.prOpened, prUrl },
            },
            [
              sessionEvent('promotion.pr.opened', {
                runId: context.run.id,
                provider: deps.provider.name,
                url: opened.url,
                number: opened.number,
                created: opened.created,
              }),
            ],
          );
          promotion = step.promotion;
        } else if (failure !== null) {
          // The promotion stops here, pushed: a retry opens the pull request once the forge
          // answers (a timeout, a 502, a token fixed), and `--mode branch` settles for the
          // branch. Falling back on its own would close the promotion for good over a blip.
          const said = shareableMessage(failure);
          const step = await recorder.recordPromotionStep(
            {
              runId: context.run.id,
              lease: lease(),
              changes: { detail: { ...detailOf(promotion), prError: said } },
            },
            [
              sessionEvent('promotion.pr.failed', {
                runId: context.run.id,
                provider: deps.provider.name,
                branch,
                code: failure.code,
                detail: said,
              }),
            ],
          );
          promotion = step.promotion;
          // Anything but the forge's answer (a fault of ours) goes on as it is, unwrapped.
          if (failure.code !== 'PROVIDER_ERROR') throw failure;
          throw new AasError(
            'PROVIDER_ERROR',
            `the branch ${branch} was pushed, but the pull request could not be opened: ${failure.message}`,
            {
              ...failure.details,
              hint: `${failure.details.hint ? `${failure.details.hint}. ` : ''}Promote the run again to open the pull request on the branch pushed, or promote it with --mode branch to finish without one`,
            },
            { cause: failure },
          );
        }
      }
    }

    await renew();
    const attestation = await signAndStore(deps, context, {
      mode,
      branch,
      remote: remote === null ? null : redactUrl(remote),
      commitSha,
      targetBranch,
      ...(provenanceSha256 === null ? {} : { provenanceSha256 }),
    });
    const finalDetail: PromotionDetail = {
      ...detailOf(promotion),
      checks: preflight.checks,
      fallbacks,
      ...(provenanceSha256 === null ? {} : { provenanceSha256 }),
      prError,
    };
    const done = await recorder.recordPromotionStep(
      {
        runId: context.run.id,
        lease: lease(),
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
    return resultOf({ ...context, run: done.run }, done.promotion, false);
  } catch (thrown) {
    const error = normaliseError(thrown);
    if (promotion !== null && error.code !== 'LEASE_FENCED') {
      // Readers of the record and of the history see it, not only the log: an internal
      // error's own words (paths, hosts, SQL) stay in the log.
      const said = shareableMessage(error);
      const failed = sessionEvent('promotion.failed', {
        runId: input.runId,
        step: promotion.state,
        code: error.code,
        detail: said,
      });
      const lastFailure: PromotionFailure = {
        step: promotion.state,
        code: error.code,
        message: said,
        ...(typeof error.details.hint === 'string' && !isOpaqueCode(error.code)
          ? { hint: error.details.hint }
          : {}),
        at: deps.clock.nowIso(),
      };
      // On the record too, where the API and the panel read it (`aas sessions show` reads the
      // event); with the event alone when the lease is no longer ours to write the record under.
      const stepped = promotion;
      await recorder
        .recordPromotionStep(
          {
            runId: input.runId,
            lease: lease(),
            changes: { detail: { ...detailOf(stepped), lastFailure } },
          },
          [failed],
        )
        .catch(() => recorder.append(failed))
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

/**
 * Waits up to `waitMs` for another promotion of the same target to finish. Every call holds
 * the lease under an owner of its own (a nonce), so two requests for the same run in one
 * process wait for each other like any two promotions.
 */
async function acquireLease(
  deps: PromotionDeps,
  key: string,
  runId: string,
  waitMs: number,
): Promise<WriterLeaseFence> {
  const owner = `${deps.owner}:${runId}:${randomBytes(4).toString('hex')}`;
  const deadline = deps.clock.nowMs() + waitMs;
  for (;;) {
    const now = deps.clock.nowMs();
    const lease = await deps.store.acquireWriterLease({
      key,
      owner,
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

/** What each mode leaves: a branch promotion has the patch too, a pull request the branch. */
const MODE_RANK: ReadonlyMap<string, number> = new Map([
  [PromotionMode.patch, 0],
  [PromotionMode.branch, 1],
  [PromotionMode.draftPr, 2],
]);

/**
 * A completed promotion, when it gives what `asked` names (nothing asked: whatever it gave). A
 * run is promoted once: `--mode branch` for a run promoted as a patch cannot be had, and must
 * not answer as if it had been (a script's `aas promote R --mode branch && …` would go on).
 */
function satisfying(promotion: PromotionRecord, asked: PromotionMode | undefined): PromotionRecord {
  const given = promotion.mode ?? promotion.requestedMode;
  if (asked === undefined || (MODE_RANK.get(given) ?? 0) >= (MODE_RANK.get(asked) ?? 0)) {
    return promotion;
  }
  throw new AasError(
    'PREFLIGHT_FAILED',
    `run ${promotion.runId} was promoted as ${given} at ${promotion.updatedAt}; a run is promoted once, so --mode ${asked} cannot be had`,
    {
      field: '--mode',
      runId: promotion.runId,
      hint: `run the job again to promote its patch as ${asked}`,
    },
  );
}

function resultOf(
  context: PromotionContext,
  promotion: PromotionRecord,
  alreadyPromoted: boolean,
): PromotionResult {
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
    alreadyPromoted,
    promotedAt: promotion.updatedAt,
    promotedBy: promotion.requestedBy,
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
    requestedBy: context.history.requestedBy ?? context.session.requestedBy,
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

/** `error` with the preflight's checks in its details (the API's error body carries them). */
function withChecks(error: AasError, checks: readonly PreflightCheck[]): AasError {
  return new AasError(error.code, error.message, { ...error.details, checks }, { cause: error });
}
