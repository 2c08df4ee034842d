import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AgentManifest } from '../drivers/index.js';
import { AasError, type Code, IdPrefix, newId, normaliseError } from '../kernel/index.js';
import {
  FLOOR_LAYER,
  mergePolicy,
  type NamedLayer,
  PolicyLayerSchema,
  parsePolicyLayer,
} from '../policy/index.js';
import { selectSandbox } from '../sandbox/index.js';
import { SessionRecorder, sessionEvent } from '../sessions/index.js';
import type { RunStatus } from '../store/index.js';
import {
  type PatchStats,
  prepareRunGit,
  readFileAtCommit,
  resolveBase,
} from '../workspaces/index.js';
import { parseJobSpec } from './job-spec.js';
import { type AttemptOutcome, runAttempt } from './run-attempt.js';
import { runStatusFor } from './run-status-for.js';
import type { RunnerDeps } from './runner-deps.js';
import { storeArtifact } from './store-artifact.js';

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
  readonly summaryPath: string;
}

interface Terminal {
  readonly code: Code;
  readonly detail: string;
  readonly attempt?: AttemptOutcome;
}

const REPO_POLICY_PATH = '.aas/policy.yaml';

/**
 * One governed run, start to decision: claim the run, resolve base, policy and agents, run
 * attempts (retries with gate feedback, then fallback agents under their own merged policy),
 * and record a terminal state with a reason code. Whatever happens, the run ends recorded.
 */
export async function executeRun(
  deps: RunnerDeps,
  runId: string,
  options: { signal?: AbortSignal } = {},
): Promise<RunOutcome> {
  const run = await deps.store.getRun(runId);
  if (!run) throw new AasError('NOT_FOUND', `no run ${runId}`, { field: 'runId' });
  const recorder = new SessionRecorder(deps, run.sessionId, deps.owner);
  const runDir = join(deps.paths.runs, runId);
  const leaseExpiresAt = () => new Date(deps.clock.nowMs() + deps.runLeaseMs).toISOString();

  const claimed = await recorder.updateRun(
    runId,
    {
      status: 'running',
      startedAt: deps.clock.nowIso(),
      leaseOwner: deps.owner,
      leaseExpiresAt: leaseExpiresAt(),
    },
    [sessionEvent('run.started', { runId, owner: deps.owner, leaseExpiresAt: leaseExpiresAt() })],
    { status: ['queued'] },
  );

  // The lease proves this process is alive; if it is lost, stop rather than race a recoverer.
  const abort = new AbortController();
  const onOuterAbort = () => abort.abort();
  options.signal?.addEventListener('abort', onOuterAbort, { once: true });
  const renewal = setInterval(
    () => {
      deps.store
        .renewRunLease(runId, deps.owner, leaseExpiresAt())
        .then((held) => {
          if (!held) abort.abort();
        })
        .catch((error: unknown) =>
          deps.log.warn({ err: normaliseError(error).message, runId }, 'lease renewal failed'),
        );
    },
    Math.max(200, Math.floor(deps.runLeaseMs / 3)),
  );
  renewal.unref();

  let baseCommit: string | null = null;
  let terminal: Terminal;
  try {
    await mkdir(runDir, { recursive: true });
    const job = parseJobSpec(claimed.jobSpec);
    const agents = [job.agent, ...job.fallbackAgents].map((id) => deps.registry.get(id));

    const git = await prepareRunGit({ runDir, repo: job.repo });
    const base = await resolveBase(git, {
      ...(job.baseRef ? { baseRef: job.baseRef } : {}),
      allowDirty: job.allowDirtyBase,
    });
    baseCommit = base.baseCommit;
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

    // Repo policy comes from the base commit, never from a workspace the agent can edit.
    const repoPolicyBytes = await readFileAtCommit(git, base.baseCommit, REPO_POLICY_PATH);
    const repoLayer: NamedLayer | null = repoPolicyBytes
      ? {
          name: 'repo',
          source: `${REPO_POLICY_PATH}@${base.baseCommit.slice(0, 12)}`,
          layer: parsePolicyLayer(repoPolicyBytes.toString('utf8'), {
            file: `${REPO_POLICY_PATH} (at ${base.baseCommit.slice(0, 12)})`,
          }),
        }
      : null;
    const jobLayer: NamedLayer | null = job.policy
      ? { name: 'job', source: 'job', layer: job.policy }
      : null;
    const sharedLayers = [FLOOR_LAYER, deps.serverPolicy, repoLayer].filter(
      (layer): layer is NamedLayer => layer !== null,
    );

    let attemptNumber = 0;
    let feedback: { gate: string; detail: string }[] = [];
    let last: AttemptOutcome | null = null;
    agentLoop: for (const [agentIndex, manifest] of agents.entries()) {
      if (agentIndex > 0) {
        await recorder.append(
          sessionEvent('run.fallback.started', {
            runId,
            agentId: manifest.id,
            previousAgentId: agents[agentIndex - 1]?.id ?? job.agent,
            reason: last ? `${last.code}: ${firstLine(last.detail)}` : 'previous agent exhausted',
          }),
        );
      }
      const policy = mergePolicy(
        [...sharedLayers, agentLayer(manifest), jobLayer].filter(
          (l): l is NamedLayer => l !== null,
        ),
      );
      await recorder.append(
        sessionEvent('policy.resolved', {
          runId,
          agentId: manifest.id,
          layers: policy.layers.map((layer) => ({ name: layer.name, source: layer.source })),
          effective: policy,
        }),
      );
      const selection = await selectSandbox(policy.sandbox, deps.sandboxes);
      await recorder.append(
        sessionEvent('sandbox.selected', {
          runId,
          backend: selection.backend.name,
          isolating: selection.backend.isolating,
        }),
        ...(selection.degraded
          ? [
              sessionEvent('sandbox.degraded', {
                runId,
                backend: selection.backend.name,
                reason: selection.degraded.reason,
              }),
            ]
          : []),
      );

      for (let retry = 0; retry <= job.retries; retry += 1) {
        if (abort.signal.aborted) break agentLoop;
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
          sessionId: run.sessionId,
          runDir,
          job,
          git,
          baseCommit: base.baseCommit,
          manifest,
          policy,
          sandbox: selection.backend,
          attempt: attemptNumber,
          attemptId: newId(IdPrefix.attempt, deps.clock.nowMs()),
          feedback,
          signal: abort.signal,
        });
        switch (last.kind) {
          case 'success':
          case 'blocked':
          case 'cancelled':
            break agentLoop;
          case 'retryable':
            feedback = [...last.feedback];
            break;
        }
      }
    }
    if (abort.signal.aborted && last?.kind !== 'success') {
      terminal = {
        code: options.signal?.aborted ? 'CANCELLED' : 'LEASE_FENCED',
        detail: options.signal?.aborted
          ? 'cancelled by request'
          : 'the run lease was lost; another process may own this run',
        ...(last ? { attempt: last } : {}),
      };
    } else if (last) {
      terminal = { code: last.code, detail: last.detail, attempt: last };
    } else {
      terminal = { code: 'INTERNAL', detail: 'no attempt ran' };
    }
  } catch (thrown) {
    const error = normaliseError(thrown);
    terminal = { code: error.code, detail: error.describe() };
  } finally {
    clearInterval(renewal);
    options.signal?.removeEventListener('abort', onOuterAbort);
  }
  return finishRun(deps, recorder, {
    runId,
    sessionId: run.sessionId,
    runDir,
    baseCommit,
    terminal,
  });
}

