import { createHash } from 'node:crypto';
import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startGitHttpServer } from '../helpers/git-http-server.js';
import { jsonOf, runCli } from '../helpers/run-cli.js';
import { createTempRepo, git, headCommit, makeTempDir, removeDir } from '../helpers/temp-repo.js';

const cleanup: string[] = [];
afterAll(() => {
  for (const dir of cleanup) removeDir(dir);
});

const FIX = "sed -i 's/teh/the/' README.md";

/**
 * `aas run --repo <URL>`: the runner fetches the repository into its own cache (the URL is not
 * turned into a path), runs from there, and records the URL and the ref the job asked for. Such
 * a run is promoted as a patch; a branch needs a checkout with a remote, and is refused.
 */
describe('aas run on a repository URL', () => {
  it('fetches, runs, records the URL, and promotes as a patch only', async () => {
    const home = makeTempDir('aas-url-home-');
    const repo = createTempRepo({ 'README.md': 'teh readme\n' });
    cleanup.push(home, repo);
    const url = `file://${repo}`;
    const policy = join(home, 'server-policy.yaml');
    writeFileSync(policy, 'promotion:\n  approvals: 0\n');
    const env = { AAS_POLICY: policy };

    const ran = await runCli(
      ['run', '--repo', url, '--task', 'fix', '--agent-cmd', FIX, '--json'],
      {
        home,
        env,
      },
    );
    expect(ran.code, ran.stderr).toBe(0);
    const outcome = jsonOf<{
      runId: string;
      sessionId: string;
      status: string;
      baseCommit: string;
      patch: { files: { path: string }[] } | null;
    }>(ran);
    expect(outcome.status).toBe('ready_for_promotion');
    expect(outcome.baseCommit).toBe(headCommit(repo));
    expect(outcome.patch?.files.map((file) => file.path)).toEqual(['README.md']);
    const key = createHash('sha256').update(url).digest('hex');
    expect(existsSync(join(home, 'repos', key, '.git'))).toBe(true);

    const events = await runCli(['sessions', 'events', outcome.sessionId, '--json'], { home });
    const resolved = events.stdout
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as { type: string; data: Record<string, unknown> })
      .find((event) => event.type === 'run.base.resolved');
    expect(resolved?.data).toMatchObject({
      repoRoot: url,
      baseRef: 'HEAD',
      baseCommit: outcome.baseCommit,
    });

    const branch = await runCli(['promote', outcome.runId, '--mode', 'branch'], { home, env });
    expect(branch.code).toBe(3);
    expect(branch.stderr).toMatch(/PREFLIGHT_FAILED.*repository is a URL/);
    expect(branch.stderr).toMatch(/--mode patch/);
    const patch = await runCli(['promote', outcome.runId, '--mode', 'patch', '--json'], {
      home,
      env,
    });
    expect(patch.code, patch.stderr).toBe(0);
    expect(jsonOf(patch)).toMatchObject({ mode: 'patch' });

    // The cache repository outlives the run until gc finds it unused for long enough.
    type Collected = { removedRepoCaches: string[]; keptRepoCaches: string[] };
    const young = await runCli(['gc', '--json'], { home, env });
    expect(young.code, young.stderr).toBe(0);
    expect(jsonOf<Collected>(young)).toMatchObject({
      removedRepoCaches: [],
      keptRepoCaches: [key],
    });
    const all = await runCli(['gc', '--cache-age', '0', '--json'], { home, env });
    expect(jsonOf<Collected>(all)).toMatchObject({ removedRepoCaches: [key], keptRepoCaches: [] });
    expect(existsSync(join(home, 'repos', key))).toBe(false);
  });

  it('fetches from no local network unless this host allows it', async () => {
    const home = makeTempDir('aas-url-home-');
    cleanup.push(home);
    const url = 'http://127.0.0.1:9/r.git';
    const refused = await runCli(['run', '--repo', url, '--task', 't', '--agent-cmd', 'true'], {
      home,
    });
    expect(refused.code, refused.stderr).toBe(2);
    expect(refused.stdout + refused.stderr).toMatch(
      /JOB_INVALID\) repo: this host does not fetch http:\/\/127\.0\.0\.1:9\/r\.git: its host is 127\.0\.0\.1, an address of a local network/,
    );
    // Allowed, git does try (and finds nothing listening).
    const allowed = await runCli(['run', '--repo', url, '--task', 't', '--agent-cmd', 'true'], {
      home,
      env: { AAS_REPO_URL_PRIVATE_NETWORKS: 'allow' },
    });
    expect(allowed.stdout + allowed.stderr).toMatch(/REPO_NOT_FOUND/);
  });

  it('fetches a private repository with the credentials AAS_GIT_CREDENTIALS lists for it', async () => {
    const home = makeTempDir('aas-url-home-');
    const root = makeTempDir('aas-url-private-');
    const source = createTempRepo({ 'README.md': 'teh readme\n' });
    cleanup.push(home, root, source);
    git(root, ['clone', '-q', '--bare', source, 'r.git']);
    const server = await startGitHttpServer({ root, user: 'ci', password: 'tok-123' });
    try {
      const url = `http://127.0.0.1:${server.port}/r.git`;
      const credentials = join(home, 'git-credentials');
      writeFileSync(credentials, `http://ci:tok-123@127.0.0.1:${server.port}/r.git\n`, {
        mode: 0o600,
      });
      const job = ['run', '--repo', url, '--task', 'fix', '--agent-cmd', FIX, '--json'];
      const env = { AAS_REPO_URL_PRIVATE_NETWORKS: 'allow' };
      const ran = await runCli(job, { home, env: { ...env, AAS_GIT_CREDENTIALS: credentials } });
      expect(ran.code, ran.stderr).toBe(0);
      expect(jsonOf<{ status: string; baseCommit: string }>(ran)).toMatchObject({
        status: 'ready_for_promotion',
        baseCommit: headCommit(source),
      });
      // Without them, the run cannot fetch its base.
      const denied = await runCli(job, { home: makeTempDir('aas-url-home-'), env });
      expect(jsonOf<{ status: string; reasonCode: string }>(denied)).toMatchObject({
        status: 'failed',
        reasonCode: 'REPO_NOT_FOUND',
      });
      // A file other users may read stops the command before anything runs.
      chmodSync(credentials, 0o644);
      const exposed = await runCli(job, {
        home,
        env: { ...env, AAS_GIT_CREDENTIALS: credentials },
      });
      expect(exposed.code).toBe(2);
      expect(jsonOf(exposed)).toMatchObject({
        ok: false,
        error: {
          code: 'CONFIG_INVALID',
          message: `${credentials} holds secrets but other users may read or change it (mode 644)`,
          details: {
            file: credentials,
            field: 'AAS_GIT_CREDENTIALS',
            hint: `chmod 600 ${credentials}`,
          },
        },
      });
      expect(exposed.stdout + exposed.stderr).not.toContain('tok-123');
    } finally {
      await server.close();
    }
  });
});
