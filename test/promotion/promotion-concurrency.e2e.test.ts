import { spawn } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI_PATH, jsonOf, runCli } from '../helpers/run-cli.js';
import {
  newBootstrapToken,
  type ServerProcess,
  startServerProcess,
} from '../helpers/server-process.js';
import { createTempRepo, git, makeTempDir, removeDir } from '../helpers/temp-repo.js';
import { POSTGRES_REQUIRED, storeDialects } from '../store/dialects.js';

/**
 * Single writer across processes: promotions of one target branch never write at the same
 * time, whether two CLI processes share a SQLite file or two servers share PostgreSQL; and a
 * promotion killed half-way is finished by a retry without a second commit or branch.
 *
 * The remote's pre-receive hook sleeps, so each push is slow and two unserialised promotions
 * would overlap for certain.
 */

const FIX = "sed -i 's/answer = 41/answer = 42/' src/app.js";
const cleanup: string[] = [];
const servers: ServerProcess[] = [];

afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.child.kill('SIGKILL');
    await server.exited;
  }
  for (const dir of cleanup.splice(0)) removeDir(dir);
});

function repoWithSlowRemote(hookSleepSec: number): { repo: string; remote: string } {
  const repo = createTempRepo({
    'README.md': '# demo\n',
    'src/app.js': 'export const answer = 41;\n',
  });
  const remoteDir = makeTempDir('aas-conc-remote-');
  const remote = join(remoteDir, 'origin.git');
  git(remoteDir, ['clone', '-q', '--bare', repo, remote]);
  git(repo, ['remote', 'add', 'origin', remote]);
  const hook = join(remote, 'hooks', 'pre-receive');
  writeFileSync(hook, `#!/bin/sh\ncat >/dev/null\nsleep ${hookSleepSec}\n`);
  chmodSync(hook, 0o755);
  cleanup.push(repo, remoteDir);
  return { repo, remote };
}

interface Interval {
  runId: string;
  acquiredAt: string;
  completedAt: string;
  token: number;
}

function intervalOf(
  events: readonly { type: string; at: string; data: unknown }[],
  runId: string,
): Interval {
  const ofRun = events.filter((event) => (event.data as { runId?: string }).runId === runId);
  const acquired = ofRun.filter((event) => event.type === 'promotion.lease.acquired').at(-1);
  const completed = ofRun.find((event) => event.type === 'promotion.completed');
  if (acquired === undefined || completed === undefined)
    throw new Error(`no promotion of ${runId}`);
  return {
    runId,
    acquiredAt: acquired.at,
    completedAt: completed.at,
    token: (acquired.data as { fencingToken: number }).fencingToken,
  };
}

function expectSerial(a: Interval, b: Interval): void {
  const [first, second] = a.acquiredAt <= b.acquiredAt ? [a, b] : [b, a];
  expect(second.acquiredAt >= first.completedAt, JSON.stringify({ first, second })).toBe(true);
  expect(second.token).toBeGreaterThan(first.token);
}

