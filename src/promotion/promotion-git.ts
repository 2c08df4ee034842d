import { join } from 'node:path';
import { AasError } from '../kernel/index.js';
import { prepareRunGit, type RunGit, runGit } from '../workspaces/index.js';

/**
 * Transports promotion may use. The hardened defaults forbid every transport (`protocol.allow
 * = never`); promotion talks to the repository's remote, so it re-opens exactly local paths,
 * file:// and https://, never `ext::` (runs a command) or unauthenticated `git://`.
 */
const TRANSPORT_CONFIG = [
  '-c',
  'protocol.file.allow=always',
  '-c',
  'protocol.https.allow=always',
  '-c',
  'credential.helper=',
] as const;

/** Network operations get a shorter deadline than local ones: a dead remote must not hang. */
const REMOTE_TIMEOUT_MS = 120_000;

export interface PromotionGit extends RunGit {
  /** Extra environment for git's HTTP requests (an Authorization header); never logged. */
  readonly httpEnv: Readonly<Record<string, string>>;
}

/**
 * A private bare git dir for one run's promotion (`<runDir>/promotion/git`) that borrows the
 * user's objects read-only. The commit is built here from an index alone, so neither the
 * user's checkout, nor its index, nor its refs are ever written.
 */
export async function openPromotionGit(
  runDir: string,
  repo: string,
  httpEnv: Readonly<Record<string, string>> = {},
): Promise<PromotionGit> {
  const git = await prepareRunGit({ runDir: join(runDir, 'promotion'), repo });
  return { ...git, httpEnv };
}

function env(git: PromotionGit, extra: Record<string, string> = {}) {
  return { searchPath: git.searchPath, gitDir: git.gitDir, extra: { ...git.httpEnv, ...extra } };
}

/** The URL of `remote` in the user's repository config, or null when it has none. */
export async function remoteUrlOf(git: RunGit, remote: string): Promise<string | null> {
  const result = await runGit({
    args: ['config', '--get', `remote.${remote}.url`],
    cwd: git.repoRoot,
    env: { searchPath: git.searchPath, gitDir: git.repoGitDir },
    okExitCodes: [0, 1],
  });
  const url = result.stdout.toString('utf8').trim();
  return result.exitCode === 0 && url !== '' ? url : null;
}

/**
 * The branch the user's checkout is on (its HEAD), or null when detached. The full ref, stripped:
 * `--short` prints `heads/main` where a tag `main` exists too.
 */
export async function checkedOutBranch(git: RunGit): Promise<string | null> {
  const result = await runGit({
    args: ['symbolic-ref', '--quiet', 'HEAD'],
    cwd: git.repoRoot,
    env: { searchPath: git.searchPath, gitDir: git.repoGitDir },
    okExitCodes: [0, 1],
  });
  const ref = result.stdout.toString('utf8').trim();
  return result.exitCode === 0 && ref.startsWith('refs/heads/') && ref !== 'refs/heads/'
    ? ref.slice('refs/heads/'.length)
    : null;
}

/**
 * The commit `refs/heads/<branch>` points at on the remote, or null when the branch does not
 * exist there. PROVIDER_ERROR when the remote cannot be read at all.
 */
export async function remoteBranchHead(
  git: PromotionGit,
  remoteUrl: string,
  branch: string,
): Promise<string | null> {
  const ref = `refs/heads/${branch}`;
  let result: Awaited<ReturnType<typeof runGit>>;
  try {
    result = await runGit({
      args: [...TRANSPORT_CONFIG, 'ls-remote', '--', remoteUrl, ref],
      cwd: git.gitDir,
      env: env(git),
      timeoutMs: REMOTE_TIMEOUT_MS,
    });
  } catch (thrown) {
    throw remoteError(`cannot read ${ref} from the remote`, remoteUrl, thrown);
  }
  for (const line of result.stdout.toString('utf8').split('\n')) {
    const [sha, name] = line.split('\t');
    if (name === ref && sha !== undefined && /^[0-9a-f]{40}$/.test(sha)) return sha;
  }
  return null;
}

