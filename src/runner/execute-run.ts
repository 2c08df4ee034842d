import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type AgentManifest, INPUT_COMMAND_ARG } from '../drivers/index.js';
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
import type { RunRecord, RunStatus } from '../store/index.js';
import {
  type PatchStats,
  prepareRunGit,
  readFileAtCommit,
  resolveBase,
} from '../workspaces/index.js';
import { type JobSpec, parseJobSpec } from './job-spec.js';
import { type AttemptOutcome, runAttempt } from './run-attempt.js';
import { runStatusFor } from './run-status-for.js';
import type { RunnerDeps } from './runner-deps.js';

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

/** What AAS itself writes under its home (see the README's data layout). */
const AAS_DATA_ENTRIES = [
  'aas.db',
  'aas.db-wal',
  'aas.db-shm',
  'aas.db-journal',
  'runs',
  'artifacts',
  'agents',
  'demo',
];

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
  readonly deps: RunnerDeps;
  readonly recorder: SessionRecorder;
  readonly run: RunRecord;
  readonly runDir: string;
  readonly signal: AbortSignal;
  readonly cancelled: () => boolean;
  baseCommit: string | null;
}

/**
 * One governed run, start to decision: claim the run, resolve base, policy and agents, run
 * attempts (retries with gate feedback, then fallback agents under their own merged policy),
 * and record a terminal state with a reason code. Every write after the claim is fenced by the
 * run's lease: if recovery ends the run because this process looked dead, this process stops
 * writing and reports what the store says instead of racing it.
 */
export async function executeRun(
  deps: RunnerDeps,
  runId: string,
  options: { signal?: AbortSignal } = {},
): Promise<RunOutcome> {
  const run = await deps.store.getRun(runId);
  if (!run) throw new AasError('NOT_FOUND', `no run ${runId}`, { field: 'runId' });
  const leaseExpiresAt = () => new Date(deps.clock.nowMs() + deps.runLeaseMs).toISOString();
  const claimed = await new SessionRecorder(deps, run.sessionId, deps.owner).updateRun(
    runId,
    {
      status: 'running',
      startedAt: deps.clock.nowIso(),
      leaseOwner: deps.owner,
      leaseExpiresAt: leaseExpiresAt(),
    },
    [sessionEvent('run.started', { runId, owner: deps.owner, leaseExpiresAt: leaseExpiresAt() })],
    // A run reserved for a runner may be claimed only by that runner.
    { status: ['queued'], ...(run.leaseOwner ? { leaseOwner: deps.owner } : {}) },
  );
  const recorder = new SessionRecorder(deps, run.sessionId, deps.owner, {
    runId,
    leaseOwner: deps.owner,
  });

  const abort = new AbortController();
  let leaseLost = false;
  const onOuterAbort = () => abort.abort();
  // A cancel that arrived before this point still counts.
  if (options.signal?.aborted) abort.abort();
  else options.signal?.addEventListener('abort', onOuterAbort, { once: true });
  const renewal = setInterval(
    () => {
      deps.store
        .renewRunLease(runId, deps.owner, leaseExpiresAt())
        .then((held) => {
          if (!held) {
            leaseLost = true;
            abort.abort();
          }
        })
        .catch((error: unknown) =>
          deps.log.warn({ err: normaliseError(error).message, runId }, 'lease renewal failed'),
        );
    },
    Math.max(200, Math.floor(deps.runLeaseMs / 3)),
  );
  renewal.unref();

  const context: RunContext = {
    deps,
    recorder,
    run: claimed,
    runDir: join(deps.paths.runs, runId),
    signal: abort.signal,
    cancelled: () => options.signal?.aborted === true,
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
    options.signal?.removeEventListener('abort', onOuterAbort);
  }
  if (leaseLost || terminal.code === 'LEASE_FENCED') return fencedOutcome(deps, run);
  try {
    return await finishRun(context, terminal);
  } catch (thrown) {
    if (isAasError(thrown) && thrown.code === 'LEASE_FENCED') return fencedOutcome(deps, run);
    throw thrown;
  }
}

async function governedRun(context: RunContext): Promise<Terminal> {
  const { deps, recorder, runDir } = context;
  const runId = context.run.id;
  await mkdir(runDir, { recursive: true });
  const job = parseJobSpec(context.run.jobSpec);
  const manifests = [job.agent, ...job.fallbackAgents].map((id) => deps.registry.get(id));

  const git = await prepareRunGit({ runDir, repo: job.repo });
  const base = await resolveBase(git, {
    ...(job.baseRef ? { baseRef: job.baseRef } : {}),
    allowDirty: job.allowDirtyBase,
    // AAS's own data may live inside the repository (the default ./.aas does when run from the
    // checkout): it is neither dirt nor part of any base. Only what AAS writes is excluded, so a
    // repository's own `.aas/policy.yaml` still counts.
    excludePaths: AAS_DATA_ENTRIES.map((entry) => join(deps.paths.home, entry)),
  });
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
  const repoPolicy = await readFileAtCommit(git, base.baseCommit, REPO_POLICY_PATH);
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
    const policy = mergePolicy(
      [...sharedLayers, agentPolicyLayer(manifest), jobLayer].filter(
        (l): l is NamedLayer => l !== null,
      ),
    );
    plans.push({ manifest, policy, sandbox: await selectSandbox(policy.sandbox, deps.sandboxes) });
  }

  let attemptNumber = 0;
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
        runDir,
        job,
        git,
        baseCommit: base.baseCommit,
        manifest,
        policy,
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
    return {
      code: context.cancelled() ? 'CANCELLED' : 'LEASE_FENCED',
      detail: context.cancelled() ? 'cancelled by request' : 'the run lease was lost',
      ...(last ? { attempt: last } : {}),
    };
  }
  return last
    ? { code: last.code, detail: last.detail, attempt: last }
    : { code: 'INTERNAL', detail: 'no attempt ran' };
}

/** An agent whose argv takes the job's command (the built-in `command` agent) needs one. */
function requireAgentInput(manifest: AgentManifest, job: JobSpec): void {
  if (!manifest.args.includes(INPUT_COMMAND_ARG)) return;
  const input = job.agentInput;
  const command =
    typeof input === 'object' && input !== null && 'command' in input ? input.command : undefined;
  if (typeof command !== 'string' || command.trim() === '') {
    throw new AasError(
      'JOB_INVALID',
      `agent ${manifest.id} runs the job's command, but the job gives none`,
      {
        field: 'agentInput.command',
        hint: 'use --agent-cmd "…" or set agentInput.command in the job',
      },
    );
  }
}

function firstLine(text: string): string {
  return text.split('\n', 1)[0] ?? '';
}

/** What the store says about a run this process no longer owns. Nothing is written. */
async function fencedOutcome(deps: RunnerDeps, run: RunRecord): Promise<RunOutcome> {
  const current = (await deps.store.getRun(run.id)) ?? run;
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
