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