/** Brings the remote's `branch` head and its history into the private git dir. */
export async function fetchBranch(
  git: PromotionGit,
  remoteUrl: string,
  branch: string,
): Promise<string> {
  const local = 'refs/aas/promotion-target';
  try {
    await runGit({
      args: [
        ...TRANSPORT_CONFIG,
        'fetch',
        '--no-tags',
        '--no-write-fetch-head',
        '--quiet',
        '--',
        remoteUrl,
        `+refs/heads/${branch}:${local}`,
      ],
      cwd: git.gitDir,
      env: env(git),
      timeoutMs: REMOTE_TIMEOUT_MS,
    });
  } catch (thrown) {
    throw remoteError(`cannot fetch ${branch} from the remote`, remoteUrl, thrown);
  }
  return revParse(git, local);
}

async function revParse(git: PromotionGit, ref: string): Promise<string> {
  const result = await runGit({
    args: ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`],
    cwd: git.gitDir,
    env: env(git),
  });
  return result.stdout.toString('utf8').trim();
}

/** Whether `commit` exists in the private git dir (or the objects it borrows). */
export async function hasCommit(git: PromotionGit, commit: string): Promise<boolean> {
  const result = await runGit({
    args: ['cat-file', '-e', `${commit}^{commit}`],
    cwd: git.gitDir,
    env: env(git),
    okExitCodes: [0, 1, 128],
  });
  return result.exitCode === 0;
}

/** Whether `patch` applies to the tree of `parent` (index only; nothing is checked out). */
export async function patchApplies(
  git: PromotionGit,
  parent: string,
  patch: Buffer,
): Promise<{ ok: boolean; detail: string }> {
  const index = join(git.gitDir, 'promotion-check.index');
  await runGit({
    args: ['read-tree', parent],
    cwd: git.gitDir,
    env: { ...env(git), indexFile: index },
  });
  const result = await runGit({
    args: ['apply', '--cached', '--check', '--binary', '-'],
    cwd: git.gitDir,
    env: { ...env(git), indexFile: index },
    input: patch,
    // 128: git could not read the patch at all; an answer (no), not a crash.
    okExitCodes: [0, 1, 128],
  });
  return { ok: result.exitCode === 0, detail: result.stderr.trim() };
}

export interface CommitIdentity {
  readonly name: string;
  readonly email: string;
  /** ISO-8601: the same for author and committer, fixed per promotion. */
  readonly dateIso: string;
}

/**
 * Applies the patch to `parent`'s tree in a private index and writes a commit of the result.
 * Deterministic: the same parent, patch, message, identity and date give the same commit sha,
 * so a promotion retried after a crash re-creates the very commit it may already have pushed.
 */
export async function commitPatch(
  git: PromotionGit,
  input: { parent: string; patch: Buffer; message: string; identity: CommitIdentity },
): Promise<string> {
  const index = join(git.gitDir, 'promotion.index');
  const indexed = { ...env(git), indexFile: index };
  await runGit({ args: ['read-tree', input.parent], cwd: git.gitDir, env: indexed });
  // The bytes whose digest preflight verified, not the file again: it could change in between.
  const applied = await runGit({
    args: ['apply', '--cached', '--binary', '-'],
    cwd: git.gitDir,
    env: indexed,
    input: input.patch,
    okExitCodes: [0, 1, 128],
  });
  if (applied.exitCode !== 0) {
    throw new AasError('BASE_MOVED', `the patch does not apply to ${input.parent}`, {
      parent: input.parent,
      gitSays: applied.stderr.trim().slice(0, 2_000),
      hint: 'run the job again on the current target branch',
    });
  }
  const tree = (await runGit({ args: ['write-tree'], cwd: git.gitDir, env: indexed })).stdout
    .toString('utf8')
    .trim();
  // git reads dates in this form as UTC seconds since the epoch: exact and locale-free.
  const date = `${Math.floor(Date.parse(input.identity.dateIso) / 1000)} +0000`;
  const committed = await runGit({
    args: ['commit-tree', tree, '-p', input.parent, '-F', '-'],
    cwd: git.gitDir,
    env: env(git, {
      GIT_AUTHOR_NAME: input.identity.name,
      GIT_AUTHOR_EMAIL: input.identity.email,
      GIT_AUTHOR_DATE: date,
      GIT_COMMITTER_NAME: input.identity.name,
      GIT_COMMITTER_EMAIL: input.identity.email,
      GIT_COMMITTER_DATE: date,
    }),
    input: input.message,
  });
  return committed.stdout.toString('utf8').trim();
}

/**
 * Creates `refs/heads/<branch>` on the remote at `commit`, and only creates it:
 * `--force-with-lease=<ref>:` with an empty expected value tells the remote to refuse the
 * update unless the ref does not exist yet, so an existing branch is never overwritten or
 * moved (a plain push would fast-forward one). Returns `exists` when the remote refused
 * because the branch appeared meanwhile; the caller then reads what it points at.
 */
export async function createRemoteBranch(
  git: PromotionGit,
  remoteUrl: string,
  branch: string,
  commit: string,
): Promise<'created' | 'exists'> {
  const ref = `refs/heads/${branch}`;
  let result: Awaited<ReturnType<typeof runGit>>;
  try {
    result = await runGit({
      args: [
        ...TRANSPORT_CONFIG,
        'push',
        '--porcelain',
        '--no-verify',
        `--force-with-lease=${ref}:`,
        '--',
        remoteUrl,
        `${commit}:${ref}`,
      ],
      cwd: git.gitDir,
      env: env(git),
      timeoutMs: REMOTE_TIMEOUT_MS,
      okExitCodes: [0, 1],
    });
  } catch (thrown) {
    throw remoteError(`cannot push ${branch}`, remoteUrl, thrown);
  }
  if (result.exitCode === 0) return 'created';
  const out = result.stdout.toString('utf8');
  if (/\[rejected\]|stale info|already exists/.test(out + result.stderr)) return 'exists';
  const reason = pushRefusalReason(out, result.stderr);
  throw new AasError(
    'PROVIDER_ERROR',
    `the remote refused the push of ${branch}${reason === '' ? '' : `: ${reason}`}`,
    {
      remote: redactUrl(remoteUrl),
      gitSays: redactUrl(`${out}\n${result.stderr}`.trim().slice(0, 2_000)),
      hint: 'what the remote said is its own rule (a hook, a protected name, missing write access): settle it there, then promote the run again; the commit is kept and pushed as it is',
    },
  );
}

/**
 * Why a remote refused a push, from `git push --porcelain`: the reason on the ref's line
 * (`[remote rejected] (pre-receive hook declined)`) and the lines the remote printed itself
 * (`remote: …`, where hooks explain). Empty when git said neither.
 */
export function pushRefusalReason(porcelain: string, stderr: string): string {
  const refLine = porcelain
    .split('\n')
    .find((line) => line.startsWith('!'))
    ?.split('\t')
    .at(-1)
    ?.trim();
  const remoteSays = stderr
    .split('\n')
    .filter((line) => line.startsWith('remote: '))
    .map((line) => line.slice('remote: '.length).trim())
    .filter((line) => line !== '')
    .slice(0, 3);
  return redactUrl([refLine, ...remoteSays].filter((part) => part).join('; ')).slice(0, 500);
}

function remoteError(what: string, remoteUrl: string, thrown: unknown): AasError {
  const message = thrown instanceof Error ? thrown.message : String(thrown);
  return new AasError('PROVIDER_ERROR', `${what}: ${redactUrl(message)}`, {
    remote: redactUrl(remoteUrl),
    hint: 'check that the remote exists and that this server can reach and write to it',
  });
}

/** Drops any user:password from URLs in a text, so credentials never reach a log or an event. */
export function redactUrl(text: string): string {
  return text.replace(/(\b[a-z][a-z0-9+.-]*:\/\/)[^/@\s]+@/gi, '$1***@');
}
