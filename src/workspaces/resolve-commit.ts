import type { GitEnvOptions } from './git-env.js';
import { runGit } from './run-git.js';

const SHA = /^[0-9a-f]{40}$/;
const FOUND_COMMIT = /^([0-9a-f]{40}) commit \d+$/;

/**
 * The full commit id `ref` names in the git dir of `env`, or null. A ref that could be read as
 * an option, or that holds NUL or a line break, names nothing; `--end-of-options` guards the
 * rest. Peeling with `^{commit}` turns a tag into its commit and rejects trees and blobs.
 */
export async function resolveCommit(
  env: GitEnvOptions,
  cwd: string,
  ref: string,
): Promise<string | null> {
  if (!isPlausibleRef(ref)) return null;
  const result = await runGit({
    args: ['rev-parse', '--verify', '--quiet', '--end-of-options', `${ref}^{commit}`],
    cwd,
    env,
    okExitCodes: [0, 1, 128],
  });
  const sha = result.stdout.toString('utf8').trim();
  return result.exitCode === 0 && SHA.test(sha) ? sha : null;
}

/**
 * `resolveCommit` for several refs with one git start: `cat-file --batch-check` reads one
 * object name per line and resolves it with the same machinery as `rev-parse --verify`
 * (`<ref>^{commit}` peels a tag, and a tree, a blob, an unknown or an ambiguous name answers
 * `missing`/`ambiguous` instead of an id). A line holds no option, so nothing needs guarding
 * but the line protocol itself, which `isPlausibleRef` keeps intact (no NUL, CR or LF).
 */
export async function resolveCommits(
  env: GitEnvOptions,
  cwd: string,
  refs: readonly string[],
): Promise<(string | null)[]> {
  const asked = refs.filter(isPlausibleRef);
  if (asked.length === 0) return refs.map(() => null);
  const result = await runGit({
    args: ['cat-file', '--batch-check'],
    cwd,
    env,
    input: asked.map((ref) => `${ref}^{commit}\n`).join(''),
  });
  const lines = result.stdout.toString('utf8').split('\n');
  const answers = new Map<string, string | null>();
  asked.forEach((ref, index) => {
    // The whole line, not its first words: a `missing` line repeats the name, spaces and all.
    answers.set(ref, FOUND_COMMIT.exec(lines[index] ?? '')?.[1] ?? null);
  });
  return refs.map((ref) => answers.get(ref) ?? null);
}

/** What may be handed to git as a ref at all; anything else names no commit. */
function isPlausibleRef(ref: string): boolean {
  return ref !== '' && !ref.startsWith('-') && !/[\0\n\r]/.test(ref);
}
