import { isUtf8 } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { copyFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { AasError, sha256Hex } from '../kernel/index.js';
import { createBinaryOverrideGitDir } from './binary-override-git-dir.js';
import { countPatchLines } from './count-patch-lines.js';
import { forceRemove } from './force-remove.js';
import type { GitEnvOptions } from './git-env.js';
import { type DiffRecord, parseDiffRecords } from './parse-diff-records.js';
import { readBlobs } from './read-blobs.js';
import { runGit, splitNul } from './run-git.js';
import type { DroppedPath, PatchFile, PatchResult, RuntimeRule, Workspace } from './types.js';
import { baseIndexPath, PATCH_INDEX_PREFIX } from './workspace-layout.js';

export interface ComputePatchOptions {
  /** Says whether a changed path is a runtime artifact (and by which rule); such paths never promote. */
  readonly runtimeRule: RuntimeRule;
  /** Stop with GATE_FAILED once the patch text grows past this many bytes (default 64 MiB). */
  readonly maxPatchBytes?: number;
}

const DEFAULT_MAX_PATCH_BYTES = 64 * 1024 * 1024;
const SLASH = 0x2f;

/** Applied to a change that would otherwise smuggle a nested repository into the patch. */
export const EMBEDDED_REPO_RULE = { layer: 'workspaces', rule: 'embedded git repository (a directory with its own .git)' };
/** Applied to a change git had to drop because it conflicts (file vs directory) with a dropped path. */
export const CONFLICT_RULE = { layer: 'workspaces', rule: 'file/directory conflict with a dropped runtime path' };

/**
 * Computes the patch from the workspace's files; nothing the agent says about its changes is
 * used. A fresh index starts as the base tree (a copy of the checkout's index, whose stat data
 * lets git skip files that provably did not change: a file rewritten in place gets a new
 * ctime, which no unprivileged process can set back). `git add -A` then records the workspace,
 * honouring `.gitignore` (ignored untracked files are reported, never patched). Runtime
 * artifacts are put back to their base state in that index, and the final patch is
 * `git diff --cached --binary --full-index -M` against the base: real git format, with
 * renames, modes, symlinks and exact binary payloads, and the list of files comes from the
 * very same index.
 */
export async function computePatch(ws: Workspace, options: ComputePatchOptions): Promise<PatchResult> {
  const indexFile = join(ws.attemptDir, `${PATCH_INDEX_PREFIX}${randomBytes(8).toString('hex')}.index`);
  const env: GitEnvOptions = { searchPath: ws.searchPath, gitDir: ws.gitDir, workTree: ws.dir, indexFile };
  const git = (args: readonly string[], input?: Buffer, extra?: Partial<GitEnvOptions>) =>
    runGit({ args, cwd: ws.dir, env: { ...env, ...extra }, ...(input === undefined ? {} : { input }) });
  const cleanup: string[] = [indexFile];
  try {
    await seedIndex(ws, indexFile, git);

    // A directory with its own `.git` is reported by ls-files as `dir/`; `git add` would record
    // it as a submodule (or fail outright when it has no commit), so it is excluded up front.
    const untracked = splitNul((await git(['ls-files', '-z', '--others', '--exclude-standard'])).stdout);
    const embedded = untracked.filter((path) => path[path.length - 1] === SLASH).map((path) => path.subarray(0, -1));
    if (embedded.length === 0) {
      await git(['add', '-A']);
    } else {
      const specs = [Buffer.from('.'), ...embedded.map((path) => Buffer.concat([Buffer.from(':(exclude,literal)'), path]))];
      await git(['add', '-A', '--pathspec-from-file=-', '--pathspec-file-nul'], nulJoin(specs));
    }

    const ignoredOutput = await git(['ls-files', '-z', '--others', '--ignored', '--exclude-standard', '--directory']);
    const ignoredUntracked = splitNul(ignoredOutput.stdout).map((path) => path.toString('utf8'));

    const changed = parseNameStatus((await git(['diff', '--cached', '--name-status', '-z', '--no-renames', ws.baseCommit])).stdout);
    const runtimeDropped: DroppedPath[] = [];
    const restore: Buffer[] = [];
    for (const raw of changed) {
      const path = raw.toString('utf8');
      const rule = options.runtimeRule(path);
      if (rule === null) continue;
      runtimeDropped.push({ path, layer: rule.layer, rule: rule.rule });
      restore.push(raw);
    }
    for (const raw of embedded) {
      const path = raw.toString('utf8');
      runtimeDropped.push({ path, ...(options.runtimeRule(path) ?? EMBEDDED_REPO_RULE) });
    }
    if (restore.length > 0) {
      // Added paths leave the index, modified and deleted ones get their base entry back.
      await git(['reset', '-q', '--no-refresh', ws.baseCommit, '--pathspec-from-file=-', '--pathspec-file-nul'], nulJoin(restore), {
        literalPathspecs: true,
      });
    }

    let diffEnv = env;
    let quotePath = false;
    let records = await describeChanges(ws, diffEnv);
    let text = await renderPatch(ws, diffEnv, quotePath, options.maxPatchBytes ?? DEFAULT_MAX_PATCH_BYTES, records);
    if (text === null) {
      // Non-UTF-8 bytes: quote paths, and carry text files that are not UTF-8 as binary.
      quotePath = true;
      const overrideDir = await createBinaryOverrideGitDir(ws.attemptDir, ws.gitDir, await nonUtf8Paths(ws, env, records));
      cleanup.push(overrideDir);
      diffEnv = { ...env, gitDir: overrideDir };
      records = await describeChanges(ws, diffEnv);
      text = await renderPatch(ws, diffEnv, quotePath, options.maxPatchBytes ?? DEFAULT_MAX_PATCH_BYTES, records);
      if (text === null) throw new AasError('INTERNAL', 'the patch is still not valid UTF-8 after carrying non-UTF-8 files as binary');
    }

    const files = await toPatchFiles(ws, diffEnv, records);
    reportVanished(changed, restore, records, runtimeDropped);
    const insertions = files.reduce((sum, file) => sum + file.insertions, 0);
    const deletions = files.reduce((sum, file) => sum + file.deletions, 0);
    return {
      text,
      sha256: sha256Hex(text),
      files,
      runtimeDropped: runtimeDropped.sort((a, b) => compareStrings(a.path, b.path)),
      ignoredUntracked,
      stats: { filesChanged: files.length, insertions, deletions, patchLines: countPatchLines(text) },
    };
  } finally {
    for (const path of cleanup) await forceRemove(path);
  }
}

async function seedIndex(
  ws: Workspace,
  indexFile: string,
  git: (args: readonly string[]) => Promise<unknown>,
): Promise<void> {
  try {
    await copyFile(baseIndexPath(ws.attemptDir), indexFile);
  } catch {
    // No checkout index (removed by hand?): an index without stat data is slower, not wrong.
    await rm(indexFile, { force: true });
    await git(['read-tree', ws.baseCommit]);
  }
}

async function describeChanges(ws: Workspace, env: GitEnvOptions): Promise<DiffRecord[]> {
  const result = await runGit({
    args: ['diff', '--cached', '--raw', '--numstat', '-z', '-M', '--no-abbrev', '--no-ext-diff', '--no-textconv', ws.baseCommit],
    cwd: ws.dir,
    env,
  });
  return parseDiffRecords(result.stdout);
}

/** The patch text, or null when its bytes are not valid UTF-8 (the caller falls back). */
async function renderPatch(
  ws: Workspace,
  env: GitEnvOptions,
  quotePath: boolean,
  maxPatchBytes: number,
  records: readonly DiffRecord[],
): Promise<string | null> {
  const result = await runGit({
    args: [
      '-c',
      `core.quotePath=${quotePath}`,
      'diff',
      '--cached',
      '--binary',
      '--full-index',
      '-M',
      '--no-color',
      '--no-ext-diff',
      '--no-textconv',
      '--src-prefix=a/',
      '--dst-prefix=b/',
      ws.baseCommit,
    ],
    cwd: ws.dir,
    env,
    maxStdoutBytes: maxPatchBytes,
  });
  if (result.stdoutOverflow) {
    const insertions = records.reduce((sum, record) => sum + record.insertions, 0);
    const deletions = records.reduce((sum, record) => sum + record.deletions, 0);
    throw new AasError('GATE_FAILED', `the patch exceeds ${maxPatchBytes} bytes (${records.length} files changed)`, {
      hint: 'the agent changed far more than a reviewable patch; narrow the task or raise maxPatchBytes',
      maxPatchBytes,
      filesChanged: records.length,
      insertions,
      deletions,
    });
  }
  return isUtf8(result.stdout) ? result.stdout.toString('utf8') : null;
}

/** Text (non-binary) files whose old or new content is not valid UTF-8. */
async function nonUtf8Paths(ws: Workspace, env: GitEnvOptions, records: readonly DiffRecord[]): Promise<Buffer[]> {
  const text = records.filter((record) => !record.binary);
  const objects = text.flatMap((record) => [record.oldObject, record.newObject].filter((o): o is string => o !== undefined));
  const blobs = await readBlobs(env, ws.dir, objects);
  const paths: Buffer[] = [];
  for (const record of text) {
    const sides = [record.oldObject, record.newObject].filter((o): o is string => o !== undefined);
    if (sides.some((object) => !isUtf8(blobs.get(object) ?? Buffer.alloc(0)))) {
      paths.push(record.path);
      if (record.oldPath !== undefined) paths.push(record.oldPath);
    }
  }
  return paths;
}

async function toPatchFiles(ws: Workspace, env: GitEnvOptions, records: readonly DiffRecord[]): Promise<PatchFile[]> {
  const linkObjects = records.flatMap((record) => (record.newMode === '120000' && record.newObject !== undefined ? [record.newObject] : []));
  const links = await readBlobs(env, ws.dir, linkObjects);
  return records.map((record) => {
    const target = record.newMode === '120000' && record.newObject !== undefined ? links.get(record.newObject) : undefined;
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

/**
 * Restoring a dropped path can take others with it (a pathspec `a` also covers `a/b`, and a
 * file `a` cannot coexist with a directory `a/`). Every changed path that is neither in the
 * final patch nor already reported is reported here, so nothing disappears silently.
 */
function reportVanished(
  changed: readonly Buffer[],
  restored: readonly Buffer[],
  records: readonly DiffRecord[],
  dropped: DroppedPath[],
): void {
  const kept = new Set<string>();
  for (const record of records) {
    kept.add(record.path.toString('latin1'));
    if (record.oldPath !== undefined) kept.add(record.oldPath.toString('latin1'));
  }
  const restoredKeys = new Set(restored.map((raw) => raw.toString('latin1')));
  for (const raw of changed) {
    const key = raw.toString('latin1');
    if (!kept.has(key) && !restoredKeys.has(key)) dropped.push({ path: raw.toString('utf8'), ...CONFLICT_RULE });
  }
}

/** `--name-status -z --no-renames`: `STATUS NUL path NUL` pairs; only the paths matter here. */
function parseNameStatus(output: Buffer): Buffer[] {
  const fields = splitNul(output);
  const paths: Buffer[] = [];
  for (let at = 1; at < fields.length; at += 2) {
    const path = fields[at];
    if (path !== undefined) paths.push(path);
  }
  return paths;
}

function nulJoin(parts: readonly Buffer[]): Buffer {
  return Buffer.concat(parts.flatMap((part) => [part, Buffer.from([0])]));
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
