import { existsSync } from 'node:fs';
import { realpath } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { AasError } from '../kernel/index.js';

/**
 * Where on this host a submitted job may name a local repository (AAS_REPO_PATHS): a path, or a
 * `file://` URL. Whoever may submit a job to a server makes the server read the repository it
 * names and hands what the agent does with it to every reader of the run (its logs, its patch),
 * so without a rule anyone with the operator role could read any git repository the server's
 * user can. `*` (the default, for single-user setups) is any path.
 */
export interface RepoPathRule {
  /** Absolute directories; a repository must resolve (symbolic links followed) inside one. */
  readonly roots: readonly string[];
}

export const ANY_REPO_PATH: RepoPathRule = { roots: ['*'] };

/**
 * Refuses (JOB_INVALID, field `repo`) a local repository outside every root: the path, and the
 * repository it belongs to. The path is compared once its symbolic links are resolved, so a
 * link inside a root cannot point out of it.
 * A path that does not exist is resolved as far as it does (its deepest existing directory, then
 * the rest as written): refused the same way outside every root, so that a refusal never tells
 * whether something exists outside them; inside one, the caller reports it missing.
 */
export async function checkRepoPath(path: string, rule: RepoPathRule): Promise<void> {
  if (rule.roots.includes('*')) return;
  const resolvedPath = await resolvedAsFarAsItExists(resolve(path));
  // What git works on is the repository the path belongs to (the nearest directory up holding
  // `.git`): a listed directory inside a larger work tree must not open the whole tree.
  const repository = enclosingRepository(resolvedPath) ?? resolvedPath;
  const roots = await Promise.all(rule.roots.map((root) => realpath(root).catch(() => null)));
  const within = (candidate: string) =>
    roots.some((root) => root !== null && isInside(candidate, root));
  if (within(resolvedPath) && within(repository)) return;
  throw new AasError(
    'JOB_INVALID',
    `this server does not use local repositories outside ${rule.roots.join(', ') || 'none'}: ${path}`,
    {
      field: 'repo',
      hint: 'ask the operator to add its directory to AAS_REPO_PATHS on the server, or submit its URL',
    },
  );
}

function isInside(path: string, root: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

/** `path` with its deepest existing ancestor's links resolved and the rest appended as written. */
async function resolvedAsFarAsItExists(path: string): Promise<string> {
  const missing: string[] = [];
  for (let current = path; ; current = dirname(current)) {
    const real = await realpath(current).catch(() => null);
    if (real !== null) return join(real, ...missing.reverse());
    if (dirname(current) === current) return path;
    missing.push(basename(current));
  }
}

/** The nearest directory from `path` up that holds `.git`; undefined when none does. */
function enclosingRepository(path: string): string | undefined {
  for (let dir = path; ; dir = dirname(dir)) {
    if (existsSync(join(dir, '.git'))) return dir;
    if (dirname(dir) === dir) return undefined;
  }
}
