import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { type AepJob, type AgentManifest, attemptPaths, runDriver } from '../drivers/index.js';
import { GateClass, runGates } from '../gates/index.js';
import { type Code, normaliseError } from '../kernel/index.js';
import { describePolicyForAgent, type EffectivePolicy, runtimeRule } from '../policy/index.js';
import type { ResourceLimits, SandboxBackend } from '../sandbox/index.js';
import { type SessionRecorder, sessionEvent, type TypedEvent } from '../sessions/index.js';
import {
  applyPatchToWorkspace,
  computePatch,
  createWorkspace,
  markWorkspaceKept,
  type PatchResult,
  type RunGit,
  removeWorkspace,
  type Workspace,
} from '../workspaces/index.js';
import { AgentEventBatcher } from './agent-event-batcher.js';
import { startAttemptGateway } from './attempt-gateway.js';
import { BudgetWatch } from './budget-watch.js';
import type { JobSpec } from './job-spec.js';
import { keepAttemptLogs, keepPatch } from './keep-run-artifacts.js';
import type { ModelAllowance } from './model-allowance.js';
import { NetworkRecorder, sandboxNetworkFor } from './network-recorder.js';
import type { ExecutionDeps } from './runner-deps.js';
import { stoppedAttempt } from './stop-reason.js';
import { storeArtifact } from './store-artifact.js';
import { validatorSetup } from './validator-setup.js';

interface OutcomeBase {
  readonly attempt: number;
  readonly agentId: string;
  readonly code: Code;
  readonly detail: string;
  readonly driverSummary: string | null;
}

/**
 * How one attempt ended. `retryable` carries the feedback the next attempt receives; `stopped`
 * ends the run (a policy denial: an agent that reached for a forbidden path is not retried into
 * compliance; or an error no retry can fix).
 */
export type AttemptOutcome =
  | (OutcomeBase & {
      readonly kind: 'success';
      readonly patch: PatchResult;
      readonly artifact: { sha256: string; path: string; bytes: number };
    })
  | (OutcomeBase & { readonly kind: 'stopped' })
  | (OutcomeBase & { readonly kind: 'cancelled' })
  | (OutcomeBase & {
      readonly kind: 'retryable';
      readonly feedback: readonly { gate: string; detail: string }[];
    });

export interface AttemptInput {
  readonly deps: ExecutionDeps;
  readonly recorder: SessionRecorder;
  readonly runId: string;
  readonly sessionId: string;
  /** The run's repository as the store keys it, for the repository-day budget. */
  readonly repo: string;
  readonly runDir: string;
  readonly job: JobSpec;
  readonly git: RunGit;
  readonly baseCommit: string;
  readonly manifest: AgentManifest;
  readonly policy: EffectivePolicy;
  /** What the agent may still spend on model calls; null for an agent that calls no provider. */
  readonly modelAllowance: ModelAllowance | null;
  readonly sandbox: SandboxBackend;
  readonly attempt: number;
  readonly attemptId: string;
  readonly feedback: readonly { gate: string; detail: string }[];
  readonly signal: AbortSignal;
}

const FEEDBACK_DETAIL_CHARS = 4_000;

