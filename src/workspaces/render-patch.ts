import { isUtf8 } from 'node:buffer';
import { AasError } from '../kernel/index.js';
import { createBinaryOverrideGitDir } from './binary-override-git-dir.js';
import type { GitEnvOptions } from './git-env.js';
import { type DiffRecord, parseDiffRecords } from './parse-diff-records.js';
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

/**
 * Renders the staged index as a patch against the base. The text must be exact and valid
 * UTF-8 (it is stored, hashed and shown as a string), so when git's output is not (a text
 * file in Latin-1, a file name that is not UTF-8), it is rendered again with quoted paths and
 * with those files carried as base85 binary patches, which are ASCII and byte-exact.
 * `scratch` receives any directory created for that, for the caller to remove.
 */
export async function renderPatch(
  ws: Workspace,
  env: GitEnvOptions,
  maxPatchBytes: number,
  scratch: string[],
): Promise<RenderedPatch> {
  const records = await describeChanges(ws, env);
  const text = await diffText(ws, env, false, maxPatchBytes, records);
  if (text !== null) return { text, records, env };

  const overrideDir = await createBinaryOverrideGitDir(
    ws.attemptDir,
    ws.gitDir,
    await nonUtf8Paths(ws, env, records),
  );
  scratch.push(overrideDir);
  const fallbackEnv = { ...env, gitDir: overrideDir };
  const fallbackRecords = await describeChanges(ws, fallbackEnv);
  const fallbackText = await diffText(ws, fallbackEnv, true, maxPatchBytes, fallbackRecords);
  if (fallbackText === null) {
    throw new AasError(
      'INTERNAL',
      'the patch is still not valid UTF-8 after carrying non-UTF-8 files as binary',
    );
  }
  return { text: fallbackText, records: fallbackRecords, env: fallbackEnv };
}

async function describeChanges(ws: Workspace, env: GitEnvOptions): Promise<DiffRecord[]> {
  const result = await runGit({
    args: [
      'diff',
      '--cached',
      '--raw',
      '--numstat',
      '-z',
      '-M',
      '--no-abbrev',
      '--no-ext-diff',
      '--no-textconv',
      ws.baseCommit,
    ],
    cwd: ws.dir,
    env,
  });
  return parseDiffRecords(result.stdout);
}

/** The patch text, or null when its bytes are not valid UTF-8. */
async function diffText(
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
  return isUtf8(result.stdout) ? result.stdout.toString('utf8') : null;
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
