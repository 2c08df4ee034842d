import { lstat, readdir, realpath, writeFile } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { isValidId, normaliseError } from '../kernel/index.js';
import { mountsAtOrUnder, readMountTable } from './mount-table.js';
import { removeWorkspaceIn } from './remove-workspace.js';
import { unmountAllUnder } from './run-mount.js';
import { BASE_INDEX_NAME, KEPT_MARKER_NAME, OVERLAY_MARKER_NAME } from './workspace-layout.js';

export interface CollectOrphanWorkspacesOptions {
  /** The directory holding one `<runId>/` directory per run. */
  readonly runsDir: string;
  /** Whether a run may still use its workspaces; an error counts as live (never delete on doubt). */
  readonly isRunLive: (runId: string) => Promise<boolean>;
  /** Also remove workspaces kept on request (see markWorkspaceKept); default false. */
  readonly includeKept?: boolean;
}

export interface OrphanCollection {
  /** Attempt directories whose workspace was removed. */
  readonly removed: readonly string[];
  /** Attempt directories left alone because their run is live. */
  readonly kept: readonly string[];
  /** Mount points of runs that are not live, unmounted before anything was removed (absent: none). */
  readonly unmounted?: readonly string[];
  /** Runs whose mounts could not be unmounted, so nothing of theirs was removed (absent: none). */
  readonly failed?: readonly { readonly runDir: string; readonly message: string }[];
}

/**
 * Removes the workspaces that a crash left behind: under `<runsDir>/<runId>/<attempt>/`, the
 * workspace and indexes of every attempt directory (recognised by its `base.index`, or by the
 * `overlay.lower` marker of an overlay workspace) whose run is not live. Only directories
 * named like a run id are considered, and every level is checked with lstat, so a symlink
 * planted in the runs directory can never lead the collector outside it. Logs, artifacts and
 * the run's private git dir stay.
 *
 * A crash leaves overlay workspaces mounted. Every mount below a run that is not live is
 * unmounted (found in /proc/self/mountinfo, which also lists mounts without a marker) before
 * anything at all is removed, and a run whose mounts will not go is left whole: deleting
 * through a mount is never the fallback.
 */
export async function collectOrphanWorkspaces(
  options: CollectOrphanWorkspacesOptions,
): Promise<OrphanCollection> {
  const removed: string[] = [];
  const kept: string[] = [];
  const unmounted: string[] = [];
  const failed: { runDir: string; message: string }[] = [];
  let runsDir: string;
  try {
    runsDir = await realpath(options.runsDir);
  } catch {
    return { removed, kept };
  }
  const mounted = mountsAtOrUnder(await readMountTable(), runsDir).filter(
    (entry) => entry.mountPoint !== runsDir,
  );
  const runsWithMounts = new Set(
    mounted.map((entry) => entry.mountPoint.slice(runsDir.length + 1).split(sep)[0] ?? ''),
  );

  const stale: { runDir: string; attempts: string[] }[] = [];
  for (const runId of (await readdir(runsDir)).sort()) {
    if (!isValidId(runId, 'run')) continue;
    const runDir = join(runsDir, runId);
    if (!(await isRealDirectory(runDir))) continue;
    const attempts = await attemptDirsWithWorkspaces(runDir);
    if (attempts.length === 0 && !runsWithMounts.has(runId)) continue;
    let live: boolean;
    try {
      live = await options.isRunLive(runId);
    } catch {
      live = true;
    }
    const keptOnRequest =
      options.includeKept !== true && (await anyKept(attempts.length > 0 ? attempts : []));
    if (live || keptOnRequest) kept.push(...attempts);
    else stale.push({ runDir, attempts });
  }

  const unmountable = new Set<string>();
  for (const { runDir } of stale) {
    const before = mountsAtOrUnder(await readMountTable(), runDir).map((m) => m.mountPoint);
    try {
      await unmountAllUnder(runDir, { keepSelf: true });
      unmounted.push(...before);
    } catch (thrown) {
      unmountable.add(runDir);
      failed.push({ runDir, message: normaliseError(thrown).message });
    }
  }
  for (const { runDir, attempts } of stale) {
    if (unmountable.has(runDir)) continue;
    for (const attemptDir of attempts) {
      await removeWorkspaceIn(attemptDir);
      removed.push(attemptDir);
    }
  }
  return {
    removed,
    kept,
    ...(unmounted.length === 0 ? {} : { unmounted }),
    ...(failed.length === 0 ? {} : { failed }),
  };
}

async function attemptDirsWithWorkspaces(runDir: string): Promise<string[]> {
  const found: string[] = [];
  for (const name of (await readdir(runDir)).sort()) {
    const attemptDir = join(runDir, name);
    if (!(await isRealDirectory(attemptDir))) continue;
    if (
      (await isRealFile(join(attemptDir, BASE_INDEX_NAME))) ||
      (await isRealFile(join(attemptDir, OVERLAY_MARKER_NAME)))
    )
      found.push(attemptDir);
  }
  return found;
}

async function anyKept(attemptDirs: readonly string[]): Promise<boolean> {
  for (const attemptDir of attemptDirs) {
    if (await isRealFile(join(attemptDir, KEPT_MARKER_NAME))) return true;
  }
  return false;
}

/** Marks a workspace as kept on request, so crash recovery leaves it for `aas gc --kept`. */
export async function markWorkspaceKept(attemptDir: string): Promise<void> {
  await writeFile(join(attemptDir, KEPT_MARKER_NAME), '', { flag: 'w' });
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
