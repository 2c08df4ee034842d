/**
 * The private git dir of one run and the user's repository it reads from. Created by
 * `prepareRunGit`, then used by every other operation of the run, so a dirty-base snapshot
 * commit (whose objects live only here) is found by the workspace and by promotion.
 */
export interface RunGit {
  /** `<runDir>/git`: a bare git dir whose `objects/info/alternates` names the user's object store. */
  readonly gitDir: string;
  /** The user's working tree top level (realpath). */
  readonly repoRoot: string;
  /** The user's git dir (read-only to AAS). */
  readonly repoGitDir: string;
  /** The user's object directory (read-only to AAS; borrowed through alternates). */
  readonly repoObjectsDir: string;
  /** PATH used to find git; never inherited from the host environment. */
  readonly searchPath: string;
}

export interface BaseResolution {
  readonly repoRoot: string;
  /** The ref as the job gave it, or `HEAD`. */
  readonly baseRef: string;
  /** 40-hex commit sha: the ref's commit, or the snapshot commit of a dirty checkout. */
  readonly baseCommit: string;
  /** The checkout had uncommitted changes on top of the base commit. */
  readonly dirty: boolean;
  /** Every dirty path (repo-relative), sorted. */
  readonly dirtyPaths: readonly string[];
  /** `baseCommit` is a snapshot of the dirty checkout, stored only in the run's private git dir. */
  readonly snapshot: boolean;
}

/** How a workspace holds the base: see createWorkspace. */
export type WorkspaceStrategy = 'overlay' | 'worktree';

export interface Workspace {
  /** `<attemptDir>/workspace`: plain files at the base commit, no `.git` inside. */
  readonly dir: string;
  /** The run's private git dir. */
  readonly gitDir: string;
  readonly baseCommit: string;
  readonly attemptDir: string;
  readonly repoRoot: string;
  readonly searchPath: string;
  /**
   * `overlay`: `dir` is an overlayfs mount of the cached checkout of `baseCommit` with a
   * private upper layer beside it; `worktree`: `dir` is a full checkout of its own.
   */
  readonly strategy: WorkspaceStrategy;
  /** Set when `auto` could not use overlay: why, in words an operator can act on. */
  readonly strategyReason?: string;
  /**
   * Overlay only: `<attemptDir>/upper`, where every byte the agent writes lands (created and
   * modified files, whiteouts for deletions). Its size is the workspace's growth; the merged
   * `dir` also counts the shared base, which the agent did not write.
   */
  readonly upperDir?: string;
}

/** The rule that marks a path as a runtime artifact, as `policy.runtimeRule` reports it. */
export interface RuntimeRuleMatch {
  readonly layer: string;
  readonly rule: string;
}

export type RuntimeRule = (path: string) => RuntimeRuleMatch | null;

export interface DroppedPath {
  readonly path: string;
  readonly layer: string;
  readonly rule: string;
}

export type PatchFileStatus =
  | 'added'
  | 'modified'
  | 'deleted'
  | 'renamed'
  | 'copied'
  | 'type-changed';

export interface PatchFile {
  /** The path after the change (for a deletion, the deleted path). */
  readonly path: string;
  /** For renames and copies: the source path. */
  readonly oldPath?: string;
  readonly status: PatchFileStatus;
  /** Octal git modes (`100644`, `100755`, `120000`, `160000`); absent on the side that does not exist. */
  readonly oldMode?: string;
  readonly newMode?: string;
  readonly binary: boolean;
  /** For a new side of mode 120000: the link target, verbatim. */
  readonly symlinkTarget?: string;
  readonly insertions: number;
  readonly deletions: number;
}

export interface PatchStats {
  readonly filesChanged: number;
  readonly insertions: number;
  readonly deletions: number;
  /** `+` and `-` content lines inside hunks; headers and binary payloads excluded. */
  readonly patchLines: number;
}

export interface PatchResult {
  /** A `git diff --binary --full-index` patch against the base commit; ASCII-safe binary payloads. */
  readonly text: string;
  /** SHA-256 hex of `text` encoded as UTF-8. */
  readonly sha256: string;
  readonly files: readonly PatchFile[];
  /** Changed paths restored to the base because they are runtime artifacts, with the rule that said so. */
  readonly runtimeDropped: readonly DroppedPath[];
  /** Untracked files the workspace's ignore rules exclude (a directory is listed once, with a trailing `/`). */
  readonly ignoredUntracked: readonly string[];
  readonly stats: PatchStats;
}