export async function runAttempt(input: AttemptInput): Promise<AttemptOutcome> {
  const { deps, recorder, runId, attempt, manifest } = input;
  const clock = deps.clock;
  const attemptStartedMs = clock.nowMs();
  const attemptDir = join(input.runDir, `attempt-${attempt}`);
  await mkdir(attemptDir, { recursive: true });
  await recorder.createAttempt(
    { id: input.attemptId, runId, number: attempt, agentId: manifest.id },
    [
      sessionEvent('run.attempt.started', {
        runId,
        attemptId: input.attemptId,
        attempt,
        agentId: manifest.id,
        feedback: input.feedback,
      }),
    ],
  );
  const base = { attempt, agentId: manifest.id, driverSummary: null };

  let workspace: Workspace | null = null;
  let outcome: AttemptOutcome;
  let internalFailure: Error | null = null;
  try {
    const workspaceStartedMs = clock.nowMs();
    workspace = await createWorkspace(input.git, {
      baseCommit: input.baseCommit,
      attemptDir,
      strategy: deps.workspaceStrategy,
      checkoutCacheDir: deps.paths.checkouts,
    });
    await recorder.append(
      sessionEvent('workspace.created', {
        runId,
        attempt,
        dir: workspace.dir,
        baseCommit: input.baseCommit,
        durationMs: clock.nowMs() - workspaceStartedMs,
        strategy: workspace.strategy,
        ...(workspace.strategyReason === undefined
          ? {}
          : { strategyReason: workspace.strategyReason }),
      }),
    );
    outcome = await agentAndGates(input, workspace, attemptDir);
  } catch (thrown) {
    const error = normaliseError(thrown);
    outcome = { ...base, kind: 'stopped', code: error.code, detail: error.describe() };
    // A lost lease writes nothing more; internal failures are recorded as this attempt's end
    // first, then raised so the run ends with the same reason.
    if (error.code === 'LEASE_FENCED') throw error;
    if (error.code === 'INTERNAL' || error.code === 'STORE_UNAVAILABLE') internalFailure = error;
  } finally {
    if (workspace) await disposeWorkspace(input, workspace);
    await removeAgentScratch(attemptDir);
  }

  // Before the attempt is recorded as finished: whoever sees it finished can read its logs.
  await keepAttemptLogs(deps, { runId, fence: recorder.fence, attemptDir, attempt });
  await recorder.finishAttempt(
    {
      attemptId: input.attemptId,
      status:
        outcome.kind === 'success'
          ? 'succeeded'
          : outcome.kind === 'stopped'
            ? 'blocked'
            : 'failed',
      reasonCode: outcome.code,
      detail: { detail: outcome.detail },
    },
    [
      sessionEvent('run.attempt.finished', {
        runId,
        attempt,
        agentId: manifest.id,
        // A cancelled-kind attempt a shutdown or a lost lease stopped was interrupted, not cancelled.
        status:
          outcome.kind === 'cancelled' && outcome.code === 'INTERRUPTED'
            ? 'interrupted'
            : outcome.kind,
        code: outcome.code,
        detail: outcome.detail,
        durationMs: clock.nowMs() - attemptStartedMs,
      }),
    ],
  );
  if (internalFailure) throw internalFailure;
  return outcome;
}