describe('promotions of one target across processes', () => {
  it('two `aas promote` processes on one SQLite file take turns', async () => {
    const { repo, remote } = repoWithSlowRemote(1);
    const home = makeTempDir('aas-conc-home-');
    cleanup.push(home);
    // The policy asks for no approval here, explicitly: this test is about the writer lease.
    const runs: string[] = [];
    const sessions: string[] = [];
    for (let i = 0; i < 2; i += 1) {
      const ran = await runCli(
        [
          'run',
          '--repo',
          repo,
          '--task',
          `change ${i}`,
          '--agent-cmd',
          i === 0 ? FIX : 'echo more >> README.md',
          '--json',
        ],
        { home, env: { AAS_POLICY: policyFile(home) } },
      );
      expect(ran.code, ran.stderr).toBe(0);
      const ids = jsonOf<{ runId: string; sessionId: string }>(ran);
      runs.push(ids.runId);
      sessions.push(ids.sessionId);
    }
    const both = await Promise.all(
      runs.map((runId) =>
        runCli(['promote', runId, '--mode', 'branch', '--json'], {
          home,
          env: { AAS_POLICY: policyFile(home) },
        }),
      ),
    );
    for (const result of both) expect(result.code, result.stderr).toBe(0);
    const events = await eventsOf(home, sessions[0] ?? '');
    const otherEvents = await eventsOf(home, sessions[1] ?? '');
    expectSerial(intervalOf(events, runs[0] ?? ''), intervalOf(otherEvents, runs[1] ?? ''));
    const branches = git(repo, [
      '--git-dir',
      remote,
      'for-each-ref',
      '--format=%(refname:short)',
      'refs/heads',
    ]);
    expect(branches.trim().split('\n').sort()).toHaveLength(3);
  });

  it('a promotion killed half-way is finished by a retry: one commit, one branch', async () => {
    const { repo, remote } = repoWithSlowRemote(3);
    const home = makeTempDir('aas-conc-home-');
    cleanup.push(home);
    const env = { AAS_POLICY: policyFile(home), AAS_PROMOTION_LEASE_MS: '2000' };
    const { runId, sessionId } = await promoteAndKillMidPush(home, repo, env);
    const half = await eventsOf(home, sessionId);
    expect(half.map((event) => event.type)).not.toContain('promotion.completed');

    const retry = await runCli(['promote', runId, '--json'], { home, env });
    expect(retry.code, retry.stderr + retry.stdout).toBe(0);
    const result = jsonOf<{ branch: string; commitSha: string; status: string }>(retry);
    expect(result.status).toBe('promoted');
    const branches = git(repo, [
      '--git-dir',
      remote,
      'for-each-ref',
      '--format=%(refname:short) %(objectname)',
      'refs/heads',
    ]);
    expect(branches.trim().split('\n').sort()).toEqual(
      [
        `${result.branch} ${result.commitSha}`,
        `main ${git(repo, ['rev-parse', 'main']).trim()}`,
      ].sort(),
    );
    expect(
      git(repo, ['--git-dir', remote, 'rev-list', '--count', `main..${result.branch}`]).trim(),
    ).toBe('1');
    const events = await eventsOf(home, sessionId);
    expect(events.filter((event) => event.type === 'promotion.committed')).toHaveLength(1);
    expect(events.filter((event) => event.type === 'promotion.completed')).toHaveLength(1);
  });
});

