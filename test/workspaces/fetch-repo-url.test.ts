import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ANY_REPO_URL,
  cachedBaseCommits,
  DEFAULT_GIT_SEARCH_PATH,
  fetchRepoUrl,
  hasCachedCommit,
  isRepoUrl,
} from '../../src/workspaces/index.js';
import { refusal } from '../helpers/refusal.js';
import {
  commitAll,
  createTempRepo,
  git,
  headCommit,
  makeTempDir,
  removeDir,
} from '../helpers/temp-repo.js';

/**
 * A job's repository may be a URL: the host running the job fetches it into a cache repository
 * of its own, keeps what it fetched, and fetches only what is new the next time. Real git over
 * file:// URLs of real repositories.
 */
describe('repository URLs', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) removeDir(dir);
  });

  function fixture() {
    const repo = createTempRepo({ 'README.md': '# demo\n', 'src/a.txt': 'a\n' });
    const cacheDir = makeTempDir('aas-url-cache-');
    dirs.push(repo, cacheDir);
    return { repo, cacheDir, url: `file://${repo}` };
  }

  /** Objects in the cache repository: a small fetch lands them loose, so the count is exact. */
  function objectCount(repoPath: string): number {
    const out = git(repoPath, ['count-objects', '-v']);
    const field = (name: string) => Number(new RegExp(`^${name}: (\\d+)$`, 'm').exec(out)?.[1]);
    return field('count') + field('in-pack');
  }

  it('tells URLs from paths', () => {
    for (const url of [
      'https://github.com/o/r.git',
      'http://example.test/r',
      'ssh://git@example.test/r.git',
      'git://example.test/r',
      'file:///srv/r',
      'git@github.com:o/r.git',
    ]) {
      expect(isRepoUrl(url), url).toBe(true);
    }
    for (const path of [
      '/srv/r',
      './r',
      'r',
      'dir/x@y:z',
      'ext::sh -c touch% /tmp/x',
      'fd::3',
      '-uhttps://x',
      'C:/r',
    ]) {
      expect(isRepoUrl(path), path).toBe(false);
    }
  });

  it('fetches a ref into a cache keyed by the URL, then only the new objects', async () => {
    const { repo, cacheDir, url } = fixture();
    const first = headCommit(repo);
    const fetched = await fetchRepoUrl({ cacheDir, url, rule: ANY_REPO_URL });
    expect(fetched.commit).toBe(first);
    const key = createHash('sha256').update(url).digest('hex');
    expect(fetched.repoPath).toBe(join(cacheDir, key));
    expect(await hasCachedCommit(fetched.repoPath, first)).toBe(true);
    expect(await cachedBaseCommits(fetched.repoPath)).toEqual([first]);
    // The fetch's own ref is gone once the commit is pinned: nothing else accumulates.
    expect(git(fetched.repoPath, ['for-each-ref', '--format=%(refname)']).trim()).toBe(
      `refs/aas/bases/${first}`,
    );
    const before = objectCount(fetched.repoPath);
    // commit + root tree + README blob + src tree + a.txt blob
    expect(before).toBe(5);

    // One changed file: a new commit, a new root tree, a new src tree and a new blob.
    writeFileSync(join(repo, 'src/a.txt'), 'a\nb\n');
    const second = commitAll(repo, 'second');
    const branch = git(repo, ['symbolic-ref', '--short', 'HEAD']).trim();
    const again = await fetchRepoUrl({ cacheDir, url, rule: ANY_REPO_URL, ref: branch });
    expect(again).toEqual({ repoPath: fetched.repoPath, commit: second });
    expect(objectCount(fetched.repoPath) - before).toBe(4);
    expect(new Set(await cachedBaseCommits(fetched.repoPath))).toEqual(new Set([first, second]));

    // A commit id the cache holds is answered without asking the URL at all.
    removeDir(repo);
    expect(await fetchRepoUrl({ cacheDir, url, rule: ANY_REPO_URL, ref: first })).toEqual({
      repoPath: fetched.repoPath,
      commit: first,
    });
  });

  it('fetches a full commit id, and says BASE_REF_UNKNOWN for a ref the remote lacks', async () => {
    const { repo, cacheDir, url } = fixture();
    const first = headCommit(repo);
    writeFileSync(join(repo, 'b.txt'), 'b\n');
    commitAll(repo, 'second');
    expect((await fetchRepoUrl({ cacheDir, url, rule: ANY_REPO_URL, ref: first })).commit).toBe(
      first,
    );

    const unknown = await refusal(
      fetchRepoUrl({ cacheDir, url, rule: ANY_REPO_URL, ref: 'no-such-branch' }),
    );
    expect(unknown.code).toBe('BASE_REF_UNKNOWN');
    expect(unknown.details.hint).toMatch(/no-such-branch/);
    const absent = await refusal(
      fetchRepoUrl({ cacheDir, url, rule: ANY_REPO_URL, ref: 'f'.repeat(40) }),
    );
    expect(absent.code).toBe('BASE_REF_UNKNOWN');
    for (const ref of ['--upload-pack=touch /tmp/x', 'a:refs/heads/x', 'a\nb', 'a b']) {
      expect(
        (await refusal(fetchRepoUrl({ cacheDir, url, rule: ANY_REPO_URL, ref }))).code,
        ref,
      ).toBe('BASE_REF_UNKNOWN');
    }
  });

  it('says REPO_NOT_FOUND with git’s words for a URL that cannot be read', async () => {
    const cacheDir = makeTempDir('aas-url-cache-');
    const missing = makeTempDir('aas-url-missing-');
    dirs.push(cacheDir, missing);
    const url = `file://${join(missing, 'nothing-here')}`;
    const error = await refusal(fetchRepoUrl({ cacheDir, url, rule: ANY_REPO_URL }));
    expect(error.code).toBe('REPO_NOT_FOUND');
    expect(error.message).toContain(url);
    expect(error.details.hint).toMatch(/does not appear to be a git repository/);
  });

  it('never lets a URL be read as an option, nor accepts a transport it does not name', async () => {
    const cacheDir = makeTempDir('aas-url-cache-');
    const marker = join(cacheDir, 'pwned');
    dirs.push(cacheDir);
    for (const url of [
      `--upload-pack=touch ${marker}`,
      `-ufile:///tmp`,
      `ext::sh -c touch% ${marker}`,
      '/a/local/path',
      'file:///tmp/a\nb',
    ]) {
      const error = await refusal(fetchRepoUrl({ cacheDir, url, rule: ANY_REPO_URL }));
      expect(error.code, url).toBe('INVALID_ARGUMENT');
    }
    expect(existsSync(marker)).toBe(false);
  });

  /** A loopback HTTP server that counts requests and answers each with `answer`. */
  async function httpServer(
    answer: (response: import('node:http').ServerResponse) => void,
  ): Promise<{ server: Server; port: number; requests: () => number }> {
    let requests = 0;
    const server = createServer((_request, response) => {
      requests += 1;
      answer(response);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { server, port: (server.address() as AddressInfo).port, requests: () => requests };
  }

  it('fetches from no host the rule leaves out, nor from a local network unless allowed', async () => {
    const cacheDir = makeTempDir('aas-url-cache-');
    dirs.push(cacheDir);
    const target = await httpServer((response) => response.writeHead(404).end());
    const elsewhere = await httpServer((response) => response.writeHead(404).end());
    const redirecting = await httpServer((response) =>
      response
        .writeHead(302, {
          location: `http://127.0.0.1:${elsewhere.port}/r.git/info/refs?service=git-upload-pack`,
        })
        .end(),
    );
    try {
      const local = { hosts: ['*'], privateNetworks: false };
      for (const url of [
        `http://127.0.0.1:${target.port}/r.git`,
        `http://localhost:${target.port}/r.git`,
        `http://[::1]:${target.port}/r.git`,
        'https://169.254.169.254/latest/meta-data',
        'ssh://git@10.0.0.7/r.git',
        'git@192.168.1.2:r.git',
      ]) {
        const error = await refusal(fetchRepoUrl({ cacheDir, url, rule: local }));
        expect(error.code, url).toBe('JOB_INVALID');
        expect(error.details.field).toBe('repo');
        expect(error.message, url).toMatch(/address of a local network/);
        expect(error.details.hint).toMatch(/AAS_REPO_URL_PRIVATE_NETWORKS=allow/);
      }
      const onlyGithub = { hosts: ['github.com', '*.github.com'], privateNetworks: true };
      const other = await refusal(
        fetchRepoUrl({ cacheDir, url: `http://127.0.0.1:${target.port}/r.git`, rule: onlyGithub }),
      );
      expect(other.code).toBe('JOB_INVALID');
      expect(other.message).toMatch(/127\.0\.0\.1 is not among the allowed hosts/);
      expect(other.details.hint).toMatch(/AAS_REPO_URL_HOSTS/);
      expect(target.requests()).toBe(0);

      // Allowed: git does ask the server, which has no repository.
      const allowed = await refusal(
        fetchRepoUrl({
          cacheDir,
          url: `http://127.0.0.1:${target.port}/r.git`,
          rule: ANY_REPO_URL,
        }),
      );
      expect(allowed.code).toBe('REPO_NOT_FOUND');
      expect(target.requests()).toBeGreaterThan(0);

      // git connects to the address the rule checked, not to a second lookup of its own: this
      // name resolves nowhere but through the checked answer.
      const before = target.requests();
      const pinned = await refusal(
        fetchRepoUrl({
          cacheDir,
          url: `http://git.aas-test.invalid:${target.port}/r.git`,
          rule: ANY_REPO_URL,
          resolveHost: async () => ['127.0.0.1'],
        }),
      );
      expect(pinned.code).toBe('REPO_NOT_FOUND');
      expect(target.requests()).toBeGreaterThan(before);

      // A redirect could lead anywhere the rule never saw: git does not follow it.
      await refusal(
        fetchRepoUrl({
          cacheDir,
          url: `http://127.0.0.1:${redirecting.port}/r.git`,
          rule: ANY_REPO_URL,
        }),
      );
      expect(redirecting.requests()).toBeGreaterThan(0);
      expect(elsewhere.requests()).toBe(0);
    } finally {
      for (const { server } of [target, elsewhere, redirecting]) server.close();
    }
  });

  it('fetches from an IPv6 literal, which needs no pin', async () => {
    const cacheDir = makeTempDir('aas-url-cache-');
    dirs.push(cacheDir);
    let requests = 0;
    const server = createServer((_request, response) => {
      requests += 1;
      response.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '::1', resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      const error = await refusal(
        fetchRepoUrl({ cacheDir, url: `http://[::1]:${port}/r.git`, rule: ANY_REPO_URL }),
      );
      expect(error.code).toBe('REPO_NOT_FOUND');
      expect(requests).toBeGreaterThan(0);
    } finally {
      server.close();
    }
  });

  it("holds ssh to the checked address and port, checking the host key under the URL's name", async () => {
    const cacheDir = makeTempDir('aas-url-cache-');
    const bin = makeTempDir('aas-fake-ssh-');
    dirs.push(cacheDir, bin);
    const argsFile = join(bin, 'args');
    // An ssh that only says how it was called.
    writeFileSync(join(bin, 'ssh'), `#!/bin/sh\nprintf '%s\\n' "$@" > ${argsFile}\nexit 255\n`, {
      mode: 0o755,
    });
    const sshArgs = async (url: string) => {
      const error = await refusal(
        fetchRepoUrl({
          cacheDir,
          url,
          rule: { hosts: ['*'], privateNetworks: false },
          resolveHost: async () => ['93.184.215.14'],
          searchPath: `${bin}:${DEFAULT_GIT_SEARCH_PATH}`,
        }),
      );
      expect(error.code).toBe('REPO_NOT_FOUND');
      return readFileSync(argsFile, 'utf8').split('\n');
    };
    const named = await sshArgs('ssh://git@git.example.test/o/r.git');
    expect(named).toEqual(
      expect.arrayContaining([
        'HostName=93.184.215.14',
        'Port=22',
        'HostKeyAlias=git.example.test',
        'StrictHostKeyChecking=yes',
        'git@git.example.test',
      ]),
    );
    // An address literal is held too, with its port ahead of git's own -p.
    const literal = await sshArgs('ssh://git@93.184.215.14:2222/o/r.git');
    const port = literal.indexOf('Port=2222');
    expect(port).toBeGreaterThan(-1);
    expect(literal.indexOf('-p')).toBeGreaterThan(port);
    expect(literal).toEqual(expect.arrayContaining(['HostName=93.184.215.14']));
  });
});