async function agentAndGates(
  input: AttemptInput,
  workspace: Workspace,
  attemptDir: string,
): Promise<AttemptOutcome> {
  const { deps, recorder, runId, attempt, manifest, policy, job } = input;
  const clock = deps.clock;
  const base = { attempt, agentId: manifest.id };

  const aepJob: AepJob = {
    protocol: 'aep/v1',
    sessionId: input.sessionId,
    runId,
    attempt,
    agentId: manifest.id,
    task: job.task,
    feedback: [...input.feedback],
    policySummary: describePolicyForAgent(policy),
    input: job.agentInput ?? null,
    validators: job.validators.map((v, index) => ({
      name: v.name ?? `validator-${index + 1}`,
      command: v.command,
    })),
  };
  // The agent stops when the run is cancelled, and also when its events can no longer be
  // recorded: an agent whose history is not being kept must not keep working.
  const agentAbort = new AbortController();
  // The run's reason goes along, so the driver can tell an interruption from a cancel.
  const onRunAbort = () => agentAbort.abort(input.signal.reason);
  if (input.signal.aborted) agentAbort.abort(input.signal.reason);
  else input.signal.addEventListener('abort', onRunAbort, { once: true });
  const batcher = new AgentEventBatcher(recorder, () => agentAbort.abort());
  batcher.start();
  await recorder.append(
    sessionEvent('agent.started', {
      runId,
      attempt,
      agentId: manifest.id,
      command: manifest.entrypoint,
      args: manifest.args,
      timeoutSec: policy.limits.timeoutSec,
    }),
  );
  const agentNetwork = new NetworkRecorder(runId, attempt, 'agent', (event) => batcher.push(event));
  const aep = attemptPaths(attemptDir);
  const limits = resourceLimitsFor(policy, workspace, aep.runDir);
  const hiddenPaths = [
    deps.paths.home,
    input.git.repoRoot,
    // A manifest's readOnlyPaths must not reach the host's git credentials either.
    ...(deps.repoUrls.credentialsFile === undefined ? [] : [deps.repoUrls.credentialsFile]),
  ];
  const budgets = new BudgetWatch(
    deps,
    {
      runId,
      sessionId: input.sessionId,
      repo: input.repo,
      number: attempt,
      policyLimits: policy.limits,
    },
    batcher,
    () => agentAbort.abort(),
  );
  const gateway = await startAttemptGateway(deps, {
    manifest,
    allowance: input.modelAllowance,
    isolating: input.sandbox.isolating,
    scratchDir: aep.sandboxScratch,
    onCall: (record) => {
      batcher.push(
        sessionEvent('agent.usage', {
          runId,
          attempt,
          provider: record.provider,
          api: record.api,
          model: record.model,
          status: record.status,
          stream: record.stream,
          inputTokens: record.inputTokens,
          outputTokens: record.outputTokens,
          cachedInputTokens: record.cachedInputTokens,
          costUsd: record.costUsd,
          latencyMs: record.latencyMs,
          refused: record.refused,
          unmetered: record.unmetered,
        }),
      );
      budgets.afterCall(record);
    },
    onBudgetExceeded: (breach) => budgets.reached(breach),
  });
  const driver = await runDriver({
    manifest,
    sandbox: input.sandbox,
    job: aepJob,
    workspaceDir: workspace.dir,
    attemptDir,
    hostEnv: deps.hostEnv,
    envAllow: policy.envAllow,
    timeoutMs: policy.limits.timeoutSec * 1000,
    maxOutputBytes: policy.limits.maxOutputBytes,
    network: sandboxNetworkFor(policy, agentNetwork),
    limits,
    hiddenPaths,
    privateRoots: ['/root', '/home', ...(deps.hostEnv.HOME ? [deps.hostEnv.HOME] : [])],
    signal: agentAbort.signal,
    clock,
    ...(gateway === null
      ? {}
      : {
          serviceEnv: gateway.serviceEnv,
          ...(gateway.localServices === undefined ? {} : { localServices: gateway.localServices }),
        }),
    onEvent: (event) =>
      batcher.push(
        sessionEvent('agent.event', {
          runId,
          attempt,
          type: event.type,
          message: event.message ?? null,
          data: event.data,
        }),
      ),
  }).finally(async () => {
    await gateway?.close();
    // A re-read still running may yet find a budget spent; it records that through the batcher.
    await budgets.settled();
    input.signal.removeEventListener('abort', onRunAbort);
    const summary = agentNetwork.summary();
    if (summary !== null) batcher.push(summary);
    // Raises the first recording failure, if any, ahead of whatever the driver returned.
    return batcher.stop();
  });
  const driverSummary = driver.result?.summary ?? null;
  const overBudget = budgets.breach;
  // The gateway stopped the agent for a spent budget: that is why it ended, not a cancel.
  const stoppedForBudget =
    overBudget !== null && !input.signal.aborted && driver.code === 'CANCELLED';
  await recorder.append(
    sessionEvent('agent.finished', {
      runId,
      attempt,
      agentId: manifest.id,
      ok: driver.ok,
      code: stoppedForBudget ? 'BUDGET_EXCEEDED' : (driver.code ?? 'GATES_PASSED'),
      detail: stoppedForBudget ? `${overBudget.detail}; the agent was stopped` : driver.detail,
      exitCode: driver.launch.exitCode,
      signal: driver.launch.signal,
      durationMs: driver.launch.durationMs,
      result: driver.result,
      rejectedEvents: driver.rejectedEvents,
    }),
  );
  if (overBudget !== null && !input.signal.aborted) {
    return {
      ...base,
      kind: 'stopped',
      code: 'BUDGET_EXCEEDED',
      detail: `${overBudget.detail}; the agent was stopped`,
      driverSummary,
    };
  }
  if (input.signal.aborted || driver.code === 'CANCELLED') {
    const stopped = stoppedAttempt(input.signal, 'while the agent ran');
    return {
      ...base,
      kind: 'cancelled',
      code: stopped.code,
      detail: stopped.detail,
      driverSummary,
    };
  }
  if (!driver.ok) {
    const code = driver.code ?? 'AGENT_FAILED';
    return {
      ...base,
      kind: 'retryable',
      code,
      detail: driver.detail,
      driverSummary,
      feedback: [{ gate: 'agent', detail: clip(`${code}: ${driver.detail}`) }],
    };
  }

  if (driver.result?.recommendedAction === 'retry') {
    return {
      ...base,
      kind: 'retryable',
      code: 'AGENT_FAILED',
      detail: `the agent asked for another attempt: ${driver.result.summary}`,
      driverSummary,
      feedback: [
        {
          gate: 'agent',
          detail: clip(`the agent asked for another attempt: ${driver.result.summary}`),
        },
      ],
    };
  }

  const patchStartedMs = clock.nowMs();
  const patch = await computePatch(workspace, { runtimeRule: (path) => runtimeRule(policy, path) });
  await recorder.append(
    sessionEvent('patch.computed', {
      runId,
      attempt,
      sha256: patch.sha256,
      stats: patch.stats,
      files: patch.files.map((file) => ({
        path: file.path,
        status: file.status,
        binary: file.binary,
      })),
      runtimeDropped: patch.runtimeDropped,
      ignoredUntracked: patch.ignoredUntracked.length,
      durationMs: clock.nowMs() - patchStartedMs,
    }),
  );

  // Validators test exactly what would be promoted: a fresh workspace of the base with the
  // patch applied, prepared only if every static gate passed. Nothing else the agent left in
  // its workspace (ignored caches such as __pycache__, dropped runtime artifacts) is there.
  let validationWorkspace: Workspace | null = null;
  // A sibling of the attempt directory, so crash recovery finds and collects it like any other.
  const validationAttemptDir = `${attemptDir}-validation`;
  const prepareValidatorWorkspace = async (): Promise<string> => {
    validationWorkspace = await createWorkspace(input.git, {
      baseCommit: input.baseCommit,
      attemptDir: validationAttemptDir,
      strategy: deps.workspaceStrategy,
      checkoutCacheDir: deps.paths.checkouts,
    });
    await applyPatchToWorkspace(validationWorkspace, patch.text);
    return validationWorkspace.dir;
  };
  const validatorEvents: TypedEvent[] = [];
  const validatorNetwork = new NetworkRecorder(runId, attempt, 'validators', (event) =>
    validatorEvents.push(event),
  );
  const setup = await validatorSetup(deps, {
    job,
    policy,
    attemptDir,
    validationAttemptDir,
    scratchDir: aep.sandboxScratch,
    network: validatorNetwork,
  });
  let gates: Awaited<ReturnType<typeof runGates>>;
  try {
    gates = await runGates({
      policy,
      patch,
      workspace,
      sandbox: input.sandbox,
      ...setup,
      prepareValidatorWorkspace,
      outputDir: join(attemptDir, 'validators'),
      clock,
      signal: input.signal,
      onVerdict: async (verdict, denials) => {
        const data = {
          runId,
          attempt,
          gate: verdict.gate,
          code: verdict.code,
          detail: verdict.detail,
          durationMs: verdict.durationMs,
          ...(verdict.evidence === undefined ? {} : { evidence: verdict.evidence }),
        };
        await recorder.append(
          ...denials.map((denial) => sessionEvent('policy.denied', { runId, attempt, ...denial })),
          verdict.passed ? sessionEvent('gate.passed', data) : sessionEvent('gate.failed', data),
        );
      },
    });
  } finally {
    const validated: Workspace | null = validationWorkspace;
    if (validated !== null) await removeWorkspace(validated).catch(() => undefined);
  }

  const validatorSummary = validatorNetwork.summary();
  if (validatorSummary !== null) validatorEvents.push(validatorSummary);
  if (validatorEvents.length > 0) await recorder.append(...validatorEvents);

  if (gates.passed) {
    const artifact = await storeArtifact(deps.paths.artifacts, patch.text, 'patch');
    await keepPatch(deps, { runId, fence: recorder.fence, text: patch.text });
    await recorder.append(
      sessionEvent('artifact.stored', {
        runId,
        kind: 'patch',
        sha256: artifact.sha256,
        path: artifact.path,
        bytes: artifact.bytes,
      }),
    );
    const action = driver.result?.recommendedAction ?? 'promote';
    if (action === 'human_review' || driver.result?.status === 'partial') {
      return {
        ...base,
        kind: 'success',
        code: 'HUMAN_REVIEW_REQUESTED',
        detail:
          action === 'human_review'
            ? 'every gate passed; the agent asked for human review, so the patch is never auto-promoted'
            : 'every gate passed; the agent reported only partial success, so a person decides',
        driverSummary,
        patch,
        artifact,
      };
    }
    if (action === 'reject') {
      return {
        ...base,
        kind: 'stopped',
        code: 'GATE_FAILED',
        detail: 'the agent recommended rejecting its own patch',
        driverSummary,
      };
    }
    return {
      ...base,
      kind: 'success',
      code: 'GATES_PASSED',
      detail: `every gate passed (${gates.verdicts.length} checks)`,
      driverSummary,
      patch,
      artifact,
    };
  }

  const policyFailure = gates.failures.find((failure) => failure.gateClass === GateClass.policy);
  if (policyFailure) {
    return {
      ...base,
      kind: 'stopped',
      code: policyFailure.code,
      detail: `${policyFailure.gate}: ${policyFailure.detail}`,
      driverSummary,
    };
  }
  const first = gates.failures[0];
  if (input.signal.aborted || first?.code === 'CANCELLED') {
    const stopped = stoppedAttempt(input.signal, 'during validation');
    return {
      ...base,
      kind: 'cancelled',
      code: stopped.code,
      detail: stopped.detail,
      driverSummary,
    };
  }
  return {
    ...base,
    kind: 'retryable',
    code: first?.code ?? 'GATE_FAILED',
    detail: gates.failures
      .map((failure) => `${failure.gate}: ${firstLine(failure.detail)}`)
      .join('; '),
    driverSummary,
    feedback: gates.failures.map((failure) => ({
      gate: failure.gate,
      detail: clip(failure.detail),
    })),
  };
}

