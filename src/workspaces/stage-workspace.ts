import { AasError } from '../kernel/index.js';
import type { GitEnvOptions } from './git-env.js';
import { nulJoin, runGit, splitNul } from './run-git.js';

export interface StagedWorkspace {
  /** Directories with their own `.git`, left out of the index (paths without the trailing `/`). */
  readonly embeddedRepos: readonly Buffer[];
  /** New paths git refuses to record (`.GIT/x`, `git~1`, `sub/.git `...), left out of the index. */
  readonly refused: readonly Buffer[];
}

const SLASH = 0x2f;

/**
 * `git add -A` of the whole workspace into the index named by `env`, honouring `.gitignore`.
 * Two kinds of agent-created paths would break or poison that, and are kept out and returned:
 * - a directory with its own `.git` (listed by ls-files as `dir/`): `git add` would record it
 *   as a submodule, or abort when it has no commit;
 * - a path git refuses as a possible `.git` alias (NTFS/HFS protections): `git add` aborts.
 * Any other failure to record a change (an unreadable modified file) is an error: the patch
 * would silently differ from the workspace the validators ran in.
 */
export async function stageWorkspace(env: GitEnvOptions, cwd: string): Promise<StagedWorkspace> {
  const git = (args: readonly string[], input?: Buffer, okExitCodes?: readonly number[]) =>
    runGit({
      args,
      cwd,
      env,
      ...(input === undefined ? {} : { input }),
      ...(okExitCodes === undefined ? {} : { okExitCodes }),
    });

  const untracked = splitNul(
    (await git(['ls-files', '-z', '--others', '--exclude-standard'])).stdout,
  );
  const embeddedRepos = untracked
    .filter((path) => path[path.length - 1] === SLASH)
    .map((path) => path.subarray(0, -1));
  const addArgs =
    embeddedRepos.length === 0
      ? ['add', '-A']
      : ['add', '-A', '--pathspec-from-file=-', '--pathspec-file-nul'];
  const addInput =
    embeddedRepos.length === 0
      ? undefined
      : nulJoin([
          Buffer.from('.'),
          ...embeddedRepos.map((path) => Buffer.concat([Buffer.from(':(exclude,literal)'), path])),
        ]);

  const first = await git(addArgs, addInput, [0, 1, 128]);
  if (first.exitCode === 0) return { embeddedRepos, refused: [] };

  // Record everything git accepts, then find out what it did not.
  const retry = await git(
    [...addArgs.slice(0, 1), '--ignore-errors', ...addArgs.slice(1)],
    addInput,
    [0, 1],
  );
  const unrecordedTracked = splitNul((await git(['diff-files', '--name-only', '-z'])).stdout);
  if (unrecordedTracked.length > 0) {
    const named = unrecordedTracked.slice(0, 10).map((path) => path.toString('utf8'));
    throw new AasError(
      'INTERNAL',
      `cannot record changes to ${named.join(', ')}: ${retry.stderr.trim()}`,
      {
        hint: 'the workspace holds changes git cannot read; the patch would not match what the agent left',
      },
    );
  }
  const refused = splitNul(
    (await git(['ls-files', '-z', '--others', '--exclude-standard'])).stdout,
  ).filter((path) => path[path.length - 1] !== SLASH);
  return { embeddedRepos, refused };
}