describe('a promotion abandoned by a crash', () => {
  it('is finished by a server that starts on the same data, without a second commit', async () => {
    const { repo, remote } = repoWithSlowRemote(3);
    const home = makeTempDir('aas-conc-home-');
    cleanup.push(home);
    const env = {
      AAS_POLICY: policyFile(home),
      AAS_PROMOTION_LEASE_MS: '2000',
      AAS_RUN_LEASE_MS: '2000',
    };
    const { runId, sessionId } = await promoteAndKillMidPush(home, repo, env);

    const server = await startServerProcess({
      home,
      token: newBootstrapToken(),
      env,
      args: ['--workers', '0'],
    });
    servers.push(server);
    let status = '';
    for (let i = 0; i < 300 && status !== 'promoted'; i += 1) {
      const body = (await (await server.api(`/api/v1/runs/${runId}`)).json()) as {
        run: { status: string };
      };
      status = body.run.status;
      if (status !== 'promoted') await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(status).toBe('promoted');
    const promotion = (await (await server.api(`/api/v1/runs/${runId}/promotion`)).json()) as {
      branch: string;
      commitSha: string;
    };
    expect(git(repo, ['--git-dir', remote, 'rev-parse', promotion.branch]).trim()).toBe(
      promotion.commitSha,
    );
    expect(
      git(repo, ['--git-dir', remote, 'rev-list', '--count', `main..${promotion.branch}`]).trim(),
    ).toBe('1');
    const events = await eventsOf(home, sessionId);
    expect(events.filter((event) => event.type === 'promotion.committed')).toHaveLength(1);
    expect(events.filter((event) => event.type === 'promotion.completed')).toHaveLength(1);
  });
});

const [, postgres] = await storeDialects();

describe.skipIf(!postgres?.available)('two servers sharing PostgreSQL', () => {
  it('promotions of one target through different servers take turns', async () => {
    if (postgres === undefined) throw new Error('no PostgreSQL dialect');
    const database = await postgres.open();
    const { repo } = repoWithSlowRemote(1);
    const home = makeTempDir('aas-conc-replicas-');
    cleanup.push(home);
    try {
      const token = newBootstrapToken();
      const env = {
        AAS_DATABASE_URL: database.databaseUrl ?? '',
        AAS_POLICY: policyFile(home),
      };
      // Replicas share the data directory (patches and attestations are files there).
      for (let i = 0; i < 2; i += 1) {
        servers.push(await startServerProcess({ home, token, env, args: ['--workers', '1'] }));
      }
      const [a, b] = servers;
      if (a === undefined || b === undefined) throw new Error('servers missing');
      const runIds: string[] = [];
      for (const [i, server] of [a, b].entries()) {
        const response = await server.api('/api/v1/sessions', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            task: `change ${i}`,
            repo,
            agent: 'command',
            agentInput: { command: i === 0 ? FIX : 'echo more >> README.md' },
            promotion: { mode: 'branch', targetBranch: 'main' },
          }),
        });
        expect(response.status).toBe(201);
        runIds.push(((await response.json()) as { runId: string }).runId);
      }
      for (const runId of runIds) {
        for (let i = 0; i < 300; i += 1) {
          const run = (await (await a.api(`/api/v1/runs/${runId}`)).json()) as {
            run: { status: string };
          };
          if (run.run.status === 'ready_for_promotion') break;
          expect(['queued', 'running']).toContain(run.run.status);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
      const outcomes = await Promise.all(
        runIds.map((runId, i) =>
          (i === 0 ? a : b).api(`/api/v1/runs/${runId}/promote`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: '{}',
          }),
        ),
      );
      for (const outcome of outcomes)
        expect(outcome.status, await outcome.clone().text()).toBe(200);
      const intervals: Interval[] = [];
      for (const runId of runIds) {
        const run = (await (await a.api(`/api/v1/runs/${runId}`)).json()) as {
          run: { sessionId: string };
        };
        const page = (await (
          await a.api(`/api/v1/sessions/${run.run.sessionId}/events?limit=1000`)
        ).json()) as {
          items: { type: string; at: string; data: unknown }[];
        };
        intervals.push(intervalOf(page.items, runId));
      }
      const [first, second] = intervals;
      if (first === undefined || second === undefined) throw new Error('intervals missing');
      expectSerial(first, second);
    } finally {
      await database.cleanup();
    }
  });
});

if (POSTGRES_REQUIRED && !postgres?.available) {
  throw new Error(`PostgreSQL is required: ${postgres?.unavailableReason ?? 'unknown'}`);
}

function policyFile(home: string): string {
  const path = join(home, 'server-policy.yaml');
  writeFileSync(path, 'promotion:\n  approvals: 0\n');
  return path;
}

async function eventsOf(
  home: string,
  sessionId: string,
): Promise<{ type: string; at: string; data: unknown }[]> {
  const result = await runCli(['sessions', 'events', sessionId, '--json'], { home });
  return result.stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as { type: string; at: string; data: unknown });
}

/**
 * Runs a job, starts `aas promote --mode branch` on it and kills that process with SIGKILL once
 * the commit is recorded, while the (slow) push is still running.
 */
async function promoteAndKillMidPush(
  home: string,
  repo: string,
  env: Record<string, string>,
): Promise<{ runId: string; sessionId: string }> {
  const ran = await runCli(['run', '--repo', repo, '--task', 'x', '--agent-cmd', FIX, '--json'], {
    home,
    env,
  });
  const ids = jsonOf<{ runId: string; sessionId: string }>(ran);
  const child = spawn(process.execPath, [CLI_PATH, 'promote', ids.runId, '--mode', 'branch'], {
    cwd: home,
    env: { ...process.env, AAS_HOME: home, ...env },
    stdio: 'ignore',
  });
  for (let i = 0; i < 200; i += 1) {
    if ((await eventsOf(home, ids.sessionId)).some((e) => e.type === 'promotion.committed')) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  child.kill('SIGKILL');
  await new Promise((resolve) => child.on('exit', resolve));
  return ids;
}
