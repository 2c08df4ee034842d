import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { AgentManifest } from '../drivers/index.js';
import {
  AasError,
  type Code,
  IdPrefix,
  isAasError,
  isCode,
  newId,
  normaliseError,
} from '../kernel/index.js';
import {
  agentPolicyLayer,
  type EffectivePolicy,
  FLOOR_LAYER,
  mergePolicy,
  type NamedLayer,
  REPO_POLICY_PATH,
  repoPolicyLayer,
} from '../policy/index.js';
import { limitEnforcement, type SandboxSelection, selectSandbox } from '../sandbox/index.js';
import { SessionRecorder, sessionEvent } from '../sessions/index.js';
import type { HeldFence, LeaseRenewal, RunRecord, RunStatus } from '../store/index.js';
import {
  checkRepoPath,
  collectOrphanWorkspaces,
  fetchRepoUrl,
  isRepoUrl,
  type PatchStats,
  prepareRunGit,
  readPolicyFileAtCommit,
  resolveBase,
} from '../workspaces/index.js';
import { requireModelUpstreams } from './attempt-gateway.js';
import { type JobSpec, parseJobSpec } from './job-spec.js';
import { loadModelAllowance, type ModelAllowance } from './model-allowance.js';
import { requireAgentInput } from './require-agent-input.js';
import { type AttemptOutcome, runAttempt } from './run-attempt.js';
import { runStatusFor } from './run-status-for.js';
import type { ExecutionDeps, RunnerDeps } from './runner-deps.js';
import { STOP_REASON } from './stop-reason.js';

export interface RunOutcome {
  readonly sessionId: string;
  readonly runId: string;
  readonly status: RunStatus;
  readonly reasonCode: Code;
  readonly detail: string;
  readonly baseCommit: string | null;
  readonly patch: {
    readonly sha256: string;
    readonly path: string;
    readonly stats: PatchStats;
    readonly files: readonly {
      path: string;
      status: string;
      insertions: number;
      deletions: number;
      binary: boolean;
    }[];
  } | null;
  readonly attempts: number;
  /** Empty when this process lost the run and so wrote no summary. */
  readonly summaryPath: string;
}

/**
 * Where AAS's own data may sit inside a checkout, none of it the user's work: every entry of
 * this host's home, and of a `.aas` directory at the repository's root (the default home of
 * any earlier run, whatever home this one uses), but `policy.yaml`, the repository's own policy
 * layer. Untracked files there neither make the base dirty nor enter a snapshot: a signing key,
 * another run's database or artifacts must never reach a workspace (`--allow-dirty-base` put
 * them there), and a later run must not find the first one's cache "uncommitted".
 */
async function aasDataPaths(home: string, repoRoot: string): Promise<string[]> {
  const paths: string[] = [];
  for (const dir of new Set([resolve(home), join(repoRoot, '.aas')])) {
    const entries = await readdir(dir).catch(() => [] as string[]);
    for (const entry of entries) if (entry !== 'policy.yaml') paths.push(join(dir, entry));
  }
  return paths;
}

interface Terminal {
  readonly code: Code;
  readonly detail: string;
  readonly attempt?: AttemptOutcome;
}

/** One agent as the run will use it: validated, with its merged policy and sandbox decided. */
interface AgentPlan {
  readonly manifest: AgentManifest;
  readonly policy: EffectivePolicy;
  readonly sandbox: SandboxSelection;
}

interface RunContext {
  readonly deps: ExecutionDeps;
  readonly recorder: SessionRecorder;
  readonly run: RunRecord;
  readonly runDir: string;
  readonly signal: AbortSignal;
  readonly cancelled: () => boolean;
  readonly localBase: ClaimedRunOptions['localBase'];
  baseCommit: string | null;
}

