import { join } from 'node:path';

/** `<attemptDir>/workspace`: the only directory an agent may write. */
export const WORKSPACE_DIR_NAME = 'workspace';

/** The index of the base checkout, next to (never inside) the workspace; also how GC recognises our attempt dirs. */
export const BASE_INDEX_NAME = 'base.index';

export function baseIndexPath(attemptDir: string): string {
  return join(attemptDir, BASE_INDEX_NAME);
}

/** Temporary indexes of `computePatch` live beside the base index and share its prefix. */
export const PATCH_INDEX_PREFIX = 'patch-';

/**
 * Overlay strategy: `<attemptDir>/upper` receives every write the agent makes through the
 * workspace mount, `<attemptDir>/overlay-work` is overlayfs's scratch directory (it must be
 * on the upper's file system). Both are siblings of `workspace/`, so a sandbox that binds only
 * `workspace/` never exposes them.
 */
export const UPPER_DIR_NAME = 'upper';
export const OVERLAY_WORK_DIR_NAME = 'overlay-work';

/**
 * `<attemptDir>/overlay.lower`: the cached checkout an overlay workspace is layered on (its
 * `<cache>/<commit>` directory, one line). Written before the mount and removed last, it is
 * how computePatch finds the base index and how orphan collection recognises an overlay
 * attempt, as `base.index` does for a worktree one.
 */
export const OVERLAY_MARKER_NAME = 'overlay.lower';

export function overlayMarkerPath(attemptDir: string): string {
  return join(attemptDir, OVERLAY_MARKER_NAME);
}

/**
 * Written beside a workspace the job asked to keep (`--keep-workspace`): the crash recovery
 * every command runs leaves such a run's workspaces alone; `aas gc --kept` removes them.
 */
export const KEPT_MARKER_NAME = 'workspace.kept';
