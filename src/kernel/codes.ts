/**
 * The one closed set of outcome codes. Every error, every terminal run state and every gate
 * verdict that denies carries one of these. Exit codes and HTTP statuses come from this table
 * and nowhere else, so the CLI and the API can never disagree about what a code means.
 */
export const ExitCode = {
  ok: 0,
  internal: 1,
  badInput: 2,
  blocked: 3,
  humanReview: 4,
  agentFailed: 5,
  integrity: 6,
  /** 128 + SIGINT, the shell convention for an interrupted command. */
  cancelled: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

interface CodeInfo {
  readonly exit: ExitCode;
  readonly http: number;
  readonly summary: string;
}

export const CODES = {
  // Outcomes that are not errors.
  GATES_PASSED: {
    exit: ExitCode.ok,
    http: 200,
    summary: 'every gate passed; the patch is ready for promotion',
  },
  HUMAN_REVIEW_REQUESTED: {
    exit: ExitCode.humanReview,
    http: 200,
    summary: 'the run needs a human decision before promotion',
  },

  // Bad input: the caller can fix it.
  INVALID_ARGUMENT: {
    exit: ExitCode.badInput,
    http: 400,
    summary: 'an argument or flag is missing or malformed',
  },
  CONFIG_INVALID: { exit: ExitCode.badInput, http: 400, summary: 'the configuration is invalid' },
  NAME_TAKEN: {
    exit: ExitCode.badInput,
    http: 409,
    summary: 'the name is already taken (by a schedule, token or worker); choose another',
  },
  JOB_INVALID: { exit: ExitCode.badInput, http: 400, summary: 'the job specification is invalid' },
  POLICY_INVALID: {
    exit: ExitCode.badInput,
    http: 400,
    summary: 'a policy layer is missing, unreadable or invalid',
  },
  MANIFEST_INVALID: { exit: ExitCode.badInput, http: 400, summary: 'an agent manifest is invalid' },
  AGENT_UNKNOWN: {
    exit: ExitCode.badInput,
    http: 400,
    summary: 'no agent with that id is registered',
  },
  REPO_NOT_FOUND: {
    exit: ExitCode.badInput,
    http: 400,
    summary: 'the repository path does not exist',
  },
  REPO_NOT_GIT: { exit: ExitCode.badInput, http: 400, summary: 'the path is not a git repository' },
  BASE_REF_UNKNOWN: {
    exit: ExitCode.badInput,
    http: 400,
    summary: 'the base ref does not resolve to a commit',
  },
  BASE_DIRTY: {
    exit: ExitCode.badInput,
    http: 409,
    summary: 'the repository has uncommitted changes',
  },
  NOT_FOUND: {
    exit: ExitCode.badInput,
    http: 404,
    summary: 'no such session, run, schedule or event',
  },
  METHOD_NOT_ALLOWED: {
    exit: ExitCode.badInput,
    http: 405,
    summary: 'the path exists but takes other methods (listed in the Allow header)',
  },
  REQUEST_INVALID: {
    exit: ExitCode.badInput,
    http: 400,
    summary:
      'the request is malformed: bad JSON, a wrong type, an unknown field or a bad parameter',
  },
  REQUEST_TIMEOUT: {
    exit: ExitCode.badInput,
    http: 408,
    summary: 'the request was not received in full in the time the server allows',
  },
  HEADERS_TOO_LARGE: {
    exit: ExitCode.badInput,
    http: 431,
    summary: 'the request line and headers are larger than the server accepts',
  },
  PAYLOAD_TOO_LARGE: {
    exit: ExitCode.badInput,
    http: 413,
    summary: 'the request body is larger than the server accepts',
  },
  MEDIA_TYPE_UNSUPPORTED: {
    exit: ExitCode.badInput,
    http: 415,
    summary: 'the request body is not in a content type this endpoint accepts',
  },
  TOO_MANY_STREAMS: {
    exit: ExitCode.badInput,
    http: 429,
    summary: 'as many event streams are open as the server allows, for this token or in all',
  },
  UNAUTHENTICATED: {
    exit: ExitCode.badInput,
    http: 401,
    summary: 'no valid bearer token was presented',
  },
  FORBIDDEN: {
    exit: ExitCode.badInput,
    http: 403,
    summary: "the token's role does not allow this action",
  },

  // Blocked by policy or gates.
  POLICY_DENIED: {
    exit: ExitCode.blocked,
    http: 403,
    summary: 'the patch touches something the policy forbids',
  },
  GATE_FAILED: {
    exit: ExitCode.blocked,
    http: 422,
    summary: 'a gate or validator rejected the patch',
  },
  GATE_ERROR: {
    exit: ExitCode.blocked,
    http: 422,
    summary: 'a gate crashed or timed out, which counts as a denial',
  },
  EMPTY_PATCH: { exit: ExitCode.blocked, http: 422, summary: 'the agent produced no change' },
  SANDBOX_UNAVAILABLE: {
    exit: ExitCode.blocked,
    http: 409,
    summary: 'the policy requires a sandbox this host cannot provide',
  },
  AGENT_UNAVAILABLE: {
    exit: ExitCode.blocked,
    http: 409,
    summary: 'the agent is known but its program is not installed on this host',
  },
  APPROVAL_SELF: {
    exit: ExitCode.blocked,
    http: 403,
    summary: 'the requester or producer of a run cannot approve it',
  },
  APPROVAL_REQUIRED: {
    exit: ExitCode.blocked,
    http: 409,
    summary: 'the run does not have the approvals its policy requires for this patch',
  },
  APPROVAL_REJECTED: {
    exit: ExitCode.blocked,
    http: 409,
    summary: 'an approver rejected the patch; the run cannot be promoted',
  },
  PREFLIGHT_FAILED: {
    exit: ExitCode.blocked,
    http: 409,
    summary: 'a promotion preflight check failed; nothing was written',
  },
  BASE_MOVED: {
    exit: ExitCode.blocked,
    http: 409,
    summary: 'the target branch moved since the run and the policy or the patch does not allow it',
  },
  BRANCH_EXISTS: {
    exit: ExitCode.blocked,
    http: 409,
    summary: 'the promotion branch already exists with other content and is never overwritten',
  },
  CREDENTIALS_MISSING: {
    exit: ExitCode.badInput,
    http: 409,
    summary: 'the promotion mode needs credentials this server is not configured with',
  },

  // The agent failed.
  AGENT_FAILED: {
    exit: ExitCode.agentFailed,
    http: 422,
    summary: 'the agent exited non-zero or reported failure',
  },
  AGENT_TIMEOUT: {
    exit: ExitCode.agentFailed,
    http: 422,
    summary: 'the agent exceeded its time limit and was killed',
  },
  BUDGET_EXCEEDED: {
    exit: ExitCode.agentFailed,
    http: 402,
    summary: 'the run spent its model budget; further model calls were refused',
  },
  AGENT_OUTPUT_LIMIT: {
    exit: ExitCode.agentFailed,
    http: 422,
    summary: 'the agent exceeded its output limit and was killed',
  },
  AGENT_CPU_LIMIT: {
    exit: ExitCode.agentFailed,
    http: 422,
    summary: 'the agent exceeded its CPU time limit and was killed',
  },
  AGENT_PROCESS_LIMIT: {
    exit: ExitCode.agentFailed,
    http: 422,
    summary: 'the agent exceeded its process limit and was killed',
  },
  AGENT_MEMORY_LIMIT: {
    exit: ExitCode.agentFailed,
    http: 422,
    summary: 'the agent exceeded its memory limit and was killed',
  },
  AGENT_FILE_SIZE_LIMIT: {
    exit: ExitCode.agentFailed,
    http: 422,
    summary: 'the agent tried to write a file over the size limit and was stopped',
  },
  WORKSPACE_GROWTH_LIMIT: {
    exit: ExitCode.agentFailed,
    http: 422,
    summary: 'the workspace grew past its limit and the agent was killed',
  },
  DRIVER_RESULT_INVALID: {
    exit: ExitCode.agentFailed,
    http: 422,
    summary: 'the driver result file is missing or invalid',
  },

  // Integrity and concurrency.
  PATCH_DIGEST_MISMATCH: {
    exit: ExitCode.integrity,
    http: 409,
    summary: 'the patch on disk does not match the digest the run recorded',
  },
  ATTESTATION_INVALID: {
    exit: ExitCode.integrity,
    http: 422,
    summary: 'the attestation signature, subject digest or chain link does not verify',
  },
  AUDIT_CHAIN_BROKEN: {
    exit: ExitCode.integrity,
    http: 409,
    summary: 'the event hash chain does not verify',
  },
  LEASE_FENCED: {
    exit: ExitCode.internal,
    http: 409,
    summary: 'a newer lease holder fenced this writer off',
  },
  CONFLICT: {
    exit: ExitCode.internal,
    http: 409,
    summary: 'the request does not fit the record as it is now',
  },
  CANCELLED: { exit: ExitCode.cancelled, http: 409, summary: 'the run was cancelled' },
  INTERRUPTED: {
    exit: ExitCode.internal,
    http: 409,
    summary: 'the process running this run stopped before it finished',
  },

  PROVIDER_ERROR: {
    exit: ExitCode.internal,
    http: 502,
    summary: 'the forge (git remote or pull request API) refused or failed the request',
  },

  // Ours to fix.
  STORE_UNAVAILABLE: {
    exit: ExitCode.internal,
    http: 503,
    summary: 'the database cannot be reached',
  },
  SERVER_UNAVAILABLE: {
    exit: ExitCode.internal,
    http: 503,
    summary: 'the AAS server cannot be reached or is shutting down',
  },
  INTERNAL: { exit: ExitCode.internal, http: 500, summary: 'an unexpected internal error' },
} as const satisfies Record<string, CodeInfo>;

export type Code = keyof typeof CODES;
export const ALL_CODES = Object.keys(CODES) as Code[];

export function isCode(value: unknown): value is Code {
  return typeof value === 'string' && Object.hasOwn(CODES, value);
}

export function exitCodeFor(code: Code): ExitCode {
  return CODES[code].exit;
}

export function httpStatusFor(code: Code): number {
  return CODES[code].http;
}