/** How the holder of a claimed run keeps its lease and learns that it must stop. */
export interface ClaimedRunOptions {
  /** Renews the lease; defaults to the store's renewal with this runner's lease length. */
  readonly renewLease?: () => Promise<LeaseRenewal>;
  /** Aborted on shutdown: stop the sandbox and give the run back instead of deciding it. */
  readonly stop?: AbortSignal;
  /** Aborted by a local cancel (Ctrl-C of `aas run`): the run ends CANCELLED. */
  readonly cancel?: AbortSignal;
  /**
   * Where this host already holds the run's base: a repository (a remote worker's cache) and the
   * commit in it. The run works from there and is recorded under the repository and ref its job
   * names, as if it had read them itself.
   */
  readonly localBase?: { readonly repo: string; readonly commit: string };
  /** Called after every heartbeat, held or not (worker status, metrics). */
  readonly onHeartbeat?: (renewal: LeaseRenewal) => void;
}

/** A claimed run that was given back on shutdown: nothing terminal was recorded. */
export interface StoppedRun {
  readonly stopped: true;
  readonly runId: string;
}

/**
 * Claims a run reserved for (or merely queued and claimable by) this runner, then executes it.
 * `aas run` uses this: it submits a run reserved for itself and runs it at once.
 */
export async function executeRun(
  deps: RunnerDeps,
  runId: string,
  options: { signal?: AbortSignal } = {},
): Promise<RunOutcome> {
  const run = await deps.store.getRun(runId);
  if (!run) throw new AasError('NOT_FOUND', `no run ${runId}`, { field: 'runId' });
  const nowIso = deps.clock.nowIso();
  const leaseExpiresAt = new Date(deps.clock.nowMs() + deps.runLeaseMs).toISOString();
  const claimed = await deps.store.claimRun({
    owner: deps.owner,
    nowIso,
    leaseExpiresAt,
    runId,
  });
  if (claimed === null) {
    const current = (await deps.store.getRun(runId)) ?? run;
    throw new AasError(
      'CONFLICT',
      `run ${runId} cannot be started here: it is ${current.status}${current.leaseOwner ? `, leased to ${current.leaseOwner}` : ''}`,
      { runId, status: current.status },
    );
  }
  deps.bus.publish(claimed.events);
  const outcome = await executeClaimedRun(
    deps,
    {
      run: claimed.run,
      fence: { runId, leaseOwner: deps.owner, fencingToken: claimed.run.fencingToken },
    },
    options.signal ? { cancel: options.signal } : {},
  );
  if ('stopped' in outcome) throw new AasError('INTERRUPTED', `run ${runId} was given back`);
  return outcome;
}

/**
 * One governed run, from a claim to a decision: resolve base, policy and agents, run attempts
 * (retries with gate feedback, then fallback agents under their own merged policy), and record a
 * terminal state with a reason code. Every write is fenced by the claim (owner and fencing
 * token): if the run is taken away (the sweep requeued or ended it because this process looked
 * dead), this process stops writing, records that its report was fenced, and reports what the
 * store says instead of racing it. A cancel arrives through the heartbeat (or `cancel`); a
 * shutdown (`stop`) stops the sandbox and returns `{stopped}` for the caller to give the run back.
 */
