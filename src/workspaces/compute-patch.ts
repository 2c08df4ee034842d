import { randomBytes } from 'node:crypto';
import { copyFile, lstat, readFile, realpath, rm, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { AasError, sha256Hex } from '../kernel/index.js';
import { countPatchLines } from './count-patch-lines.js';
import { dropRuntimePaths, reportVanished } from './drop-runtime-paths.js';
import { forceRemove } from './force-remove.js';
import type { GitEnvOptions } from './git-env.js';
import { readMountTable } from './mount-table.js';
import { type ChangedRoot, EVERYTHING, overlayChangedRoots } from './overlay-changes.js';
import type { DiffRecord } from './parse-diff-records.js';
import { readBlobs } from './read-blobs.js';
import { removeSpecialFiles } from './remove-special-files.js';
import { diffStaged, renderPatch } from './render-patch.js';
import { runGit, splitNul } from './run-git.js';
import { settleBoth } from './settle-both.js';
import {
  mayHoldUntracked,
  pathspecArguments,
  type StagedWorkspace,
  stageWorkspace,
} from './stage-workspace.js';
import type { PatchFile, PatchResult, RuntimeRule, Workspace } from './types.js';
import {
  baseIndexPath,
  OVERLAY_MARKER_NAME,
  PATCH_INDEX_PREFIX,
  UPPER_DIR_NAME,
  WORKSPACE_DIR_NAME,
} from './workspace-layout.js';

export interface ComputePatchOptions {
  /** Says whether a changed path is a runtime artifact (and by which rule); such paths never promote. */
  readonly runtimeRule: RuntimeRule;
  /** Stop with GATE_FAILED once the patch text grows past this many bytes (default 64 MiB). */
  readonly maxPatchBytes?: number;
}

const DEFAULT_MAX_PATCH_BYTES = 64 * 1024 * 1024;
const SYMLINK_MODE = '120000';

/**
 * Computes the patch from the workspace's files; nothing the agent says about its changes is
 * used. A fresh index starts as the base tree: a copy of the checkout's index, whose stat data
 * lets git skip files that provably did not change (see seedIndex for why that is sound).
 * `git add -A` records the workspace, honouring
 * `.gitignore` (ignored untracked files are reported, never patched). Runtime artifacts are
 * put back to their base state in that index, and the patch is
 * `git diff --cached --binary --full-index -M` against the base: real git format, with
 * renames, modes, symlinks and exact binary payloads. The file list comes from that very index.
 *
 * Git starts, ~3.5 ms each on the reference VM, are most of this step's cost on a small
 * repository: 4 without runtime artifacts (`ls-files`, `add -A`, then the ignored listing and
 * one diff that lists and renders side by side), where it took 6 in sequence. With runtime artifacts it is a `reset` and
 * a second diff more; the first diff then also rendered the artifacts for nothing, a cost
 * bounded by what `add -A` already spent hashing them.
 *
 * An overlay workspace runs the same commands on fewer paths: the index is seeded from the
 * cached checkout's, and staging and the untracked listings are limited to the subtrees the
 * upper layer holds (overlayChangedRoots), so git's work follows the size of the change, not
 * of the repository. The listing, rendering and dropping steps are shared, so both strategies
 * give byte-identical results for the same workspace contents. A one-line change took 16 ms
 * at 1,000 files and 103 ms at 100,000 (worktree: 42 and 541 ms); what still grows is git
 * reading the index in each process (8.8 MB at 100,000 entries, ~13 ms) and `add` writing it
 * back (~45 ms), per GIT_TRACE2_PERF.
 */
export async function computePatch(
  ws: Workspace,
  options: ComputePatchOptions,
): Promise<PatchResult> {
  const indexFile = join(
    ws.attemptDir,
    `${PATCH_INDEX_PREFIX}${randomBytes(8).toString('hex')}.index`,
  );
  const scratch: string[] = [indexFile];
  const env: GitEnvOptions = {
    searchPath: ws.searchPath,
    gitDir: ws.gitDir,
    workTree: ws.dir,
    indexFile,
  };
  try {
    const special = await removeSpecialFiles(ws);
    let roots: readonly ChangedRoot[] | undefined;
    if (ws.strategy === 'overlay') {
      const overlay = await assertOverlayWorkspace(ws);
      await copyFile(overlay.index, indexFile);
      const changed = await overlayChangedRoots(overlay);
      roots = changed === EVERYTHING ? undefined : changed;
    } else {
      await assertRealWorkspace(ws);
      await seedIndex(ws, env, indexFile);
    }
    const scope = roots === undefined ? undefined : { roots };
    const untouched = scope !== undefined && scope.roots.length === 0;
    const staged: StagedWorkspace = untouched
      ? { embeddedRepos: [], refused: [] }
      : await stageWorkspace(env, ws.dir, scope);
    const maxPatchBytes = options.maxPatchBytes ?? DEFAULT_MAX_PATCH_BYTES;
    // Side by side, as both only read the staged index. The ignored listing must see it as
    // `add -A` left it: a directory whose tracked files were all deleted counts as untracked
    // (listed as `dir/`) only once the deletions are staged. One diff lists and renders; it is
    // redone only when runtime artifacts were put back.
    const [ignoredUntracked, listed] = await settleBoth(
      untouched || (scope !== undefined && !mayHoldUntracked(scope))
        ? Promise.resolve([])
        : listIgnoredUntracked(
            env,
            ws.dir,
            scope === undefined ? [] : pathspecArguments(scope.roots.map((root) => root.path)),
          ),
      diffStaged(ws, env, maxPatchBytes),
    );
    const drop = await dropRuntimePaths(
      env,
      ws.dir,
      ws.baseCommit,
      staged,
      listed.records,
      options.runtimeRule,
    );
    const diff = drop.restored.length === 0 ? listed : await diffStaged(ws, env, maxPatchBytes);
    const rendered = await renderPatch(ws, env, diff, maxPatchBytes, scratch);
    const files = await toPatchFiles(rendered.env, ws.dir, rendered.records);
    return {
      text: rendered.text,
      sha256: sha256Hex(rendered.text),
      files,
      runtimeDropped: [...special, ...reportVanished(drop, rendered.records)],
      ignoredUntracked,
      stats: {
        filesChanged: files.length,
        insertions: files.reduce((sum, file) => sum + file.insertions, 0),
        deletions: files.reduce((sum, file) => sum + file.deletions, 0),
        patchLines: countPatchLines(rendered.text),
      },
    };
  } finally {
    for (const path of scratch) await forceRemove(path);
  }
}

/**
 * Without a sandbox an agent could replace its workspace by a symlink (to `/`, say); git would
 * follow it as the work tree and the patch would sweep up host files. Refuse anything but the
 * real directory createWorkspace made.
 */
async function assertRealWorkspace(ws: Workspace): Promise<void> {
  const expected = join(await realpath(ws.attemptDir), WORKSPACE_DIR_NAME);
  const info = await lstat(ws.dir).catch(() => null);
  if (info === null || !info.isDirectory() || (await realpath(ws.dir)) !== expected) {
    throw new AasError(
      'INTERNAL',
      `workspace ${ws.dir} is missing or no longer a plain directory`,
      {
        hint: 'something replaced the workspace directory itself; its contents cannot be trusted as a patch',
      },
    );
  }
}

interface OverlayWorkspace {
  readonly lower: string;
  readonly upper: string;
  readonly merged: string;
  /** The cached checkout's index: exactly the base tree, no stat data. */
  readonly index: string;
}

/**
 * The overlay counterpart of assertRealWorkspace: the workspace must still be the overlay
 * createWorkspace mounted, on the cached checkout its marker names and with this attempt's
 * upper layer, as the kernel's mount table says. Anything else (unmounted, or something else
 * mounted there) would make the upper layer say nothing about what the agent left.
 */
async function assertOverlayWorkspace(ws: Workspace): Promise<OverlayWorkspace> {
  const attemptDir = await realpath(ws.attemptDir);
  const merged = join(attemptDir, WORKSPACE_DIR_NAME);
  const upper = join(attemptDir, UPPER_DIR_NAME);
  const marker = await readFile(join(attemptDir, OVERLAY_MARKER_NAME), 'utf8').catch(() => '');
  const cached = marker.split('\n', 1)[0] ?? '';
  const lower = join(cached, 'tree');
  const mount = (await readMountTable()).findLast((entry) => entry.mountPoint === merged);
  const intact =
    cached !== '' &&
    mount?.fsType === 'overlay' &&
    mount.superOptions.get('lowerdir') === lower &&
    mount.superOptions.get('upperdir') === upper &&
    (await realpath(ws.dir).catch(() => null)) === merged;
  if (!intact) {
    throw new AasError('INTERNAL', `overlay workspace ${ws.dir} is not mounted as it was created`, {
      hint: 'the workspace was unmounted or replaced; what the agent left cannot be read from it',
    });
  }
  return { lower, upper, merged, index: join(cached, 'index') };
}

/**
 * The patch index starts as a copy of the checkout index, mtime included. git compares stat
 * data in whole seconds (no USE_NSEC in common builds), so a same-size write in the second of
 * the checkout leaves mtime, ctime and size equal to the entry; git's racy-entry rule (an entry
 * whose mtime is not older than the index file's is compared by content) is what catches it,
 * and that rule needs the index file to carry the checkout's time, not the copy's. Any later
 * write moves ctime, which an unprivileged process cannot set back.
 */
async function seedIndex(ws: Workspace, env: GitEnvOptions, indexFile: string): Promise<void> {
  const baseIndex = baseIndexPath(ws.attemptDir);
  try {
    const checkedOut = await stat(baseIndex);
    await copyFile(baseIndex, indexFile);
    // Date precision truncates toward the past, which only makes more entries racy (safe).
    await utimes(indexFile, checkedOut.atime, checkedOut.mtime);
  } catch {
    // No checkout index (removed by hand?): an index without stat data is slower, not wrong.
    await rm(indexFile, { force: true });
    await runGit({ args: ['read-tree', ws.baseCommit], cwd: ws.dir, env });
  }
}

/** Untracked files the workspace ignores; a wholly ignored directory is one `dir/` entry. */
async function listIgnoredUntracked(
  env: GitEnvOptions,
  cwd: string,
  pathspecs: readonly string[],
): Promise<string[]> {
  const result = await runGit({
    args: [
      'ls-files',
      '-z',
      '--others',
      '--ignored',
      '--exclude-standard',
      '--directory',
      ...pathspecs,
    ],
    cwd,
    env,
  });
  return splitNul(result.stdout).map((path) => path.toString('utf8'));
}

async function toPatchFiles(
  env: GitEnvOptions,
  cwd: string,
  records: readonly DiffRecord[],
): Promise<PatchFile[]> {
  const linkObject = (record: DiffRecord) =>
    record.newMode === SYMLINK_MODE ? record.newObject : undefined;
  const links = await readBlobs(
    env,
    cwd,
    records.flatMap((record) => linkObject(record) ?? []),
  );
  return records.map((record) => {
    const object = linkObject(record);
    const target = object === undefined ? undefined : links.get(object);
    return {
      path: record.path.toString('utf8'),
      ...(record.oldPath === undefined ? {} : { oldPath: record.oldPath.toString('utf8') }),
      status: record.status,
      ...(record.oldMode === undefined ? {} : { oldMode: record.oldMode }),
      ...(record.newMode === undefined ? {} : { newMode: record.newMode }),
      binary: record.binary,
      ...(target === undefined ? {} : { symlinkTarget: target.toString('utf8') }),
      insertions: record.insertions,
      deletions: record.deletions,
    };
  });
}
