import { randomBytes } from 'node:crypto';
import { copyFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { checkedOutBaseIndex } from './checked-out-bases.js';
import { runGit } from './run-git.js';

/** Where to check: a `Workspace` works as is; for another base pass `{ ...git, baseCommit }`. */
export interface PatchApplyTarget {
  readonly gitDir: string;
  readonly baseCommit: string;
  readonly searchPath: string;
}

export interface PatchApplyCheck {
  readonly ok: boolean;
  readonly detail: string;
}

/**
 * The "patch applies to base" gate: `git apply --check --cached` against a temporary index of
 * the base commit. No checkout, no work tree, nothing written but the throw-away index, so it
 * costs one tree read, or for a workspace a copy of its checkout's base index. git's own checks
 * apply: exact preimages (full blob ids for binary hunks), no paths outside the tree, no
 * writing through symlinks. A patch that does not apply is `ok: false` with git's
 * explanation; failing to run git at all throws (the gate pipeline turns that into a denial
 * too). An empty patch trivially applies.
 */
export async function checkPatchApplies(
  target: PatchApplyTarget,
  patchText: string,
): Promise<PatchApplyCheck> {
  if (patchText.length === 0) return { ok: true, detail: 'empty patch: nothing to apply' };
  const indexFile = join(target.gitDir, 'aas-tmp', `apply-${randomBytes(8).toString('hex')}.index`);
  const env = { searchPath: target.searchPath, gitDir: target.gitDir, indexFile };
  try {
    if (!(await copyCheckedOutBase(target, indexFile))) {
      const base = await runGit({
        args: ['read-tree', '--end-of-options', target.baseCommit],
        cwd: target.gitDir,
        env,
        okExitCodes: [0, 128],
      });
      if (base.exitCode !== 0)
        return {
          ok: false,
          detail: `base ${target.baseCommit} cannot be read: ${base.stderr.trim()}`,
        };
    }
    const applied = await runGit({
      args: ['apply', '--check', '--cached', '--whitespace=nowarn', '-'],
      cwd: target.gitDir,
      env,
      input: patchText,
      okExitCodes: [0, 1, 128],
    });
    if (applied.exitCode === 0)
      return { ok: true, detail: `applies cleanly to ${target.baseCommit}` };
    return { ok: false, detail: applied.stderr.trim() || `git apply exited ${applied.exitCode}` };
  } finally {
    await rm(indexFile, { force: true });
    await rm(`${indexFile}.lock`, { force: true });
  }
}

/**
 * Seeds `indexFile` with the base index the target's own checkout left, when the target is a
 * workspace whose checkout is still there: it holds exactly the base tree's entries (only
 * `--cached` entries matter to `apply --check`, not their stat data), and copying it saves the
 * `read-tree` (one git start, ~3.5 ms). False when there is none to copy.
 */
async function copyCheckedOutBase(target: PatchApplyTarget, indexFile: string): Promise<boolean> {
  const baseIndex = checkedOutBaseIndex(target);
  if (baseIndex === null) return false;
  try {
    await copyFile(baseIndex, indexFile);
    return true;
  } catch {
    await rm(indexFile, { force: true });
    return false;
  }
}
