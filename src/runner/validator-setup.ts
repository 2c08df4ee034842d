import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { buildSandboxBaseEnv } from '../drivers/index.js';
import type { ValidatorSpec } from '../gates/index.js';
import type { EffectivePolicy } from '../policy/index.js';
import type { Confinement, ResourceLimits } from '../sandbox/index.js';
import type { JobSpec } from './job-spec.js';
import { type NetworkRecorder, sandboxNetworkFor } from './network-recorder.js';
import type { RunnerDeps } from './runner-deps.js';

/** What the gate pipeline needs to run validators in their own sandbox. */
export interface ValidatorSetup {
  readonly validators: readonly ValidatorSpec[];
  readonly validatorEnv: Readonly<Record<string, string>>;
  readonly validatorConfinement: Confinement;
  readonly validatorLimits: ResourceLimits;
}

/**
 * The sandbox of a job's validators. A test suite is code the agent could have changed: it gets
 * the agent's kind of sandbox, but a HOME and TMPDIR of its own (under `attemptDir`), so nothing
 * the agent planted there (a usercustomize.py, a shell profile, a git config) runs as part of a
 * gate; it may write only the validation workspace (`<validationAttemptDir>/workspace`) and that
 * environment, within the policy's limits.
 */
export async function validatorSetup(
  deps: Pick<RunnerDeps, 'hostEnv'>,
  input: {
    readonly job: JobSpec;
    readonly policy: EffectivePolicy;
    readonly attemptDir: string;
    readonly validationAttemptDir: string;
    readonly scratchDir: string;
    readonly network: NetworkRecorder;
  },
): Promise<ValidatorSetup> {
  const { policy } = input;
  const root = join(input.attemptDir, 'validator-env');
  const home = join(root, 'home');
  const tmp = join(root, 'tmp');
  await Promise.all([mkdir(home, { recursive: true }), mkdir(tmp, { recursive: true })]);
  const validationDir = join(input.validationAttemptDir, 'workspace');
  return {
    validators: input.job.validators.map((validator, index) => ({
      name: validator.name ?? `validator-${index + 1}`,
      command: validator.command,
      timeoutSec: Math.min(validator.timeoutSec, policy.limits.timeoutSec),
    })),
    validatorEnv: Object.fromEntries(
      buildSandboxBaseEnv({ hostEnv: deps.hostEnv, envAllow: policy.envAllow, home, tmp }),
    ),
    validatorConfinement: {
      writablePaths: [validationDir, root],
      readOnlyPaths: [],
      tmpDir: tmp,
      homeDir: home,
      network: sandboxNetworkFor(policy, input.network),
      scratchDir: input.scratchDir,
    },
    validatorLimits: {
      cpuSec: policy.limits.cpuSec,
      maxProcesses: policy.limits.maxProcesses,
      maxMemoryBytes: policy.limits.maxMemoryBytes,
      maxFileBytes: policy.limits.maxFileBytes,
      growth: {
        paths: [join(input.validationAttemptDir, 'upper'), validationDir, root],
        maxBytes: policy.limits.maxWorkspaceGrowthBytes,
      },
    },
  };
}