export async function executeClaimedRun(
  deps: ExecutionDeps,
  claimed: { readonly run: RunRecord; readonly fence: HeldFence },
  options: ClaimedRunOptions = {},
): Promise<RunOutcome | StoppedRun> {
  const { run, fence } = claimed;
  const runId = run.id;
  const recorder = new SessionRecorder(deps, run.sessionId, fence.leaseOwner, fence);
  const renewLease =
    options.renewLease ??
    (() =>
      deps.store.renewRunLease(
        fence,
        new Date(deps.clock.nowMs() + deps.runLeaseMs).toISOString(),
      ));

  const abort = new AbortController();
  let leaseLost = false;
  let cancelRequested = false;
  const onCancel = () => {
    cancelRequested = true;
    abort.abort(STOP_REASON.cancel);
  };
  // The stopper may say why (a remote worker's lost lease); a shutdown otherwise.
  const onStop = () =>
    abort.abort(isAasError(options.stop?.reason) ? options.stop.reason : STOP_REASON.shutdown);
  // A cancel or stop that arrived before this point still counts.
  if (options.cancel?.aborted) onCancel();
  else options.cancel?.addEventListener('abort', onCancel, { once: true });
  if (options.stop?.aborted) onStop();
  else options.stop?.addEventListener('abort', onStop, { once: true });
  // A cancel requested while the run was being claimed is seen at once, not a heartbeat later.
  if (run.cancelRequestedAt !== null) onCancel();
  const beat = (): Promise<void> =>
    renewLease()
      .then((renewed) => {
        options.onHeartbeat?.(renewed);
        if (!renewed.held) {
          leaseLost = true;
          abort.abort(STOP_REASON.leaseLost);
        } else if (renewed.cancelRequested && !cancelRequested) {
          onCancel();
        }
      })
      .catch((error: unknown) =>
        deps.log.warn({ err: normaliseError(error).message, runId }, 'lease renewal failed'),
      );
  // One first, before any work: it acknowledges the claim, so a holder that dies from here on
  // spends it (a claim never renewed is given back unspent: RunQueue.sweep), however short the
  // run, and a cancel or a lost lease is known before anything starts.
  await beat();
  // At least three heartbeats per lease, and at most 5 s apart: a cancel travels on them.
  const renewal = setInterval(
    () => void beat(),
    Math.max(200, Math.min(5_000, Math.floor(deps.runLeaseMs / 3))),
  );
  renewal.unref();

  const context: RunContext = {
    deps,
    recorder,
    run,
    runDir: join(deps.paths.runs, runId),
    signal: abort.signal,
    cancelled: () => cancelRequested,
    localBase: options.localBase,
    baseCommit: null,
  };
  let terminal: Terminal;
  try {
    terminal = await governedRun(context);
  } catch (thrown) {
    const error = normaliseError(thrown);
    terminal = { code: error.code, detail: error.describe() };
  } finally {
    clearInterval(renewal);
    options.cancel?.removeEventListener('abort', onCancel);
    options.stop?.removeEventListener('abort', onStop);
  }
  if (leaseLost) return fencedOutcome(deps, run, fence);
  const stoppedEarly =
    options.stop?.aborted === true && !cancelRequested && terminal.attempt?.kind !== 'success';
  if (stoppedEarly) return { stopped: true, runId };
  if (terminal.code === 'LEASE_FENCED') return fencedOutcome(deps, run, fence);
  try {
    return await finishRun(context, terminal);
  } catch (thrown) {
    if (isAasError(thrown) && thrown.code === 'LEASE_FENCED') {
      return fencedOutcome(deps, run, fence);
    }
    throw thrown;
  }
}

/**
 * Where the run's base comes from on this host. A local path is used as it is. A URL is fetched
 * into this host's cache repository for it, and the run works from there with the fetched commit
 * as its base; a requeued run asks for the commit its first claim resolved, which the cache
 * usually holds already, so a moved branch does not change its base.
 */
async function localSource(
  context: RunContext,
  job: JobSpec,
): Promise<{ repo: string; baseRef: string | undefined; url: string | null }> {
  const held = context.localBase;
  if (held !== undefined) return { repo: held.repo, baseRef: held.commit, url: job.repo };
  if (!isRepoUrl(job.repo)) {
    if (context.deps.repoPaths !== undefined) await checkRepoPath(job.repo, context.deps.repoPaths);
    return { repo: job.repo, baseRef: job.baseRef, url: null };
  }
  const fetched = await fetchRepoUrl({
    cacheDir: context.deps.paths.repos,
    url: job.repo,
    ref: context.run.baseCommit ?? job.baseRef ?? 'HEAD',
    rule: context.deps.repoUrls,
  });
  return { repo: fetched.repoPath, baseRef: fetched.commit, url: job.repo };
}