function agentLayer(manifest: AgentManifest): NamedLayer | null {
  if (manifest.policy === undefined) return null;
  const parsed = PolicyLayerSchema.safeParse(manifest.policy);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new AasError(
      'MANIFEST_INVALID',
      `agent ${manifest.id}: policy ${issue?.message ?? 'is invalid'}`,
      {
        field: `policy.${issue?.path.map(String).join('.') ?? ''}`,
        hint: 'fix the policy block of the agent manifest',
      },
    );
  }
  return {
    name: `agent:${manifest.id}`,
    source: `agent manifest ${manifest.id}`,
    layer: parsed.data,
  };
}

function firstLine(text: string): string {
  return text.split('\n', 1)[0] ?? '';
}

async function finishRun(
  deps: RunnerDeps,
  recorder: SessionRecorder,
  input: {
    runId: string;
    sessionId: string;
    runDir: string;
    baseCommit: string | null;
    terminal: Terminal;
  },
): Promise<RunOutcome> {
  const { terminal, runId } = input;
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
  const summary = {
    sessionId: input.sessionId,
    runId,
    status,
    reasonCode: terminal.code,
    detail: terminal.detail,
    baseCommit: input.baseCommit,
    attempts: terminal.attempt?.attempt ?? 0,
    agent: terminal.attempt?.agentId ?? null,
    driverSummary: terminal.attempt?.driverSummary ?? null,
    patch,
    runtimeDropped: success?.patch.runtimeDropped ?? [],
  };
  const summaryPath = join(input.runDir, 'summary.json');
  await mkdir(input.runDir, { recursive: true });
  await writeFile(summaryPath, `${JSON.stringify(summary, null, 2)}\n`);
  if (success)
    await storeArtifact(deps.paths.artifacts, `${JSON.stringify(summary, null, 2)}\n`, 'json');

  await recorder.updateRun(
    runId,
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
        runId,
        status,
        reasonCode: terminal.code,
        detail: terminal.detail,
        patchSha256: patch?.sha256 ?? null,
      }),
    ],
    { status: ['running'] },
  );
  return {
    sessionId: input.sessionId,
    runId,
    status,
    reasonCode: terminal.code,
    detail: terminal.detail,
    baseCommit: input.baseCommit,
    patch,
    attempts: terminal.attempt?.attempt ?? 0,
    summaryPath,
  };
}