/**
 * Removes (or keeps) the attempt's workspace and records which. Removal never depends on the
 * record: a recording failure here (a lost lease, a store outage) is left for the run's next
 * write to report, and must not mask the error that ended the attempt.
 */
async function disposeWorkspace(input: AttemptInput, workspace: Workspace): Promise<void> {
  const { recorder, runId, attempt } = input;
  let event: TypedEvent;
  if (input.job.keepWorkspace) {
    await markWorkspaceKept(workspace.attemptDir).catch(() => undefined);
    event = sessionEvent('workspace.kept', {
      runId,
      attempt,
      dir: workspace.dir,
      reason: 'keepWorkspace requested',
    });
  } else {
    try {
      await removeWorkspace(workspace);
      event = sessionEvent('workspace.removed', { runId, attempt, dir: workspace.dir });
    } catch (thrown) {
      event = sessionEvent('workspace.kept', {
        runId,
        attempt,
        dir: workspace.dir,
        reason: `removal failed (collected later by aas gc): ${normaliseError(thrown).message}`,
      });
    }
  }
  try {
    await recorder.append(event);
  } catch (thrown) {
    const error = normaliseError(thrown);
    // A holder that lost its lease may record nothing more, by design: not worth a warning.
    const log = error.code === 'LEASE_FENCED' ? input.deps.log.debug : input.deps.log.warn;
    log.call(input.deps.log, { err: error.message, runId }, 'could not record workspace disposal');
  }
}