async function governedRun(context: RunContext): Promise<Terminal> {
  const { deps, recorder, runDir } = context;
  const runId = context.run.id;
  await mkdir(runDir, { recursive: true });
  if (context.run.claimCount > 1) {
    // A requeued run: this holder owns it now (fenced), so whatever earlier holders that died
    // left mounted or on disk under it is garbage, collected before the first new attempt.
    const collected = await collectOrphanWorkspaces({
      runsDir: deps.paths.runs,
      isRunLive: async (id) => id !== runId,
    });
    if (collected.removed.length > 0) {
      deps.log.info({ runId, removed: collected.removed }, 'removed workspaces of earlier claims');
    }
  }
  const job = parseJobSpec(context.run.jobSpec);
  const manifests = [job.agent, ...job.fallbackAgents].map((id) => deps.registry.get(id));

  const source = await localSource(context, job);
  const git = await prepareRunGit({ runDir, repo: source.repo });
  const resolved = await resolveBase(git, {
    ...(source.baseRef ? { baseRef: source.baseRef } : {}),
    allowDirty: job.allowDirtyBase,
    // AAS's own data may live inside the repository (the default ./.aas does when run from the
    // checkout): it is neither dirt nor part of any base (aasDataPaths). A repository's own
    // `.aas/policy.yaml` still counts.
    excludePaths: await aasDataPaths(deps.paths.home, git.repoRoot),
  });
  // A fetched repository is recorded as the job named it: its URL (or the control plane's path)
  // and the ref it asked for, not this host's cache path and the commit id it was asked for.
  const base =
    source.url === null
      ? resolved
      : { ...resolved, repoRoot: source.url, baseRef: job.baseRef ?? 'HEAD' };
  context.baseCommit = base.baseCommit;
  await recorder.updateRun(runId, { baseRef: base.baseRef, baseCommit: base.baseCommit }, [
    sessionEvent('run.base.resolved', {
      runId,
      repoRoot: base.repoRoot,
      baseRef: base.baseRef,
      baseCommit: base.baseCommit,
      snapshot: base.snapshot,
      dirtyPaths: base.dirtyPaths,
    }),
  ]);

  // The repository layer comes from the base commit, never from a workspace the agent can edit.
  const repoPolicy = await readPolicyFileAtCommit(git, base.baseCommit, REPO_POLICY_PATH);
  const sharedLayers = [
    FLOOR_LAYER,
    deps.serverPolicy,
    repoPolicy ? repoPolicyLayer(repoPolicy.toString('utf8'), base.baseCommit) : null,
  ].filter((layer): layer is NamedLayer => layer !== null);
  const jobLayer: NamedLayer | null = job.policy
    ? { name: 'job', source: 'job', layer: job.policy }
    : null;

  // Every agent is validated before the first attempt: a broken fallback must not surface only
  // after the primary has spent its attempts.
  const plans: AgentPlan[] = [];
  for (const manifest of manifests) {
    requireAgentInput(manifest, job);
    requireModelUpstreams(manifest, deps);
    const policy = mergePolicy(
      [...sharedLayers, agentPolicyLayer(manifest), jobLayer].filter(
        (l): l is NamedLayer => l !== null,
      ),
    );
    plans.push({ manifest, policy, sandbox: await selectSandbox(policy.sandbox, deps.sandboxes) });
  }

  // A requeued run keeps the attempts of its earlier claims: numbering continues after them.
  let attemptNumber = Math.max(
    0,
    ...(await deps.store.listAttempts(runId)).map((attempt) => attempt.number),
  );
  let feedback: { gate: string; detail: string }[] = [];
  let last: AttemptOutcome | null = null;
  agentLoop: for (const [index, plan] of plans.entries()) {
    if (context.signal.aborted) break;
    const { manifest, policy, sandbox } = plan;
    if (index > 0) {
      await recorder.append(
        sessionEvent('run.fallback.started', {
          runId,
          agentId: manifest.id,
          previousAgentId: plans[index - 1]?.manifest.id ?? job.agent,
          reason: last ? `${last.code}: ${firstLine(last.detail)}` : 'previous agent exhausted',
        }),
      );
    }
    await recorder.append(
      sessionEvent('policy.resolved', {
        runId,
        agentId: manifest.id,
        layers: policy.layers.map((layer) => ({ name: layer.name, source: layer.source })),
        effective: policy,
      }),
      sessionEvent('sandbox.selected', {
        runId,
        backend: sandbox.backend.name,
        isolating: sandbox.backend.isolating,
        syscallFilter: sandbox.backend.syscallFilter,
        agentId: manifest.id,
        mode: policy.sandbox,
        limits: await limitEnforcement(),
      }),
      ...(sandbox.degraded
        ? [
            sessionEvent('sandbox.degraded', {
              runId,
              backend: sandbox.backend.name,
              reason: sandbox.degraded.reason,
              agentId: manifest.id,
            }),
          ]
        : []),
    );

    for (let retry = 0; retry <= job.retries; retry += 1) {
      if (context.signal.aborted) break agentLoop;
      attemptNumber += 1;
      const modelAllowance = await allowanceFor(context, plan);
      if (modelAllowance?.exhausted) {
        const breach = modelAllowance.exhausted;
        await recorder.append(
          sessionEvent('budget.exceeded', {
            runId,
            attempt: attemptNumber,
            limit: breach.limit,
            limitValue: breach.limitValue,
            spentValue: breach.spentValue,
            detail: breach.detail,
            scope: breach.scope,
            stage: 'before_attempt',
          }),
        );
        // What earlier attempts did still counts for the summary; this one never started.
        return {
          code: 'BUDGET_EXCEEDED',
          detail: `${breach.detail}; attempt ${attemptNumber} was not started`,
          ...(last ? { attempt: last } : {}),
        };
      }
      if (retry > 0) {
        await recorder.append(
          sessionEvent('run.retry.scheduled', {
            runId,
            nextAttempt: attemptNumber,
            agentId: manifest.id,
            feedback,
          }),
        );
      }
      last = await runAttempt({
        deps,
        recorder,
        runId,
        sessionId: context.run.sessionId,
        repo: context.run.repo,
        runDir,
        job,
        git,
        baseCommit: base.baseCommit,
        manifest,
        policy,
        modelAllowance,
        sandbox: sandbox.backend,
        attempt: attemptNumber,
        attemptId: newId(IdPrefix.attempt, deps.clock.nowMs()),
        feedback,
        signal: context.signal,
      });
      switch (last.kind) {
        case 'success':
        case 'stopped':
        case 'cancelled':
          break agentLoop;
        case 'retryable':
          feedback = [...last.feedback];
          break;
      }
    }
  }
  if (context.signal.aborted && last?.kind !== 'success') {
    // Either a cancel request or a lost lease; the caller tells them apart.
    // Who asked is on the run row now (a cancel reaches the holder through its heartbeat).
    const cancelledBy = context.cancelled()
      ? ((await deps.store.getRun(runId))?.cancelRequestedBy ?? 'request')
      : null;
    return {
      code: cancelledBy !== null ? 'CANCELLED' : 'LEASE_FENCED',
      detail:
        cancelledBy !== null
          ? `cancelled by ${cancelledBy}`
          : 'the run lease was lost or the runner is stopping',
      ...(last ? { attempt: last } : {}),
    };
  }
  return last
    ? { code: last.code, detail: last.detail, attempt: last }
    : { code: 'INTERNAL', detail: 'no attempt ran' };
}

