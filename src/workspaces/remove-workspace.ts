import { readdir, realpath, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { forceRemove } from './force-remove.js';
import { unmountAllUnder } from './run-mount.js';
import type { Workspace } from './types.js';
import {
  BASE_INDEX_NAME,
  KEPT_MARKER_NAME,
  OVERLAY_MARKER_NAME,
  OVERLAY_WORK_DIR_NAME,
  PATCH_INDEX_PREFIX,
  UPPER_DIR_NAME,
  WORKSPACE_DIR_NAME,
} from './workspace-layout.js';

/**
 * Deletes the workspace files and the indexes beside them; the rest of the attempt directory
 * (logs, artifacts) stays. Idempotent. An overlay workspace is unmounted first (lazily if it is
 * busy), and nothing is deleted while anything is still mounted there (unmountAllUnder throws):
 * `rm -rf` through the mount would write a whiteout into the upper layer for every base file,
 * O(files) work on a tree about to be deleted, and end with EBUSY on the mount point. The
 * markers go last: they are how orphan collection recognises an attempt directory, so a crash
 * half-way leaves something it will still find.
 */
export async function removeWorkspace(ws: Pick<Workspace, 'attemptDir'>): Promise<void> {
  await removeWorkspaceIn(ws.attemptDir);
}

export async function removeWorkspaceIn(attemptDir: string): Promise<void> {
  let real: string;
  try {
    real = await realpath(attemptDir);
  } catch {
    return;
  }
  const owned = [WORKSPACE_DIR_NAME, UPPER_DIR_NAME, OVERLAY_WORK_DIR_NAME].map((name) =>
    join(real, name),
  );
  for (const dir of owned) await unmountAllUnder(dir);
  for (const dir of owned) await forceRemove(dir);
  let names: string[] = [];
  try {
    names = await readdir(real);
  } catch {
    return;
  }
  for (const name of names) {
    if (name.startsWith(PATCH_INDEX_PREFIX)) await forceRemove(join(real, name));
  }
  await rm(join(real, BASE_INDEX_NAME), { force: true });
  await rm(join(real, OVERLAY_MARKER_NAME), { force: true });
  await rm(join(real, KEPT_MARKER_NAME), { force: true });
}
