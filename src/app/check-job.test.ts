import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinManifests, createAgentRegistry } from '../drivers/index.js';
import { parseJobSpec } from '../runner/index.js';
import { openStore, type Store } from '../store/index.js';
import { ANY_REPO_PATH } from '../workspaces/index.js';
import { checkSubmittable } from './check-job.js';

describe('checkSubmittable', () => {
  let dir: string;
  let store: Store;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'aas-check-job-'));
    store = await openStore({ sqlitePath: join(dir, 'aas.db') });
  });
  afterAll(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const registry = () =>
    createAgentRegistry({ builtins: builtinManifests({ nodePath: process.execPath }), dirs: [] });
  const rule = { hosts: ['github.com'], privateNetworks: false };

  it('refuses at submission a repository URL whose host the rule leaves out', async () => {
    const deps = { registry: await registry(), store };
    const job = (repo: string) => parseJobSpec({ task: 't', repo, agent: 'mock' });
    await checkSubmittable(deps, job('https://github.com/o/r.git'), rule, ANY_REPO_PATH);
    // file:// names this host's files, as a path does: no host to allow.
    await checkSubmittable(deps, job('file:///srv/r'), rule, ANY_REPO_PATH);
    await expect(
      checkSubmittable(deps, job('http://169.254.169.254/latest'), rule, ANY_REPO_PATH),
    ).rejects.toMatchObject({
      code: 'JOB_INVALID',
      details: { field: 'repo' },
      message: expect.stringMatching(/169\.254\.169\.254 is not among the allowed hosts/),
    });
  });

  it('refuses a local repository, as a path or a file:// URL, outside AAS_REPO_PATHS', async () => {
    const deps = { registry: await registry(), store };
    const inside = join(dir, 'allowed', 'repo');
    mkdirSync(inside, { recursive: true });
    execFileSync('git', ['init', '-q', inside]);
    const roots = { roots: [join(dir, 'allowed')] };
    const job = (repo: string) => parseJobSpec({ task: 't', repo, agent: 'mock' });
    await checkSubmittable(deps, job(inside), rule, roots);
    await checkSubmittable(deps, job(pathToFileURL(inside).href), rule, roots);
    for (const repo of [dir, '/etc', pathToFileURL(dir).href, join(dir, 'allowed', '..')]) {
      await expect(checkSubmittable(deps, job(repo), rule, roots)).rejects.toMatchObject({
        code: 'JOB_INVALID',
        details: { field: 'repo', hint: expect.stringMatching(/AAS_REPO_PATHS/) },
      });
    }
    // A listed directory inside a larger work tree: the run would work on the whole tree.
    const tree = join(dir, 'tree');
    mkdirSync(join(tree, '.git'), { recursive: true });
    mkdirSync(join(tree, 'listed', 'sub'), { recursive: true });
    const nested = { roots: [join(tree, 'listed')] };
    await expect(
      checkSubmittable(deps, job(join(tree, 'listed', 'sub')), rule, nested),
    ).rejects.toMatchObject({ code: 'JOB_INVALID', details: { field: 'repo' } });
    // file:// forms a URL parser and git read differently are refused under a rule.
    symlinkSync(dir, join(dir, 'allowed', 'out'));
    for (const url of [
      `file://otherhost${inside}`,
      `file://${inside.replaceAll('/', '%2f')}`,
      `file://${join(dir, 'allowed')}/out/../allowed/repo`,
      `file://${inside}/.`,
    ]) {
      await expect(checkSubmittable(deps, job(url), rule, roots), url).rejects.toMatchObject({
        code: 'JOB_INVALID',
        details: { field: 'repo' },
      });
    }
    // Missing inside a root: reported missing; outside, refused without saying whether it exists.
    await expect(
      checkSubmittable(deps, job(join(inside, 'nope')), rule, roots),
    ).rejects.toMatchObject({ code: 'REPO_NOT_FOUND' });
    await expect(
      checkSubmittable(deps, job('/no/such/repository'), rule, roots),
    ).rejects.toMatchObject({ code: 'JOB_INVALID' });
  });

  it('refuses a local directory that is no git repository, as the run would', async () => {
    const deps = { registry: await registry(), store };
    const plain = join(dir, 'plain');
    mkdirSync(plain, { recursive: true });
    for (const repo of [plain, '/etc']) {
      const job = parseJobSpec({ task: 't', repo, agent: 'mock' });
      await expect(checkSubmittable(deps, job, rule, ANY_REPO_PATH)).rejects.toMatchObject({
        code: 'REPO_NOT_GIT',
        details: { field: 'repo' },
      });
    }
    // A URL is not read at submission, file:// included: whoever runs the job fetches it.
    await checkSubmittable(
      deps,
      parseJobSpec({ task: 't', repo: pathToFileURL(plain).href, agent: 'mock' }),
      rule,
      ANY_REPO_PATH,
    );
  });

  it('refuses a command agent job without its command, also as a fallback', async () => {
    const deps = { registry: await registry(), store };
    const repo = join(dir, 'checkout');
    mkdirSync(repo, { recursive: true });
    execFileSync('git', ['init', '-q', repo]);
    for (const fields of [
      { agent: 'command' },
      { agent: 'command', agentInput: { command: '  ' } },
      { agent: 'mock', fallbackAgents: ['command'] },
      { agent: 'command', agentInput: { command: 'echo \0' } },
    ]) {
      const job = parseJobSpec({ task: 't', repo, ...fields });
      await expect(checkSubmittable(deps, job, rule, ANY_REPO_PATH)).rejects.toMatchObject({
        code: 'JOB_INVALID',
        details: { field: 'agentInput.command' },
      });
    }
    const given = parseJobSpec({
      task: 't',
      repo,
      agent: 'command',
      agentInput: { command: 'true' },
    });
    await checkSubmittable(deps, given, rule, ANY_REPO_PATH);
  });

  it('refuses a pin no run could ever follow: by id, to a revoked worker, to an embedded slot', async () => {
    const deps = { registry: await registry(), store };
    const sha = (text: string) => text.padEnd(64, '0').replace(/[^0-9a-f]/g, 'a');
    await store.createWorkerEnrolment({
      id: 'enr_000000000000000000000001',
      name: 'gpu-1',
      labels: [],
      secretSha256: sha('e1'),
      createdAt: '2026-01-01T00:00:00.000Z',
      createdBy: 'admin',
      expiresAt: '2999-01-01T00:00:00.000Z',
    });
    const worker = await store.registerWorker({
      enrolmentSecretSha256: sha('e1'),
      nowIso: '2026-01-01T00:00:01.000Z',
      workerId: 'wrk_000000000000000000000001',
      credentialSha256: sha('c1'),
      capabilities: { agents: ['mock'], sandbox: [] },
    });
    const pinned = (worker: string) =>
      parseJobSpec({ task: 't', repo: 'https://github.com/o/r.git', agent: 'mock', worker });
    await checkSubmittable(deps, pinned('gpu-1'), rule, ANY_REPO_PATH);
    // A worker may enrol under it later.
    await checkSubmittable(deps, pinned('not-enrolled-yet'), rule, ANY_REPO_PATH);
    // An embedded slot's id lasts as long as its server process.
    await expect(
      checkSubmittable(deps, pinned('worker:vm-3:4242:1'), rule, ANY_REPO_PATH),
    ).rejects.toMatchObject({
      code: 'JOB_INVALID',
      details: { field: 'worker', hint: expect.stringContaining('AAS_WORKER_LABELS') },
      message: expect.stringMatching(/^worker worker:vm-3:4242:1 is an embedded worker/),
    });
    await expect(
      checkSubmittable(deps, pinned(worker.id), rule, ANY_REPO_PATH),
    ).rejects.toMatchObject({
      code: 'JOB_INVALID',
      details: { field: 'worker', hint: 'use "worker": "gpu-1"' },
    });
    await store.revokeWorker('gpu-1', '2026-01-02T00:00:00.000Z');
    await expect(
      checkSubmittable(deps, pinned('gpu-1'), rule, ANY_REPO_PATH),
    ).rejects.toMatchObject({
      code: 'JOB_INVALID',
      details: { field: 'worker' },
      message: expect.stringMatching(/^worker gpu-1 was revoked/),
    });
  });
});
