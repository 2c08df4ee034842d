import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkGitCredentialsFile,
  fetchRepoUrl,
  type RepoUrlRule,
} from '../../src/workspaces/index.js';
import { type GitHttpServer, startGitHttpServer } from '../helpers/git-http-server.js';
import { refusal } from '../helpers/refusal.js';
import { createTempRepo, git, headCommit, makeTempDir, removeDir } from '../helpers/temp-repo.js';

/**
 * A private repository: real git over smart HTTP (`git http-backend`) behind basic
 * authentication. The host fetches it only with the operator's credentials file, only for the
 * repositories that file lists, and never writes to that file.
 */
describe('private repository URLs', () => {
  const SECRET = 's3cret-token-value';
  let root: string;
  let work: string;
  let server: GitHttpServer;
  let commit: string;

  beforeAll(async () => {
    root = makeTempDir('aas-git-http-');
    work = makeTempDir('aas-git-http-work-');
    const source = createTempRepo({ 'README.md': '# private\n' });
    commit = headCommit(source);
    for (const name of ['r.git', 'other.git']) git(root, ['clone', '-q', '--bare', source, name]);
    removeDir(source);
    server = await startGitHttpServer({ root, user: 'alice', password: SECRET });
  });
  afterAll(async () => {
    await server?.close();
    removeDir(root);
    removeDir(work);
  });

  const url = (name: string) => `http://127.0.0.1:${server.port}/${name}`;

  function credentialsFile(name: string, lines: readonly string[], mode = 0o600): string {
    const path = join(work, name);
    writeFileSync(path, `${lines.join('\n')}\n`);
    chmodSync(path, mode);
    return path;
  }

  async function fetched(rule: RepoUrlRule, name: string) {
    const cacheDir = makeTempDir('aas-private-cache-');
    try {
      return await fetchRepoUrl({ cacheDir, url: url(name), rule });
    } finally {
      removeDir(cacheDir);
    }
  }

  it('is fetched with the credentials listed for it, and the file is left as it was', async () => {
    const path = credentialsFile('ok', [`http://alice:${SECRET}@127.0.0.1:${server.port}/r.git`]);
    const before = readFileSync(path, 'utf8');
    const rule = { hosts: ['*'], privateNetworks: true, credentialsFile: path };
    expect((await fetched(rule, 'r.git')).commit).toBe(commit);
    expect(readFileSync(path, 'utf8')).toBe(before);
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('is not fetched without credentials, nor with those of another repository', async () => {
    const refusedBefore = server.refused();
    const none = await refusal(fetched({ hosts: ['*'], privateNetworks: true }, 'r.git'));
    expect(none.code).toBe('REPO_NOT_FOUND');
    // Credentials are looked up by the whole URL: r.git's do not open other.git.
    const path = credentialsFile('r-only', [
      `http://alice:${SECRET}@127.0.0.1:${server.port}/r.git`,
    ]);
    const rule = { hosts: ['*'], privateNetworks: true, credentialsFile: path };
    const other = await refusal(fetched(rule, 'other.git'));
    expect(other.code).toBe('REPO_NOT_FOUND');
    expect(other.details.hint).toContain(
      `a private repository needs its URL, as the job spells it, in ${path}`,
    );
    expect(server.refused()).toBeGreaterThan(refusedBefore);
  });

  it('keeps a refused line: git is never let erase it', async () => {
    const line = `http://alice:wrong@127.0.0.1:${server.port}/r.git`;
    const path = credentialsFile('wrong', [line]);
    const rule = { hosts: ['*'], privateNetworks: true, credentialsFile: path };
    const error = await refusal(fetched(rule, 'r.git'));
    expect(error.code).toBe('REPO_NOT_FOUND');
    expect(error.message).not.toContain('wrong@');
    expect(readFileSync(path, 'utf8')).toBe(`${line}\n`);
  });

  it('refuses a file others may read, or lines it could not use, never quoting a secret', async () => {
    const line = `https://alice:${SECRET}@git.example/o/r.git`;
    const open = credentialsFile('open', [line], 0o644);
    const exposed = await refusal(checkGitCredentialsFile(open));
    expect(exposed).toMatchObject({ code: 'CONFIG_INVALID', details: { file: open } });
    expect(exposed.details.hint).toBe(`chmod 600 ${open}`);
    const cases: [lines: string[], problem: string][] = [
      [[line, `https://alice:${SECRET}@git.example`], 'line 2 of'],
      [[`alice ${SECRET}`], 'is not a URL'],
      [[`ssh://alice:${SECRET}@git.example/o/r.git`], 'is not an http(s) URL'],
      [['https://git.example/o/r.git'], 'has no user and password'],
    ];
    for (const [index, [lines, problem]] of cases.entries()) {
      const path = credentialsFile(`bad-${index}`, lines);
      const error = await refusal(checkGitCredentialsFile(path));
      expect(error.code).toBe('CONFIG_INVALID');
      expect(error.message).toContain(problem);
      expect(JSON.stringify(error)).not.toContain(SECRET);
    }
    const missing = await refusal(checkGitCredentialsFile(join(work, 'missing')));
    expect(missing.code).toBe('CONFIG_INVALID');
    await checkGitCredentialsFile(credentialsFile('fine', [line, '', line]));
  });
});
