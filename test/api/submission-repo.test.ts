import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../../src/app/index.js';
import { parseConfig } from '../../src/config/index.js';
import { createTempRepo, makeTempDir, removeDir } from '../helpers/temp-repo.js';

/**
 * A local repository that cannot be a run's is refused when the job is submitted (or stored
 * in a schedule), against the real control plane: not queued to fail later.
 */

const TOKEN = `aas_${'repo0123456789abcdefghijklmnopqrstuvwxyzA'}`;

describe('submitting a job for a local path', () => {
  let server: RunningServer;
  const dirs: string[] = [];
  let repo: string;
  let plain: string;

  beforeAll(async () => {
    const home = makeTempDir('aas-submit-home-');
    plain = makeTempDir('aas-submit-plain-');
    repo = createTempRepo({ 'README.md': '# demo\n' });
    dirs.push(home, plain, repo);
    const config = parseConfig({
      env: { AAS_HOME: home, AAS_BOOTSTRAP_TOKEN: TOKEN, AAS_LOG_LEVEL: 'error' },
      cwd: home,
      overrides: { port: 0, workers: 0 },
    });
    server = await startServer(config, { hostEnv: process.env, nodePath: process.execPath });
  });
  afterAll(async () => {
    await server?.close();
    for (const dir of dirs) removeDir(dir);
  });

  const post = async (path: string, body: unknown) => {
    const response = await fetch(`${server.url}/api/v1${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return {
      status: response.status,
      body: (await response.json()) as {
        code?: string;
        message?: string;
        details?: Record<string, unknown>;
      },
    };
  };
  const job = (path: string) => ({ task: 't', repo: path, agent: 'mock' });

  it('a directory that is no git repository: 400 REPO_NOT_GIT, nothing queued', async () => {
    for (const path of ['/etc', plain]) {
      const { status, body } = await post('/sessions', job(path));
      expect(status).toBe(400);
      expect(body.code).toBe('REPO_NOT_GIT');
      expect(body.details?.field).toBe('repo');
    }
    const listed = await fetch(`${server.url}/api/v1/sessions`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(((await listed.json()) as { items: unknown[] }).items).toEqual([]);
  });

  it('a path that does not exist is still REPO_NOT_FOUND; a checkout is accepted', async () => {
    expect((await post('/sessions', job(`${plain}/nope`))).body.code).toBe('REPO_NOT_FOUND');
    expect((await post('/sessions', job(repo))).status).toBe(201);
  });

  it('a schedule for a directory that is no git repository is refused too', async () => {
    const { status, body } = await post('/schedules', {
      name: 'not-a-repo',
      timing: { kind: 'interval', everySec: 3600 },
      job: job(plain),
    });
    expect(status).toBe(400);
    expect(body.code).toBe('REPO_NOT_GIT');
    expect(body.details?.field).toBe('job.repo');
  });
});
