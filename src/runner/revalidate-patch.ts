import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { runGates } from '../gates/index.js';
import { isAasError } from '../kernel/index.js';
import {
  agentPolicyLayer,
  FLOOR_LAYER,
  mergePolicy,
  type NamedLayer,
  REPO_POLICY_PATH,
  repoPolicyLayer,
  runtimeRule,
} from '../policy/index.js';
import { selectSandbox } from '../sandbox/index.js';
import type { TypedEvent } from '../sessions/index.js';
import {
  applyPatchToWorkspace,
  computePatch,
  createWorkspace,
  type RunGit,
  readPolicyFileAtCommit,
  removeWorkspace,
  type Workspace,
} from '../workspaces/index.js';
import type { JobSpec } from './job-spec.js';
import { NetworkRecorder } from './network-recorder.js';
import type { RunnerDeps } from './runner-deps.js';
import { validatorSetup } from './validator-setup.js';

export interface RevalidationVerdict {
  readonly ok: boolean;
  readonly detail: string;
  readonly gates: readonly { gate: string; passed: boolean; code: string; detail: string }[];
}

/**
 * Judges a finished run's patch again on a new base, as if the run had started there: the
 * policy is resolved anew (the repository layer read from the new base), the patch is applied
 * to a workspace of the new base and recomputed, and the whole gate pipeline runs on it —
 * static gates, the apply check and the job's validators in the sandbox the policy selects.
 * Nothing is recorded here; the caller records the verdict with its own step.
 */
export async function revalidatePatch(
  deps: RunnerDeps,
  input: {
    readonly runId: string;
    readonly job: JobSpec;
    readonly agentId: string;
    /** A git dir whose objects hold `newBase` (and borrow the repository's). */
    readonly git: RunGit;
    readonly newBase: string;
    readonly patchText: string;
    readonly signal?: AbortSignal;
  },
): Promise<RevalidationVerdict> {
  const { job } = input;
  const repoPolicy = await readPolicyFileAtCommit(input.git, input.newBase, REPO_POLICY_PATH);
  const manifest = deps.registry.get(input.agentId);
  const policy = mergePolicy(
    [
      FLOOR_LAYER,
      deps.serverPolicy,
      repoPolicy ? repoPolicyLayer(repoPolicy.toString('utf8'), input.newBase) : null,
      agentPolicyLayer(manifest),
      job.policy ? { name: 'job', source: 'job', layer: job.policy } : null,
    ].filter((layer): layer is NamedLayer => layer !== null),
  );
  // The job's validators run here, on the control plane, which holds the installation's
  // secrets (its environment, database, keys): unconfined only where the operator said `off`,
  // never by a `preferred` that found no sandbox.
  let sandbox: Awaited<ReturnType<typeof selectSandbox>>;
  try {
    sandbox = await selectSandbox(policy.sandbox === 'off' ? 'off' : 'required', deps.sandboxes);
  } catch (thrown) {
    if (!isAasError(thrown) || thrown.code !== 'SANDBOX_UNAVAILABLE') throw thrown;
    return {
      ok: false,
      detail: `validating again on this host needs a sandbox: ${thrown.message}`,
      gates: [],
    };
  }
  const root = join(deps.paths.runs, input.runId, `revalidation-${input.newBase.slice(0, 12)}`);
  await rm(root, { recursive: true, force: true });
  const attemptDir = join(root, 'attempt');
  const validationAttemptDir = join(root, 'validation');
  const workspaces: Workspace[] = [];
  const workspaceOptions = (dir: string) => ({
    baseCommit: input.newBase,
    attemptDir: dir,
    strategy: deps.workspaceStrategy,
    checkoutCacheDir: deps.paths.checkouts,
  });
  try {
    const workspace = await createWorkspace(input.git, workspaceOptions(attemptDir));
    workspaces.push(workspace);
    await applyPatchToWorkspace(workspace, input.patchText);
    const patch = await computePatch(workspace, {
      runtimeRule: (path) => runtimeRule(policy, path),
    });
    // What is committed is the original patch: if the new base's policy would drop part of it as
    // a runtime artifact, the gates below would judge less than what gets promoted.
    if (patch.runtimeDropped.length > 0) {
      const paths = patch.runtimeDropped.map((dropped) => dropped.path).join(', ');
      return {
        ok: false,
        detail: `under the policy at ${input.newBase.slice(0, 12)} the patch holds runtime artifacts: ${paths}`,
        gates: [],
      };
    }
    const ignored: TypedEvent[] = [];
    const network = new NetworkRecorder(input.runId, 0, 'validators', (event) =>
      ignored.push(event),
    );
    const verdicts: RevalidationVerdict['gates'][number][] = [];
    const setup = await validatorSetup(deps, {
      job,
      policy,
      attemptDir,
      validationAttemptDir,
      scratchDir: join(attemptDir, 'sandbox'),
      network,
    });
    const result = await runGates({
      policy,
      patch,
      workspace,
      sandbox: sandbox.backend,
      ...setup,
      prepareValidatorWorkspace: async () => {
        const validation = await createWorkspace(input.git, workspaceOptions(validationAttemptDir));
        workspaces.push(validation);
        await applyPatchToWorkspace(validation, patch.text);
        return validation.dir;
      },
      outputDir: join(attemptDir, 'validators'),
      clock: deps.clock,
      ...(input.signal === undefined ? {} : { signal: input.signal }),
      onVerdict: async (verdict) => {
        verdicts.push({
          gate: verdict.gate,
          passed: verdict.passed,
          code: verdict.code,
          detail: verdict.detail,
        });
      },
    });
    const failed = result.failures.map((failure) => `${failure.gate} (${failure.code})`);
    return {
      ok: result.passed,
      detail: result.passed
        ? `${verdicts.length} gates passed on ${input.newBase.slice(0, 12)}`
        : `failed on ${input.newBase.slice(0, 12)}: ${failed.join(', ')}`,
      gates: verdicts,
    };
  } finally {
    for (const workspace of workspaces.reverse()) {
      await removeWorkspace(workspace).catch(() => undefined);
    }
  }
}