/**
 * What an agent that calls model providers may still spend, worked out again before every
 * attempt from what was recorded: earlier attempts and claims of this run, the session, and the
 * repository today. Null for an agent that calls no provider: it spends nothing, so no budget
 * holds it back.
 */
async function allowanceFor(context: RunContext, plan: AgentPlan): Promise<ModelAllowance | null> {
  if (plan.manifest.modelGateway.length === 0) return null;
  return loadModelAllowance(context.deps, {
    runId: context.run.id,
    sessionId: context.run.sessionId,
    repo: context.run.repo,
    policyLimits: plan.policy.limits,
  });
}

function firstLine(text: string): string {
  return text.split('\n', 1)[0] ?? '';
}

/**
 * What the store says about a run this process no longer owns. Its own report is not written;
 * that it was refused is (unfenced, so the history says why this holder's work is missing).
 */
async function fencedOutcome(
  deps: ExecutionDeps,
  run: RunRecord,
  fence: HeldFence,
): Promise<RunOutcome> {
  // A remote worker's reads are fenced too: one that lost the lease cannot read the run any
  // more, and reports what it knew.
  const current =
    (await deps.store.getRun(run.id).catch((thrown: unknown) => {
      deps.log.warn({ err: normaliseError(thrown).message, runId: run.id }, 'cannot read the run');
      return null;
    })) ?? run;
  try {
    await new SessionRecorder(deps, run.sessionId, fence.leaseOwner).append(
      sessionEvent('lease.fenced', {
        runId: run.id,
        staleOwner: fence.leaseOwner,
        staleFencingToken: fence.fencingToken,
        currentOwner: current.leaseOwner,
        currentFencingToken: current.fencingToken,
        rejected: 'the run report of a holder that lost its lease',
      }),
    );
  } catch (thrown) {
    deps.log.warn({ err: normaliseError(thrown).message, runId: run.id }, 'cannot record fencing');
  }
  const recorded =
    current.reasonCode && isCode(current.reasonCode) ? current.reasonCode : 'LEASE_FENCED';
  return {
    sessionId: run.sessionId,
    runId: run.id,
    status: current.status,
    reasonCode: recorded,
    detail: `this process lost the run's lease and stopped; the run is recorded as ${current.status}${current.reasonDetail ? `: ${current.reasonDetail}` : ''}`,
    baseCommit: current.baseCommit,
    patch: null,
    attempts: 0,
    summaryPath: '',
  };
}

