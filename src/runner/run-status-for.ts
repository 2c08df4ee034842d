import { assertNever, type Code } from '../kernel/index.js';
import type { RunStatus } from '../store/index.js';

/** Terminal status of a run from the code that ended it: one exhaustive table. */
export function runStatusFor(code: Code): RunStatus {
  switch (code) {
    case 'GATES_PASSED':
      return 'ready_for_promotion';
    case 'HUMAN_REVIEW_REQUESTED':
      return 'human_review';
    case 'POLICY_DENIED':
    case 'GATE_FAILED':
    case 'GATE_ERROR':
    case 'EMPTY_PATCH':
    case 'SANDBOX_UNAVAILABLE':
    case 'AGENT_UNAVAILABLE':
    case 'APPROVAL_SELF':
    case 'APPROVAL_REQUIRED':
    case 'APPROVAL_REJECTED':
    case 'PREFLIGHT_FAILED':
    case 'BASE_MOVED':
    case 'BRANCH_EXISTS':
      return 'blocked';
    case 'CANCELLED':
      return 'cancelled';
    case 'INVALID_ARGUMENT':
    case 'CONFIG_INVALID':
    case 'NAME_TAKEN':
    case 'JOB_INVALID':
    case 'POLICY_INVALID':
    case 'MANIFEST_INVALID':
    case 'AGENT_UNKNOWN':
    case 'REPO_NOT_FOUND':
    case 'REPO_NOT_GIT':
    case 'BASE_REF_UNKNOWN':
    case 'BASE_DIRTY':
    case 'NOT_FOUND':
    case 'METHOD_NOT_ALLOWED':
    case 'REQUEST_INVALID':
    case 'REQUEST_TIMEOUT':
    case 'HEADERS_TOO_LARGE':
    case 'PAYLOAD_TOO_LARGE':
    case 'MEDIA_TYPE_UNSUPPORTED':
    case 'TOO_MANY_STREAMS':
    case 'UNAUTHENTICATED':
    case 'FORBIDDEN':
    case 'AGENT_FAILED':
    case 'AGENT_TIMEOUT':
    case 'BUDGET_EXCEEDED':
    case 'AGENT_OUTPUT_LIMIT':
    case 'AGENT_CPU_LIMIT':
    case 'AGENT_PROCESS_LIMIT':
    case 'AGENT_MEMORY_LIMIT':
    case 'AGENT_FILE_SIZE_LIMIT':
    case 'WORKSPACE_GROWTH_LIMIT':
    case 'DRIVER_RESULT_INVALID':
    case 'CREDENTIALS_MISSING':
    case 'PATCH_DIGEST_MISMATCH':
    case 'ATTESTATION_INVALID':
    case 'PROVIDER_ERROR':
    case 'AUDIT_CHAIN_BROKEN':
    case 'LEASE_FENCED':
    case 'CONFLICT':
    case 'INTERRUPTED':
    case 'STORE_UNAVAILABLE':
    case 'SERVER_UNAVAILABLE':
    case 'INTERNAL':
      return 'failed';
    default:
      return assertNever(code, 'code');
  }
}
