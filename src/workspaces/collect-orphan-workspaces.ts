import { lstat, readdir, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { isValidId } from '../kernel/index.js';
import { removeWorkspaceIn } from './remove-workspace.js';
import { BASE_INDEX_NAME } from './workspace-layout.js';

export interface CollectOrphanWorkspacesOptions {
  /** The directory holding one `<runId>/` directory per run. */
  readonly runsDir: string;
  /** Whether a run may still use its workspaces; an error counts as live (never delete on doubt). */
  readonly isRunLive: (runId: string) => Promise<boolean>;
}

export interface OrphanCollection {
  /** Attempt directories whose workspace was removed. */
  readonly removed: readonly string[];
  /** Attempt directories left alone because their run is live. */
  readonly kept: readonly string[];
}

/**
 * Removes the workspaces that a crash left behind: under `<runsDir>/<runId>/<attempt>/`, the
 * `workspace/` directory and indexes of every attempt directory (recognised by its
 * `base.index`) whose run is not live. Only directories named like a run id are considered,
 * and every level is checked with lstat, so a symlink planted in the runs directory can never
 * lead the collector outside it. Logs, artifacts and the run's private git dir stay.
 */
export async function collectOrphanWorkspaces(
  options: CollectOrphanWorkspacesOptions,
): Promise<OrphanCollection> {
  const removed: string[] = [];
  const kept: string[] = [];
  let runsDir: string;
  try {
    runsDir = await realpath(options.runsDir);
  } catch {
    return { removed, kept };
  }
  for (const runId of (await readdir(runsDir)).sort()) {
    if (!isValidId(runId, 'run')) continue;
    const runDir = join(runsDir, runId);
    if (!(await isRealDirectory(runDir))) continue;
    const attempts = await attemptDirsWithWorkspaces(runDir);
    if (attempts.length === 0) continue;
    let live: boolean;
    try {
      live = await options.isRunLive(runId);
    } catch {
      live = true;
    }
    for (const attemptDir of attempts) {
      if (live) {
        kept.push(attemptDir);
      } else {
        await removeWorkspaceIn(attemptDir);
        removed.push(attemptDir);
      }
    }
  }
  return { removed, kept };
}

async function attemptDirsWithWorkspaces(runDir: string): Promise<string[]> {
  const found: string[] = [];
  for (const name of (await readdir(runDir)).sort()) {
    const attemptDir = join(runDir, name);
    if (!(await isRealDirectory(attemptDir))) continue;
    if (await isRealFile(join(attemptDir, BASE_INDEX_NAME))) found.push(attemptDir);
  }
  return found;
}

async function isRealDirectory(path: string): Promise<boolean> {
  try {
    return (await lstat(path)).isDirectory();
  } catch {
    return false;
  }
}

async function isRealFile(path: string): Promise<boolean> {
  try {
    return (await lstat(path)).isFile();
  } catch {
    return false;
  }
}