async function finishRun(context: RunContext, terminal: Terminal): Promise<RunOutcome> {
  const { deps, recorder, run, runDir } = context;
  const status = runStatusFor(terminal.code);
  const success = terminal.attempt?.kind === 'success' ? terminal.attempt : null;
  const patch = success
    ? {
        sha256: success.artifact.sha256,
        path: success.artifact.path,
        stats: success.patch.stats,
        files: success.patch.files.map((file) => ({
          path: file.path,
          status: file.status,
          insertions: file.insertions,
          deletions: file.deletions,
          binary: file.binary,
        })),
      }
    : null;
  const outcome: Omit<RunOutcome, 'summaryPath'> = {
    sessionId: run.sessionId,
    runId: run.id,
    status,
    reasonCode: terminal.code,
    detail: terminal.detail,
    baseCommit: context.baseCommit,
    patch,
    attempts: terminal.attempt?.attempt ?? 0,
  };
  const summary = {
    ...outcome,
    agent: terminal.attempt?.agentId ?? null,
    driverSummary: terminal.attempt?.driverSummary ?? null,
    runtimeDropped: success?.patch.runtimeDropped ?? [],
  };
  await recorder.updateRun(
    run.id,
    {
      status,
      reasonCode: terminal.code,
      reasonDetail: terminal.detail,
      finishedAt: deps.clock.nowIso(),
      patchSha256: patch?.sha256 ?? null,
      summary,
      leaseOwner: null,
      leaseExpiresAt: null,
    },
    [
      sessionEvent('run.completed', {
        runId: run.id,
        status,
        reasonCode: terminal.code,
        detail: terminal.detail,
        patchSha256: patch?.sha256 ?? null,
      }),
    ],
    { status: ['running'] },
  );
  // The file is a convenience copy of what is now committed, written only after the commit.
  const summaryPath = join(runDir, 'summary.json');
  await mkdir(runDir, { recursive: true });
  await writeFile(summaryPath, `${JSON.stringify(summary, null, 2)}\n`);
  return { ...outcome, summaryPath };
}