/**
 * The policy's resource limits for one attempt. Growth is measured where the agent can write:
 * the overlay's upper layer (or the whole worktree) and its own AEP directory.
 */
function resourceLimitsFor(
  policy: EffectivePolicy,
  workspace: Workspace,
  aepDir: string,
): ResourceLimits {
  return {
    cpuSec: policy.limits.cpuSec,
    maxProcesses: policy.limits.maxProcesses,
    maxMemoryBytes: policy.limits.maxMemoryBytes,
    maxFileBytes: policy.limits.maxFileBytes,
    growth: {
      paths: [workspace.upperDir ?? workspace.dir, aepDir],
      maxBytes: policy.limits.maxWorkspaceGrowthBytes,
    },
  };
}

/**
 * The agent's HOME and TMPDIR go with the attempt: whatever it left there (set-uid copies of
 * system binaries, caches, bulk data past the growth cap) has no reader after it. The job,
 * result, event log and artifacts it wrote stay for review.
 */
async function removeAgentScratch(attemptDir: string): Promise<void> {
  const aep = attemptPaths(attemptDir);
  await Promise.all(
    [aep.home, aep.tmp, aep.sandboxScratch, join(attemptDir, 'validator-env')].map((dir) =>
      rm(dir, { recursive: true, force: true }).catch(() => undefined),
    ),
  );
}

function clip(text: string): string {
  return text.length > FEEDBACK_DETAIL_CHARS ? `${text.slice(0, FEEDBACK_DETAIL_CHARS)}…` : text;
}

function firstLine(text: string): string {
  return text.split('\n', 1)[0] ?? '';
}
