import { randomBytes } from 'node:crypto';
import { copyFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256Hex } from '../kernel/index.js';
import { countPatchLines } from './count-patch-lines.js';
import { dropRuntimePaths, reportVanished } from './drop-runtime-paths.js';
import { forceRemove } from './force-remove.js';
import type { GitEnvOptions } from './git-env.js';
import type { DiffRecord } from './parse-diff-records.js';
import { readBlobs } from './read-blobs.js';
import { renderPatch } from './render-patch.js';
import { runGit, splitNul } from './run-git.js';
import { stageWorkspace } from './stage-workspace.js';
import type { PatchFile, PatchResult, RuntimeRule, Workspace } from './types.js';
import { baseIndexPath, PATCH_INDEX_PREFIX } from './workspace-layout.js';

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
 * lets git skip files that provably did not change (rewriting a file gives it a new ctime,
 * which no unprivileged process can set back; same-second writes fall under git's racy-entry
 * check and are compared by content). `git add -A` records the workspace, honouring
 * `.gitignore` (ignored untracked files are reported, never patched). Runtime artifacts are
 * put back to their base state in that index, and the patch is
 * `git diff --cached --binary --full-index -M` against the base: real git format, with
 * renames, modes, symlinks and exact binary payloads. The file list comes from that very index.
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
    await seedIndex(ws, env, indexFile);
    const staged = await stageWorkspace(env, ws.dir);
    const ignoredUntracked = await listIgnoredUntracked(env, ws.dir);
    const drop = await dropRuntimePaths(env, ws.dir, ws.baseCommit, staged, options.runtimeRule);
    const rendered = await renderPatch(
      ws,
      env,
      options.maxPatchBytes ?? DEFAULT_MAX_PATCH_BYTES,
      scratch,
    );
    const files = await toPatchFiles(rendered.env, ws.dir, rendered.records);
    return {
      text: rendered.text,
      sha256: sha256Hex(rendered.text),
      files,
      runtimeDropped: reportVanished(drop, rendered.records),
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

async function seedIndex(ws: Workspace, env: GitEnvOptions, indexFile: string): Promise<void> {
  try {
    await copyFile(baseIndexPath(ws.attemptDir), indexFile);
  } catch {
    // No checkout index (removed by hand?): an index without stat data is slower, not wrong.
    await rm(indexFile, { force: true });
    await runGit({ args: ['read-tree', ws.baseCommit], cwd: ws.dir, env });
  }
}

/** Untracked files the workspace ignores; a wholly ignored directory is one `dir/` entry. */
async function listIgnoredUntracked(env: GitEnvOptions, cwd: string): Promise<string[]> {
  const result = await runGit({
    args: ['ls-files', '-z', '--others', '--ignored', '--exclude-standard', '--directory'],
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
