import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { forceRemove } from './force-remove.js';
import type { Workspace } from './types.js';
import { BASE_INDEX_NAME, PATCH_INDEX_PREFIX, WORKSPACE_DIR_NAME } from './workspace-layout.js';

/**
 * Deletes the workspace files and the indexes beside them; the rest of the attempt directory
 * (logs, artifacts) stays. Idempotent. The base index goes last: it is how orphan collection
 * recognises an attempt directory, so a crash half-way leaves something it will still find.
 */
export async function removeWorkspace(ws: Pick<Workspace, 'attemptDir'>): Promise<void> {
  await removeWorkspaceIn(ws.attemptDir);
}

export async function removeWorkspaceIn(attemptDir: string): Promise<void> {
  await forceRemove(join(attemptDir, WORKSPACE_DIR_NAME));
  let names: string[] = [];
  try {
    names = await readdir(attemptDir);
  } catch {
    return;
  }
  for (const name of names) {
    if (name.startsWith(PATCH_INDEX_PREFIX)) await forceRemove(join(attemptDir, name));
  }
  await rm(join(attemptDir, BASE_INDEX_NAME), { force: true });
}
