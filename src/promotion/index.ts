export {
  APPROVABLE_STATUSES,
  type ApprovalDeps,
  type ApprovalStanding,
  type Decider,
  recordDecision,
  standingOf,
  targetBranchOf,
} from './approvals.js';
export { auditSession, type SessionAudit } from './audit-session.js';
export {
  type DraftPr,
  type DraftPrProvider,
  type DraftPrRequest,
  parseGitHubRemote,
} from './draft-pr-provider.js';
export { type DsseEnvelope, signEnvelope, verifyEnvelope } from './dsse.js';
export { createGitHubProvider, GITHUB_API_URL } from './github-provider.js';
export {
  attestationPath,
  branchNameOf,
  type PreflightCheck,
  type PromotionDeps,
  PromotionMode,
  type PromotionResult,
  PromotionState,
  promoteRun,
  type RevalidationInput,
} from './promote-run.js';
export {
  loadPromotionContext,
  type PromotionContext,
  type PromotionStoreDeps,
} from './promotion-context.js';
export { redactUrl } from './promotion-git.js';
export {
  APPROVAL_STATES,
  type ApprovalState,
  type ApprovalView,
  approvalState,
  createPromotionService,
  type PromotionService,
  type RunApprovals,
} from './promotion-service.js';
export {
  PROMOTION_PREDICATE_TYPE,
  PROVENANCE_PAYLOAD_TYPE,
  type Statement,
} from './provenance-statement.js';
export {
  loadOrCreateSigningKey,
  PUBLIC_KEY_FILE,
  type PublicKeyInfo,
  publicKeyInfo,
  type SigningKey,
} from './signing-key.js';
export {
  type AttestationCheck,
  type AttestationVerdict,
  type AttestedEvent,
  verifyAttestation,
} from './verify-attestation.js';
