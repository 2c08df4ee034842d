export { applyPatchToWorkspace } from './apply-patch-to-workspace.js';
export {
  addBasePack,
  BASE_PACK_MAX_BYTES,
  type BasePack,
  cachedBaseCommits,
  createBasePack,
  hasCachedCommit,
  openBaseCache,
} from './base-pack.js';
export {
  checkPatchApplies,
  type PatchApplyCheck,
  type PatchApplyTarget,
} from './check-patch-applies.js';
export { checkedOutBranchAt } from './checked-out-branch-at.js';
export {
  type CheckoutCacheCollection,
  type CollectCheckoutCacheOptions,
  collectCheckoutCache,
} from './checkout-cache.js';
export {
  type CollectOrphanWorkspacesOptions,
  collectOrphanWorkspaces,
  markWorkspaceKept,
  type OrphanCollection,
} from './collect-orphan-workspaces.js';
export {
  collectRepoCaches,
  type RepoCacheCollection,
} from './collect-repo-caches.js';
export {
  collectRunDirs,
  markRunDirsLeft,
  type RunDirCollection,
  type RunDirRoots,
  removeRunDirs,
} from './collect-run-dirs.js';
export { type ComputePatchOptions, computePatch } from './compute-patch.js';
export {
  type CreateRepositoryOptions,
  createRepositoryFromFiles,
} from './create-repository-from-files.js';
export {
  type CreateWorkspaceOptions,
  createWorkspace,
  type WorkspaceStrategyChoice,
} from './create-workspace.js';
export {
  type FetchedRepo,
  type FetchRepoUrlOptions,
  fetchRepoUrl,
  REPO_FETCH_TIMEOUT_MS,
  repoUrlCacheKey,
} from './fetch-repo-url.js';
export { checkGitCredentialsFile } from './git-credentials.js';
export { DEFAULT_GIT_SEARCH_PATH } from './git-env.js';
export { isRepoUrl, repoUrlProtocol } from './is-repo-url.js';
export { checkLocalRepo } from './locate-repo.js';
export { type WorkspaceStrategySupport, workspaceStrategySupport } from './overlay-support.js';
export { type PrepareRunGitOptions, prepareRunGit } from './prepare-run-git.js';
export { readFileAtCommit, readPolicyFileAtCommit } from './read-file-at-commit.js';
export { removeWorkspace } from './remove-workspace.js';
export { ANY_REPO_PATH, checkRepoPath, type RepoPathRule } from './repo-path-rule.js';
export {
  ANY_REPO_URL,
  type CheckedRepoHost,
  checkRepoUrl,
  checkRepoUrlHost,
  isLocalNetworkAddress,
  type RepoUrlRule,
  repoUrlEndpoint,
} from './repo-url-rule.js';
export { type ResolveBaseOptions, resolveBase } from './resolve-base.js';
export { type GitInvocation, type GitResult, runGit } from './run-git.js';
export { trackedFilesUnder } from './tracked-files-under.js';
export type {
  BaseResolution,
  DroppedPath,
  PatchFile,
  PatchFileStatus,
  PatchResult,
  PatchStats,
  RunGit,
  RuntimeRule,
  RuntimeRuleMatch,
  Workspace,
  WorkspaceStrategy,
} from './types.js';
