import type { Clock } from '../kernel/index.js';
import { normaliseError } from '../kernel/index.js';
import type { EffectivePolicy } from '../policy/index.js';
import type { Confinement, ResourceLimits, SandboxBackend } from '../sandbox/index.js';
import { checkPatchApplies, type PatchResult, type Workspace } from '../workspaces/index.js';
import { GateClass, type GateVerdict, type PathDenial } from './gate-verdict.js';
import { runValidator, type ValidatorSpec } from './run-validator.js';
import { runStaticGate, STATIC_GATES } from './static-gates.js';

export interface GatePipelineInput {
  readonly policy: EffectivePolicy;
  readonly patch: PatchResult;
  readonly workspace: Workspace;
  readonly validators: readonly ValidatorSpec[];
  readonly sandbox: SandboxBackend;
  readonly validatorEnv: Readonly<Record<string, string>>;
  /** What validators see in the sandbox: the same confinement kind as the agent's. */
  readonly validatorConfinement: Confinement;
  readonly validatorLimits?: ResourceLimits;
  /**
   * The directory validators run in, prepared only once every static gate passed (a fresh
   * workspace with the patch applied). Absent: the agent's workspace.
   */
  readonly prepareValidatorWorkspace?: () => Promise<string>;
  readonly outputDir: string;
  readonly clock: Clock;
  readonly signal?: AbortSignal;
  /** Called after each verdict, in order, so it is recorded before the next gate runs. */
  readonly onVerdict: (verdict: GateVerdict, denials: readonly PathDenial[]) => Promise<void>;
}

export interface GatePipelineResult {
  readonly passed: boolean;
  readonly verdicts: readonly GateVerdict[];
  /** The failed verdicts, in order; empty when passed. */
  readonly failures: readonly GateVerdict[];
  readonly skippedValidators: readonly string[];
}

/**
 * The ordered, recorded, fail-closed pipeline: built-in patch gates, then "patch applies to
 * base", then the job's validators. Static gates all run (their failures together make useful
 * feedback); validators run only on a patch every static gate accepted, because running a
 * test suite on a patch that cannot be promoted spends minutes to learn nothing.
 */
export async function runGates(input: GatePipelineInput): Promise<GatePipelineResult> {
  const verdicts: GateVerdict[] = [];
  const record = async (verdict: GateVerdict, denials: readonly PathDenial[] = []) => {
    verdicts.push(verdict);
    await input.onVerdict(verdict, denials);
  };

  for (const gate of STATIC_GATES) {
    const started = input.clock.nowMs();
    const result = await runStaticGate(gate, {
      policy: input.policy,
      patch: input.patch,
      workspaceDir: input.workspace.dir,
    });
    await record(
      {
        gate: gate.name,
        gateClass: gate.gateClass,
        passed: result.passed,
        code: result.code,
        detail: result.detail,
        durationMs: input.clock.nowMs() - started,
        ...(result.evidence === undefined ? {} : { evidence: result.evidence }),
      },
      result.denials ?? [],
    );
  }

  if (input.patch.files.length > 0) {
    const started = input.clock.nowMs();
    let applies: { ok: boolean; detail: string };
    try {
      applies = await checkPatchApplies(input.workspace, input.patch.text);
    } catch (thrown) {
      applies = {
        ok: false,
        detail: `check crashed, which denies: ${normaliseError(thrown).message}`,
      };
    }
    await record({
      gate: 'patch.applies',
      gateClass: GateClass.integrity,
      passed: applies.ok,
      code: applies.ok ? 'GATES_PASSED' : 'GATE_FAILED',
      detail: applies.ok
        ? `applies cleanly to ${input.workspace.baseCommit.slice(0, 12)}`
        : applies.detail,
      durationMs: input.clock.nowMs() - started,
    });
  }

  const readyForValidators = verdicts.every((verdict) => verdict.passed);
  const skippedValidators: string[] = [];
  let validatorDir: string | null = null;
  for (const [index, spec] of input.validators.entries()) {
    if (!readyForValidators) {
      skippedValidators.push(spec.name);
      continue;
    }
    const started = input.clock.nowMs();
    let verdict: GateVerdict;
    try {
      if (validatorDir === null) {
        validatorDir =
          input.prepareValidatorWorkspace === undefined
            ? input.workspace.dir
            : await input.prepareValidatorWorkspace();
      }
      const result = await runValidator({
        spec,
        index: index + 1,
        sandbox: input.sandbox,
        workspaceDir: validatorDir,
        outputDir: input.outputDir,
        env: input.validatorEnv,
        confinement: input.validatorConfinement,
        ...(input.validatorLimits === undefined ? {} : { limits: input.validatorLimits }),
        maxOutputBytes: input.policy.limits.maxOutputBytes,
        ...(input.signal ? { signal: input.signal } : {}),
      });
      verdict = {
        gate: `validator:${spec.name}`,
        gateClass: GateClass.validator,
        passed: result.passed,
        code: result.code,
        detail: result.detail,
        durationMs: input.clock.nowMs() - started,
        evidence: {
          command: spec.command,
          exitCode: result.exitCode,
          stdout: result.stdoutPath,
          stderr: result.stderrPath,
        },
      };
    } catch (thrown) {
      verdict = {
        gate: `validator:${spec.name}`,
        gateClass: GateClass.validator,
        passed: false,
        code: 'GATE_ERROR',
        detail: `validator crashed, which denies: ${normaliseError(thrown).message}`,
        durationMs: input.clock.nowMs() - started,
      };
    }
    await record(verdict);
  }

  const failures = verdicts.filter((verdict) => !verdict.passed);
  return { passed: failures.length === 0, verdicts, failures, skippedValidators };
}
