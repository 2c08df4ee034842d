import type { GitEnvOptions } from './git-env.js';
import { runGit } from './run-git.js';

const SHA = /^[0-9a-f]{40}$/;

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
  if (ref === '' || ref.startsWith('-') || /[\0\n\r]/.test(ref)) return null;
  const result = await runGit({
    args: ['rev-parse', '--verify', '--quiet', '--end-of-options', `${ref}^{commit}`],
    cwd,
    env,
    okExitCodes: [0, 1, 128],
  });
  const sha = result.stdout.toString('utf8').trim();
  return result.exitCode === 0 && SHA.test(sha) ? sha : null;
}
