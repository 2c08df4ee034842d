import { AasError } from '../kernel/index.js';
import { runGit, splitNul } from './run-git.js';
import type { RunGit } from './types.js';

/** One `git status` entry: what a commit of the working tree would change, relative to HEAD. */
export interface DirtyEntry {
  readonly path: string;
  /** The path's bytes as git gave them, for feeding back to git losslessly. */
  readonly raw: Buffer;
  /** Porcelain `X` (index vs HEAD) and `Y` (work tree vs index), v1 style (space = unchanged). */
  readonly index: string;
  readonly worktree: string;
}

export interface ListDirtyOptions {
  /** The host user's global ignore file (see ResolveBaseOptions.userExcludesFile). */
  readonly userExcludesFile?: string;
  /** List untracked files too (each file individually), or tracked changes only. */
  readonly untracked: boolean;
  /** Git pathspecs limiting the listing; none = the whole working tree. */
  readonly pathspecs?: readonly string[];
  /** Also report the commit HEAD names, read by the same git process (see DirtyListing.head). */
  readonly head?: boolean;
}

export interface DirtyListing {
  readonly entries: DirtyEntry[];
  /**
   * With `head: true`: HEAD's commit id, or null on an unborn branch; undefined otherwise.
   * It comes from status's own `# branch.oid` header, i.e. the very commit the listing is
   * relative to, which saves the separate `rev-parse HEAD` (one git start, ~3.5 ms). git's
   * ref layer refuses to point HEAD at anything but a commit, so the id needs no peeling.
   */
  readonly head: string | null | undefined;
}

const HEAD_HEADER = '# branch.oid ';
const SHA = /^[0-9a-f]{40}$/;
/** Porcelain v2 records: space-separated fields before the path, per record kind. */
const FIELDS_BEFORE_PATH: Readonly<Record<string, number>> = { '1': 8, '2': 9, u: 10, '?': 1 };

/**
 * Tracked modifications, staged changes and (optionally) untracked files that are not
 * ignored, each file listed individually. Submodules count only when their checked-out commit
 * moved (`--ignore-submodules=dirty`), because that is all a snapshot commit could record.
 * `GIT_OPTIONAL_LOCKS=0` (set for every git process) keeps status from rewriting the index.
 * Paths are relative to the repository root whatever the pathspecs: porcelain output ignores
 * `status.relativePaths`. Porcelain v2 lists the same entries as v1 (one collection, two
 * printers) and can carry HEAD's id in the same run; `--no-ahead-behind` keeps `--branch`
 * from walking history to compare with an upstream.
 */
export async function listDirtyEntries(
  git: RunGit,
  options: ListDirtyOptions,
): Promise<DirtyListing> {
  const excludes =
    options.userExcludesFile === undefined
      ? []
      : ['-c', `core.excludesFile=${options.userExcludesFile}`];
  const pathspecs = options.pathspecs ?? [];
  const result = await runGit({
    args: [
      ...excludes,
      'status',
      '--porcelain=v2',
      '-z',
      ...(options.head === true ? ['--branch', '--no-ahead-behind'] : []),
      options.untracked ? '--untracked-files=all' : '--untracked-files=no',
      '--no-renames',
      '--ignore-submodules=dirty',
      ...(pathspecs.length === 0 ? [] : ['--', ...pathspecs]),
    ],
    cwd: git.repoRoot,
    env: { searchPath: git.searchPath, gitDir: git.repoGitDir, workTree: git.repoRoot },
  });
  const entries: DirtyEntry[] = [];
  let head: string | null | undefined;
  const fields = splitNul(result.stdout);
  for (let at = 0; at < fields.length; at++) {
    const field = fields[at] ?? Buffer.alloc(0);
    const kind = String.fromCharCode(field[0] ?? 0);
    if (kind === '#') {
      const header = field.toString('utf8');
      if (options.head === true && header.startsWith(HEAD_HEADER)) {
        const oid = header.slice(HEAD_HEADER.length);
        head = SHA.test(oid) ? oid : null;
      }
      continue;
    }
    const before = FIELDS_BEFORE_PATH[kind];
    if (before === undefined) continue;
    const raw = afterFields(field, before);
    if (raw === null) continue;
    // `XY` with `.` for "unchanged", as v1's space; an untracked file is `??` in both.
    const index = kind === '?' ? '?' : v1Letter(field[2]);
    const worktree = kind === '?' ? '?' : v1Letter(field[3]);
    entries.push({ path: raw.toString('utf8'), raw, index, worktree });
    // A rename (not produced under --no-renames, but never misread) carries its source next.
    if (kind === '2') {
      const source = fields[++at];
      if (source !== undefined)
        entries.push({ path: source.toString('utf8'), raw: source, index, worktree });
    }
  }
  if (options.head === true && head === undefined) {
    throw new AasError('INTERNAL', `git status --branch printed no HEAD in ${git.repoRoot}`);
  }
  return { entries: entries.sort((a, b) => Buffer.compare(a.raw, b.raw)), head };
}

/** The bytes after the `count`-th space: the path, which may itself hold spaces. */
function afterFields(field: Buffer, count: number): Buffer | null {
  let at = -1;
  for (let seen = 0; seen < count; seen++) {
    at = field.indexOf(0x20, at + 1);
    if (at === -1) return null;
  }
  return field.subarray(at + 1);
}

function v1Letter(byte: number | undefined): string {
  const letter = String.fromCharCode(byte ?? 0x2e);
  return letter === '.' ? ' ' : letter;
}
