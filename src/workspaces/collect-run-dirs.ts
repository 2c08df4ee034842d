import { randomBytes } from 'node:crypto';
import { lstat, readdir, realpath, rename, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { isValidId, normaliseError } from '../kernel/index.js';
import { forceRemove } from './force-remove.js';
import { unmountAllUnder } from './run-mount.js';

/**
 * Where a remote worker keeps what its runs wrote: `<runsDir>/<runId>/` (the private git dir,
 * attempt directories with their logs and workspaces, summary.json) and
 * `<artifactsDir>/<runId>/` (the patch it computed).
 */
export interface RunDirRoots {
  readonly runsDir: string;
  readonly artifactsDir: string;
}

export interface RunDirCollection {
  /** Runs whose directories were deleted. */
  readonly removed: readonly string[];
  /** Runs left alone: held now, or left less than the age limit ago. */
  readonly kept: readonly string[];
  /** Runs (or interrupted removals) whose mounts would not go: left whole for a later pass. */
  readonly failed: readonly { readonly name: string; readonly message: string }[];
}

const EVICT_PREFIX = '.evict-';
/** Patches of workers from before per-run artifact directories: `<sha256>.patch` (and its temp). */
const FLAT_PATCH = /^[0-9a-f]{64}\.patch(?:\.[0-9a-f]+\.tmp)?$/;

/**
 * Deletes the directories of `runId` under both roots. Each is renamed away first, so a claim of
 * the same run starting meanwhile makes fresh directories instead of writing into ones being
 * deleted; mounts below it (a workspace left mounted) are unmounted before anything is deleted,
 * and when they will not go the renamed copy is left for collectRunDirs: deleting through a
 * mount is never the fallback. False when something was left.
 */
export async function removeRunDirs(
  roots: RunDirRoots,
  runId: string,
  isHeld: (runId: string) => boolean = () => false,
): Promise<boolean> {
  if (!isValidId(runId, 'run')) return false;
  let whole = true;
  for (const root of [roots.runsDir, roots.artifactsDir]) {
    // Asked again before each directory: removing the one before awaited long enough for a
    // claim of the same run to start using them.
    if (isHeld(runId)) return false;
    const realRoot = await realpath(root).catch(() => null);
    if (realRoot === null) continue;
    const dir = join(realRoot, runId);
    if (!(await isRealDirectory(dir))) continue;
    const evicted = join(realRoot, `${EVICT_PREFIX}${runId}-${randomBytes(6).toString('hex')}`);
    try {
      await rename(dir, evicted);
    } catch {
      whole = false;
      continue;
    }
    if ((await removeEvicted(evicted)) !== null) whole = false;
  }
  return whole;
}

/**
 * Stamps the run's directories as left now (an execution that ended without its result being
 * accepted): collectRunDirs counts their age from this moment, not from when the run started.
 */
export async function markRunDirsLeft(
  roots: RunDirRoots,
  runId: string,
  atMs: number,
): Promise<void> {
  if (!isValidId(runId, 'run')) return;
  const at = new Date(atMs);
  for (const root of [roots.runsDir, roots.artifactsDir]) {
    // A symlink named like the run is never followed: its time is not this run's to set.
    if (await isRealDirectory(join(root, runId))) {
      await utimes(join(root, runId), at, at).catch(() => undefined);
    }
  }
}

/**
 * Deletes the directories of runs this worker does not hold and that were last written
 * `olderThanMs` ago or more (their age: the newest mtime of the run's two directories and of
 * what the host writes below them, the attempt directories and their logs, so a run a killed
 * worker was still writing a minute before is not taken for one left days ago), the
 * remains of interrupted removals, and patches an earlier version kept flat under
 * `artifactsDir`. `isHeld` is asked right before each removal, so a run claimed while the pass
 * runs is never touched. Only names that are run ids are considered, every level is checked
 * with lstat (a symlink never leads outside the roots), and anything else is left alone.
 */
export async function collectRunDirs(
  roots: RunDirRoots,
  options: {
    readonly isHeld: (runId: string) => boolean;
    readonly olderThanMs: number;
    readonly nowMs: number;
  },
): Promise<RunDirCollection> {
  const removed: string[] = [];
  const kept: string[] = [];
  const failed: { name: string; message: string }[] = [];
  const runIds = new Set<string>();
  for (const root of [roots.runsDir, roots.artifactsDir]) {
    const realRoot = await realpath(root).catch(() => null);
    if (realRoot === null) continue;
    // A root that went or cannot be read leaves the other one to be swept.
    for (const name of (await readdir(realRoot).catch(() => [] as string[])).sort()) {
      const path = join(realRoot, name);
      const info = await lstat(path).catch(() => null);
      if (info === null) continue;
      if (name.startsWith(EVICT_PREFIX) && info.isDirectory()) {
        // A removal interrupted after its rename, or one whose mounts would not go then.
        const trouble = await removeEvicted(path);
        if (trouble !== null) failed.push({ name, message: trouble });
      } else if (info.isDirectory() && isValidId(name, 'run')) {
        runIds.add(name);
      } else if (
        root === roots.artifactsDir &&
        info.isFile() &&
        FLAT_PATCH.test(name) &&
        options.nowMs - info.mtimeMs >= options.olderThanMs
      ) {
        await forceRemove(path);
      }
    }
  }
  for (const runId of [...runIds].sort()) {
    // Aged right before it would go: a claim of the run that started and ended while the pass
    // went through the runs before it left it stamped just now.
    if (options.isHeld(runId)) {
      kept.push(runId);
      continue;
    }
    const writtenMs = Math.min(options.nowMs, await lastWrittenMs(roots, runId));
    if (options.isHeld(runId) || options.nowMs - writtenMs < options.olderThanMs) {
      kept.push(runId);
      continue;
    }
    if (await removeRunDirs(roots, runId, options.isHeld)) removed.push(runId);
    else if (options.isHeld(runId)) kept.push(runId);
    else failed.push({ name: runId, message: 'not removed: a mount below it or a rename refused' });
  }
  return { removed, kept, failed };
}

/** The newest write of a run's two directories (newestHostWrite below its runs directory). */
async function lastWrittenMs(roots: RunDirRoots, runId: string): Promise<number> {
  let newestMs = 0;
  for (const root of [roots.runsDir, roots.artifactsDir]) {
    const path = join(root, runId);
    const info = await lstat(path).catch(() => null);
    if (info === null || !info.isDirectory()) continue;
    newestMs = Math.max(newestMs, info.mtimeMs);
    if (root === roots.runsDir) newestMs = Math.max(newestMs, await newestHostWrite(path));
  }
  return newestMs;
}

/** Unmounts what is below a renamed-away directory, then deletes it; the trouble, or null. */
async function removeEvicted(path: string): Promise<string | null> {
  try {
    await unmountAllUnder(path);
  } catch (thrown) {
    return normaliseError(thrown).message;
  }
  await forceRemove(path);
  return null;
}

/**
 * The newest mtime of what the host writes below a run's directory: its direct entries (the
 * attempt directories, summary.json) and the regular files directly in those (the logs). Not
 * the directories the sandbox writes into (an attempt's aep/ and workspace/), whose times the
 * agent sets at will. Through lstat only: a symlink counts as itself and is never followed.
 * The caller counts a time after now (a clock stepped back) as now: the logs are kept until
 * the clock has passed it by the age limit, rather than taken for old and deleted at once.
 */
async function newestHostWrite(runDir: string): Promise<number> {
  let newestMs = 0;
  for (const name of await readdir(runDir).catch(() => [] as string[])) {
    const path = join(runDir, name);
    const info = await lstat(path).catch(() => null);
    if (info === null) continue;
    newestMs = Math.max(newestMs, info.mtimeMs);
    if (!info.isDirectory()) continue;
    for (const inner of await readdir(path).catch(() => [] as string[])) {
      const file = await lstat(join(path, inner)).catch(() => null);
      if (file?.isFile()) newestMs = Math.max(newestMs, file.mtimeMs);
    }
  }
  return newestMs;
}

async function isRealDirectory(path: string): Promise<boolean> {
  try {
    return (await lstat(path)).isDirectory();
  } catch {
    return false;
  }
}
