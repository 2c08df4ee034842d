import { isUtf8 } from 'node:buffer';
import { AasError } from '../kernel/index.js';
import { createBinaryOverrideGitDir } from './binary-override-git-dir.js';
import type { GitEnvOptions } from './git-env.js';
import { type DiffRecord, parseDiffRecords, parseDiffWithPatch } from './parse-diff-records.js';
import { readBlobs } from './read-blobs.js';
import { runGit } from './run-git.js';
import type { Workspace } from './types.js';

export interface RenderedPatch {
  readonly text: string;
  /** The file list, from the same index and git dir as the text. */
  readonly records: readonly DiffRecord[];
  /** The environment both came from (the file list's symlink targets are read through it). */
  readonly env: GitEnvOptions;
}

/** The staged index against the base: the file list and, unless not rendered yet, the patch. */
export interface StagedDiff {
  readonly records: readonly DiffRecord[];
  /** The patch bytes; `'too-big'` past maxPatchBytes; `'not-rendered'` when only listed. */
  readonly patch: Buffer | 'too-big' | 'not-rendered';
}

/** Output allowed for the raw and numstat listing on top of maxPatchBytes (see diffStaged). */
const MIN_LISTING_ALLOWANCE = 1024 * 1024;

/** Options every diff of the staged index shares: no external diff or textconv program runs. */
const DIFF_OPTIONS = ['-M', '--no-ext-diff', '--no-textconv'] as const;

/** The patch text: real git format, full blob ids, exact binary payloads, fixed prefixes. */
const PATCH_ARGS = [
  '--cached',
  '--binary',
  '--full-index',
  ...DIFF_OPTIONS,
  '--no-color',
  '--src-prefix=a/',
  '--dst-prefix=b/',
] as const;

/** `-c core.quotePath=…`: false keeps unicode paths readable, true quotes non-UTF-8 names. */
function quotePathConfig(quotePath: boolean): string[] {
  return ['-c', `core.quotePath=${quotePath}`];
}

/**
 * Lists and renders the staged index against the base with ONE git process: `--raw --numstat`
 * and the `--binary --full-index` patch come out of the same `git diff -z` (the patch bytes are
 * identical to a listing-less run's, `-z` only changes the listing: checked on renames,
 * binaries, and quoted and non-UTF-8 names, and by the round-trip tests). It was a name-status
 * listing, a raw+numstat listing and a patch run, ~3.5 ms of start-up each, and rename
 * detection twice. The output is capped at maxPatchBytes plus the larger of maxPatchBytes and
 * 1 MiB for the listing; a diff past that is listed alone and left `'not-rendered'`, so
 * renderPatch renders it the former way, where the cap applies to the patch text only.
 */
export async function diffStaged(
  ws: Workspace,
  env: GitEnvOptions,
  maxPatchBytes: number,
): Promise<StagedDiff> {
  const result = await runGit({
    args: [
      ...quotePathConfig(false),
      'diff',
      ...PATCH_ARGS,
      '--raw',
      '--numstat',
      '-z',
      '--no-abbrev',
      ws.baseCommit,
    ],
    cwd: ws.dir,
    env,
    maxStdoutBytes: maxPatchBytes + Math.max(maxPatchBytes, MIN_LISTING_ALLOWANCE),
  });
  if (result.stdoutOverflow)
    return { records: await describeChanges(ws, env), patch: 'not-rendered' };
  const { records, patch } = parseDiffWithPatch(result.stdout);
  return { records, patch: patch.length > maxPatchBytes ? 'too-big' : patch };
}

/**
 * Turns a diff of the staged index into the patch text. The text must be exact and valid
 * UTF-8 (it is stored, hashed and shown as a string), so when git's output is not (a text
 * file in Latin-1, a file name that is not UTF-8), it is rendered again with quoted paths and
 * with those files carried as base85 binary patches, which are ASCII and byte-exact.
 * `scratch` receives any directory created for that, for the caller to remove.
 */
export async function renderPatch(
  ws: Workspace,
  env: GitEnvOptions,
  diff: StagedDiff,
  maxPatchBytes: number,
  scratch: string[],
): Promise<RenderedPatch> {
  const bytes = await patchBytes(ws, env, false, maxPatchBytes, diff);
  if (isUtf8(bytes)) return { text: bytes.toString('utf8'), records: diff.records, env };

  const overrideDir = await createBinaryOverrideGitDir(
    ws.attemptDir,
    ws.gitDir,
    await nonUtf8Paths(ws, env, diff.records),
  );
  scratch.push(overrideDir);
  const fallbackEnv = { ...env, gitDir: overrideDir };
  const fallbackRecords = await describeChanges(ws, fallbackEnv);
  const fallbackBytes = await patchBytes(ws, fallbackEnv, true, maxPatchBytes, {
    records: fallbackRecords,
    patch: 'not-rendered',
  });
  if (!isUtf8(fallbackBytes)) {
    throw new AasError(
      'INTERNAL',
      'the patch is still not valid UTF-8 after carrying non-UTF-8 files as binary',
    );
  }
  return { text: fallbackBytes.toString('utf8'), records: fallbackRecords, env: fallbackEnv };
}

async function describeChanges(ws: Workspace, env: GitEnvOptions): Promise<DiffRecord[]> {
  const result = await runGit({
    args: [
      'diff',
      '--cached',
      '--raw',
      '--numstat',
      '-z',
      '--no-abbrev',
      ...DIFF_OPTIONS,
      ws.baseCommit,
    ],
    cwd: ws.dir,
    env,
  });
  return parseDiffRecords(result.stdout);
}

/** The patch bytes of `diff`, rendered now if they were not; GATE_FAILED past maxPatchBytes. */
async function patchBytes(
  ws: Workspace,
  env: GitEnvOptions,
  quotePath: boolean,
  maxPatchBytes: number,
  diff: StagedDiff,
): Promise<Buffer> {
  let patch = diff.patch;
  if (patch === 'not-rendered') {
    const result = await runGit({
      args: [...quotePathConfig(quotePath), 'diff', ...PATCH_ARGS, ws.baseCommit],
      cwd: ws.dir,
      env,
      maxStdoutBytes: maxPatchBytes,
    });
    patch = result.stdoutOverflow ? 'too-big' : result.stdout;
  }
  if (patch === 'too-big') {
    const { records } = diff;
    throw new AasError(
      'GATE_FAILED',
      `the patch exceeds ${maxPatchBytes} bytes (${records.length} files changed)`,
      {
        hint: 'the agent changed far more than a reviewable patch; narrow the task or raise maxPatchBytes',
        maxPatchBytes,
        filesChanged: records.length,
        insertions: records.reduce((sum, record) => sum + record.insertions, 0),
        deletions: records.reduce((sum, record) => sum + record.deletions, 0),
      },
    );
  }
  return patch;
}

/** Text (non-binary) files whose old or new content is not valid UTF-8, with their old paths. */
async function nonUtf8Paths(
  ws: Workspace,
  env: GitEnvOptions,
  records: readonly DiffRecord[],
): Promise<Buffer[]> {
  const text = records.filter((record) => !record.binary);
  const sidesOf = (record: DiffRecord) =>
    [record.oldObject, record.newObject].filter((o): o is string => o !== undefined);
  const blobs = await readBlobs(env, ws.dir, text.flatMap(sidesOf));
  return text
    .filter((record) =>
      sidesOf(record).some((object) => !isUtf8(blobs.get(object) ?? Buffer.alloc(0))),
    )
    .flatMap((record) =>
      record.oldPath === undefined ? [record.path] : [record.path, record.oldPath],
    );
}
