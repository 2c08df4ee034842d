export { branchOfRef } from './branch-of-ref.js';
export { canonicalRepoPath } from './canonical-repo-path.js';
export {
  type ClaimedRunOptions,
  executeClaimedRun,
  executeRun,
  type RunOutcome,
  type StoppedRun,
} from './execute-run.js';
export {
  checkTargetBranch,
  type JobSpec,
  type JobSpecInput,
  JobSpecSchema,
  parseJobSpec,
  runRequirements,
  WORKER_LABEL_PATTERN,
} from './job-spec.js';
export { LOG_TAIL_BYTES, PATCH_MAX_BYTES } from './keep-run-artifacts.js';
export { newSubmission, type Submission } from './new-submission.js';
export { requireAgentInput } from './require-agent-input.js';
export { type RevalidationVerdict, revalidatePatch } from './revalidate-patch.js';
export { runStatusFor } from './run-status-for.js';
export type { ExecutionDeps, RunnerDeps, RunStore } from './runner-deps.js';
export { STOP_REASON } from './stop-reason.js';
export { submitRun } from './submit-run.js';
export { NO_BRANCH, withTargetBranch } from './with-target-branch.js';
