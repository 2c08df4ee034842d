import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** Environment for test-side git: no user or system config, fixed identity and dates. */
export const TEST_GIT_ENV: NodeJS.ProcessEnv = {
  ...process.env,
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_AUTHOR_NAME: 'Test Author',
  GIT_AUTHOR_EMAIL: 'author@example.test',
  GIT_COMMITTER_NAME: 'Test Author',
  GIT_COMMITTER_EMAIL: 'author@example.test',
  GIT_AUTHOR_DATE: '2026-01-01T00:00:00Z',
  GIT_COMMITTER_DATE: '2026-01-01T00:00:00Z',
};

export function git(cwd: string, args: readonly string[], input?: string | Buffer): string {
  return execFileSync('git', args, {
    cwd,
    env: TEST_GIT_ENV,
    input,
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
}

export function makeTempDir(prefix = 'aas-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/**
 * Removes a test directory. Overlay workspaces a test kept (or a crash left) are still mounted
 * under it, and removing through a mount fails with EBUSY, so they are unmounted first.
 */
export function removeDir(path: string): void {
  for (const mountPoint of mountsUnder(path)) {
    spawnSync('umount', ['-l', mountPoint], { stdio: 'ignore' });
  }
  rmSync(path, { recursive: true, force: true });
}

function mountsUnder(path: string): string[] {
  let text: string;
  try {
    text = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const prefix = `${path.replace(/\/+$/, '')}/`;
  return text
    .split('\n')
    .map((line) => (line.split(' ')[4] ?? '').replace(/\\040/g, ' '))
    .filter((mountPoint) => mountPoint.startsWith(prefix))
    .sort((a, b) => b.length - a.length);
}

export type FileTree = Record<string, string | Buffer>;

export function writeTree(root: string, files: FileTree): void {
  for (const [path, content] of Object.entries(files)) {
    const full = join(root, path);
    mkdirSync(dirname(full), { recursive: true });
    writeFileSync(full, content);
  }
}

/** A real git repository with one commit on `main` holding `files`. */
export function createTempRepo(files: FileTree = { 'README.md': '# demo\n' }): string {
  const dir = makeTempDir('aas-repo-');
  git(dir, ['init', '-q', '-b', 'main']);
  writeTree(dir, files);
  git(dir, ['add', '-A']);
  git(dir, ['commit', '-q', '-m', 'initial']);
  return dir;
}

export function commitAll(repo: string, message: string): string {
  git(repo, ['add', '-A']);
  git(repo, ['commit', '-q', '-m', message]);
  return git(repo, ['rev-parse', 'HEAD']).trim();
}

export function headCommit(repo: string): string {
  return git(repo, ['rev-parse', 'HEAD']).trim();
}
