import type { GitEnvOptions } from './git-env.js';
import type { DiffRecord } from './parse-diff-records.js';
import { nulJoin, runGit } from './run-git.js';
import type { StagedWorkspace } from './stage-workspace.js';
import type { DroppedPath, RuntimeRule, RuntimeRuleMatch } from './types.js';

/** Reported for a directory with its own `.git`: recorded, it would be a submodule pointer, not files. */
export const EMBEDDED_REPO_RULE: RuntimeRuleMatch = {
  layer: 'workspaces',
  rule: 'embedded git repository (a directory with its own .git)',
};
/** Reported for a new path git refuses to record because it could alias `.git` on some file system. */
export const REFUSED_PATH_RULE: RuntimeRuleMatch = {
  layer: 'workspaces',
  rule: 'path git refuses to record (a possible .git alias)',
};
/** Reported for a change that restoring a dropped path took with it (file vs directory). */
export const CONFLICT_RULE: RuntimeRuleMatch = {
  layer: 'workspaces',
  rule: 'file/directory conflict with a dropped runtime path',
};

export interface RuntimeDrop {
  /** Every path changed in the staged index before anything was dropped. */
  readonly changed: readonly Buffer[];
  /** The subset put back to its base state because `runtimeRule` matched. */
  readonly restored: readonly Buffer[];
  readonly dropped: DroppedPath[];
}

/**
 * Puts every changed path that `runtimeRule` marks as a runtime artifact back to its base
 * state in the staged index (an added path leaves the index, a modified or deleted one gets
 * its base entry back), so it cannot be part of the patch. Paths are judged per file: a
 * rename's two sides separately (exactly the paths a `--no-renames` listing names, which is
 * what this step used to run git for), so moving a file into `logs/` drops the new copy and
 * keeps the deletion. `records` is the listing of the staged index; git runs only when
 * something is restored (the `reset`), so a run without runtime artifacts pays nothing here.
 */
export async function dropRuntimePaths(
  env: GitEnvOptions,
  cwd: string,
  baseCommit: string,
  staged: StagedWorkspace,
  records: readonly DiffRecord[],
  runtimeRule: RuntimeRule,
): Promise<RuntimeDrop> {
  const changed = changedPaths(records);
  const dropped: DroppedPath[] = [];
  const restored: Buffer[] = [];
  for (const raw of changed) {
    const rule = runtimeRule(raw.toString('utf8'));
    if (rule === null) continue;
    dropped.push(droppedPath(raw, rule));
    restored.push(raw);
  }
  for (const raw of staged.embeddedRepos)
    dropped.push(droppedPath(raw, runtimeRule(raw.toString('utf8')) ?? EMBEDDED_REPO_RULE));
  for (const raw of staged.refused)
    dropped.push(droppedPath(raw, runtimeRule(raw.toString('utf8')) ?? REFUSED_PATH_RULE));
  if (restored.length > 0) {
    await runGit({
      args: [
        'reset',
        '-q',
        '--no-refresh',
        baseCommit,
        '--pathspec-from-file=-',
        '--pathspec-file-nul',
      ],
      cwd,
      env: { ...env, literalPathspecs: true },
      input: nulJoin(restored),
    });
  }
  return { changed, restored, dropped };
}

/** Every path a change touches (both sides of a rename), once each, in git's byte order. */
function changedPaths(records: readonly DiffRecord[]): Buffer[] {
  const unique = new Map<string, Buffer>();
  for (const record of records) {
    for (const path of record.oldPath === undefined ? [record.path] : [record.oldPath, record.path])
      unique.set(path.toString('latin1'), path);
  }
  return [...unique.values()].sort(Buffer.compare);
}

/**
 * Restoring a dropped path can take others with it (a pathspec `a` also covers `a/b`, and a
 * file `a` cannot coexist with a directory `a/`). Every changed path that is neither in the
 * final patch nor already reported is reported, so nothing disappears silently.
 */
export function reportVanished(drop: RuntimeDrop, records: readonly DiffRecord[]): DroppedPath[] {
  const accounted = new Set(drop.restored.map((raw) => raw.toString('latin1')));
  for (const record of records) {
    accounted.add(record.path.toString('latin1'));
    if (record.oldPath !== undefined) accounted.add(record.oldPath.toString('latin1'));
  }
  const vanished = drop.changed.filter((raw) => !accounted.has(raw.toString('latin1')));
  return [...drop.dropped, ...vanished.map((raw) => droppedPath(raw, CONFLICT_RULE))].sort(
    (a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0),
  );
}

function droppedPath(raw: Buffer, rule: RuntimeRuleMatch): DroppedPath {
  return { path: raw.toString('utf8'), layer: rule.layer, rule: rule.rule };
}
