export { allowsEnv, allowsTool } from './allow-lists.js';
export { allowsHost } from './allows-host.js';
export { decidePath, type PathDecision, PathDecisionKind, runtimeRule } from './decide-path.js';
export { describePolicyForAgent } from './describe-policy-for-agent.js';
export {
  type EffectiveLimits,
  type EffectiveNetwork,
  type EffectivePolicy,
  type LayerAllowList,
  type LayerHostList,
  type NamedLayer,
  type PatternRule,
  POLICY_FIELDS,
  type PolicyField,
} from './effective-policy.js';
export {
  type ExplainedPath,
  type ExplainedValue,
  explainPolicy,
  PathOutcome,
  type PolicyExplanation,
} from './explain-policy.js';
export { FLOOR_LAYER } from './floor-layer.js';
export { formatExplanation } from './format-explanation.js';
export { mergePolicy } from './merge-policy.js';
export { type NormalisedPath, normaliseRepoPath } from './normalise-repo-path.js';
export { type NotGranted, notGranted } from './not-granted.js';
export { parsePolicyLayer, validatePolicyLayer } from './parse-policy-layer.js';
export { POLICY_DEFAULTS } from './policy-defaults.js';
export {
  type PolicyLayer,
  PolicyLayerSchema,
  SandboxMode,
} from './policy-layer-schema.js';
export {
  agentPolicyLayer,
  REPO_POLICY_PATH,
  readPolicyLayerFile,
  repoPolicyLayer,
} from './policy-layer-sources.js';
export {
  EffectiveNetworkSchema,
  LayerAllowListSchema,
  PatternRuleSchema,
  POLICY_VALUE_SCHEMAS,
  type RecordedPolicy,
  readRecordedPolicy,
} from './recorded-policy.js';
