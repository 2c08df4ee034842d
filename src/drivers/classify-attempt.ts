import { assertNever, isAasError } from '../kernel/index.js';
import type { LaunchOutcome, LimitHit } from '../sandbox/index.js';
import type { AgentResultMode } from './agent-manifest.js';
import { type DriverResult, isSuccessStatus } from './driver-result.js';
import type { DriverResultRead } from './read-driver-result.js';

export type DriverFailureCode =
  | 'AGENT_FAILED'
  | 'AGENT_TIMEOUT'
  | 'AGENT_OUTPUT_LIMIT'
  | 'AGENT_CPU_LIMIT'
  | 'AGENT_PROCESS_LIMIT'
  | 'AGENT_MEMORY_LIMIT'
  | 'AGENT_FILE_SIZE_LIMIT'
  | 'WORKSPACE_GROWTH_LIMIT'
  | 'DRIVER_RESULT_INVALID'
  | 'CANCELLED'
  | 'INTERRUPTED';

export type AttemptVerdict =
  | {
      readonly ok: true;
      readonly code: null;
      readonly detail: string;
      readonly result: DriverResult;
    }
  | {
      readonly ok: false;
      readonly code: DriverFailureCode;
      readonly detail: string;
      /** Whatever valid result the agent left, for retry feedback; never a reason to accept. */
      readonly result: DriverResult | null;
    };

export interface ClassifyInput {
  readonly mode: AgentResultMode;
  readonly launch: LaunchOutcome;
  /** Read only for `file` agents that exited on their own; null otherwise. */
  readonly resultRead: DriverResultRead | null;
  readonly timeoutMs: number;
  readonly maxOutputBytes: number;
  /** Why whoever ran the attempt stopped it (its signal's reason): an AasError says why. */
  readonly stopReason?: unknown;
}

/**
 * The decision table for one attempt, fail closed: success needs a clean exit 0 AND (for
 * `file` agents) a valid result whose status is succeeded or partial. A kill by the backend
 * decides first, because after a kill neither the exit code nor the result means anything.
 */
export function classifyAttempt(input: ClassifyInput): AttemptVerdict {
  const { launch } = input;
  if (launch.spawnError !== undefined) {
    return fail('AGENT_FAILED', `the agent could not be started: ${launch.spawnError}`);
  }
  if (launch.cancelled) {
    // Stopped for a shutdown or a lost lease: interrupted, not cancelled (the run goes on).
    const why = input.stopReason;
    return isAasError(why) && why.code === 'INTERRUPTED'
      ? fail('INTERRUPTED', `the attempt was stopped: ${why.message}`)
      : fail('CANCELLED', 'the attempt was cancelled');
  }
  if (launch.timedOut) {
    return fail(
      'AGENT_TIMEOUT',
      `the agent ran longer than ${input.timeoutMs} ms and its process group was killed`,
    );
  }
  if (launch.outputLimitExceeded) {
    return fail(
      'AGENT_OUTPUT_LIMIT',
      `the agent wrote more than ${input.maxOutputBytes} bytes of output and its process group was killed`,
    );
  }

  if (launch.limitHit !== null) {
    const detail = launch.limitDetail ?? 'a resource limit was hit';
    return fail(LIMIT_CODES[launch.limitHit], `${detail}; the process tree was stopped`);
  }

  const exitedCleanly = launch.exitCode === 0;
  const howItEnded =
    launch.exitCode !== null
      ? `exited with code ${launch.exitCode}`
      : `was killed by signal ${launch.signal ?? 'unknown'}`;

  switch (input.mode) {
    case 'exit-code':
      return exitedCleanly
        ? {
            ok: true,
            code: null,
            detail: 'the command exited with code 0',
            result: {
              status: 'succeeded',
              summary: 'the command exited with code 0',
              recommendedAction: 'promote',
            },
          }
        : fail('AGENT_FAILED', `the command ${howItEnded}`, {
            status: 'failed',
            summary: `the command ${howItEnded}`,
            recommendedAction: 'retry',
          });
    case 'file': {
      const read = input.resultRead;
      const result = read?.ok === true ? read.result : null;
      if (!exitedCleanly) {
        // Upstream accepted a non-zero exit with a "succeeded" file; a zero exit is required.
        const claim =
          result !== null && isSuccessStatus(result.status)
            ? `; its result claims '${result.status}', which a failed exit never confirms`
            : '';
        return fail('AGENT_FAILED', `the agent ${howItEnded}${claim}`, result);
      }
      if (read === null || !read.ok) {
        return fail('DRIVER_RESULT_INVALID', read?.problem ?? 'the driver result was not read');
      }
      if (!isSuccessStatus(read.result.status)) {
        const why = read.result.error ?? read.result.summary;
        return fail(
          'AGENT_FAILED',
          `the agent reported status '${read.result.status}': ${why}`,
          read.result,
        );
      }
      return {
        ok: true,
        code: null,
        detail: `the agent reported '${read.result.status}'`,
        result: read.result,
      };
    }
    default:
      return assertNever(input.mode, 'agent result mode');
  }
}

/** One reason code per limit, so a run's record says which limit ended it. */
const LIMIT_CODES = {
  cpu: 'AGENT_CPU_LIMIT',
  processes: 'AGENT_PROCESS_LIMIT',
  memory: 'AGENT_MEMORY_LIMIT',
  fileSize: 'AGENT_FILE_SIZE_LIMIT',
  workspaceGrowth: 'WORKSPACE_GROWTH_LIMIT',
} as const satisfies Record<LimitHit, DriverFailureCode>;

function fail(
  code: DriverFailureCode,
  detail: string,
  result: DriverResult | null = null,
): AttemptVerdict {
  return { ok: false, code, detail, result };
}
