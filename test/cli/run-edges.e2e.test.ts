import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI_PATH, jsonOf, runCli, runJob } from '../helpers/run-cli.js';
import { createTempRepo, git, makeTempDir, removeDir } from '../helpers/temp-repo.js';

interface RunJson {
  sessionId: string;
  status: string;
  reasonCode: string;
  detail: string;
  attempts: number;
  patch: { files: { path: string }[] } | null;
}

const cleanup: string[] = [];
afterAll(() => {
  for (const dir of cleanup) removeDir(dir);
});

function setup() {
  const home = makeTempDir('aas-home-');
  const repo = createTempRepo({
    'src/app.js': 'export const answer = 41;\n',
    'README.md': '# r\n',
  });
  cleanup.push(home, repo);
  return { home, repo };
}

function mockInput(home: string, name: string, script: unknown): string {
  const path = join(home, name);
  writeFileSync(path, JSON.stringify({ mock: script }));
  return path;
}

describe('aas run: what the agent says about its own work', () => {
  it('retries when the agent asks for another attempt', async () => {
    const { home, repo } = setup();
    const input = mockInput(home, 'retry.json', {
      attempts: [
        {
          edits: [{ path: 'src/app.js', write: 'half\n' }],
          result: { recommendedAction: 'retry', summary: 'not done yet' },
        },
        { edits: [{ path: 'src/app.js', write: 'export const answer = 42;\n' }] },
      ],
    });
    const result = await runJob(home, repo, [
      '--agent',
      'mock',
      '--agent-input',
      input,
      '--retries',
      '1',
      '--json',
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(jsonOf<RunJson>(result)).toMatchObject({ status: 'ready_for_promotion', attempts: 2 });
  });

  it('sends a partial success to human review, never to promotion', async () => {
    const { home, repo } = setup();
    const input = mockInput(home, 'partial.json', {
      edits: [{ path: 'src/app.js', write: 'x\n' }],
      result: { status: 'partial', summary: 'some of it' },
    });
    const result = await runJob(home, repo, ['--agent', 'mock', '--agent-input', input, '--json']);
    expect(result.code).toBe(4);
    expect(jsonOf<RunJson>(result)).toMatchObject({
      status: 'human_review',
      reasonCode: 'HUMAN_REVIEW_REQUESTED',
    });
  });
});

describe('aas run: gates at the edges', () => {
  it('blocks a symlink that points at a forbidden file, even from an allowed path', async () => {
    const { home, repo } = setup();
    const result = await runJob(home, repo, [
      '--agent-cmd',
      'ln -s ../.env src/config.txt',
      '--json',
    ]);
    expect(result.code).toBe(3);
    const outcome = jsonOf<RunJson>(result);
    expect(outcome).toMatchObject({ status: 'blocked', reasonCode: 'POLICY_DENIED' });
    expect(outcome.detail).toContain('src/config.txt');
  });

  it('a validator that times out denies (GATE_ERROR), and the run is blocked', async () => {
    const { home, repo } = setup();
    const job = join(home, 'job.yaml');
    writeFileSync(
      job,
      `task: x\nrepo: ${JSON.stringify(repo)}\nagent: command\nagentInput: { command: "echo y > src/y.txt" }\nvalidators:\n  - { name: slow, command: "sleep 30", timeoutSec: 1 }\n`,
    );
    const result = await runCli(['run', '--job', job, '--json'], { home });
    expect(result.code).toBe(3);
    const outcome = jsonOf<RunJson>(result);
    expect(outcome).toMatchObject({ status: 'blocked', reasonCode: 'GATE_ERROR' });
    expect(outcome.detail).toContain('validator:slow');
  });

  it("enforces a fallback agent's own narrower policy", async () => {
    const { home, repo } = setup();
    mkdirSync(join(home, 'agents'));
    writeFileSync(
      join(home, 'agents', 'narrow.yaml'),
      'id: narrow\nentrypoint: /bin/sh\nargs: ["-c", "echo doc > README.md"]\nresult: exit-code\npolicy:\n  paths:\n    allow: ["src/**"]\n',
    );
    const result = await runJob(home, repo, [
      '--agent-cmd',
      'exit 1',
      '--fallback-agent',
      'narrow',
      '--json',
    ]);
    expect(result.code).toBe(3);
    const outcome = jsonOf<RunJson>(result);
    expect(outcome).toMatchObject({ status: 'blocked', reasonCode: 'POLICY_DENIED', attempts: 2 });
    expect(outcome.detail).toContain('README.md');
  });

  it('validates every agent before the first attempt', async () => {
    const { home, repo } = setup();
    mkdirSync(join(home, 'agents'));
    writeFileSync(
      join(home, 'agents', 'bad.yaml'),
      'id: bad\nentrypoint: /bin/true\npolicy:\n  paths:\n    alow: ["src/**"]\n',
    );
    const result = await runJob(home, repo, [
      '--agent-cmd',
      'echo y > src/y.txt',
      '--fallback-agent',
      'bad',
      '--json',
    ]);
    expect(result.code).toBe(2);
    // The manifest's policy is checked as the file is read: refused before anything is
    // recorded, with its file, field and line, as any bad input.
    expect(jsonOf<{ ok: boolean; error: unknown }>(result)).toMatchObject({
      ok: false,
      error: {
        code: 'MANIFEST_INVALID',
        details: {
          file: join(home, 'agents', 'bad.yaml'),
          field: 'policy.paths.alow',
          line: 5,
          column: 5,
        },
      },
    });
    const sessions = await runCli(['sessions', 'list', '--json'], { home });
    expect(JSON.parse(sessions.stdout)).toEqual([]);
  });
});

describe('aas run: flags and defaults', () => {
  it('refuses --agent-cmd together with --agent-input, and odd counts', async () => {
    const { home, repo } = setup();
    const both = await runJob(home, repo, [
      '--agent-cmd',
      'true',
      '--agent-input',
      join(home, 'x.json'),
    ]);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('--agent-input');
    for (const retries of ['', '0x2', '1e1', '-1']) {
      const odd = await runJob(home, repo, ['--agent-cmd', 'true', '--retries', retries]);
      expect(odd.code, retries).toBe(2);
    }
  });

  it.skipIf(process.getuid?.() !== 0)(
    "says that another user's data directory is theirs, not a write problem to fix (as uid 65534)",
    async () => {
      const outer = makeTempDir('aas-others-home-');
      cleanup.push(outer);
      chmodSync(outer, 0o755);
      const home = join(outer, 'home');
      expect((await runCli(['sessions', 'list'], { home, cwd: outer })).code).toBe(0);
      // The same data directory, asked for by another OS user.
      const other = spawnSync(process.execPath, [CLI_PATH, 'sessions', 'list', '--home', home], {
        uid: 65534,
        gid: 65534,
        cwd: outer,
        encoding: 'utf8',
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      });
      expect(other.status, other.stderr).toBe(2);
      expect(other.stderr).toContain('error [CONFIG_INVALID]: AAS_HOME:');
      expect(other.stderr).toContain('(it belongs to uid 0)');
      expect(other.stderr).toContain('a data directory serves the OS user that owns it');
    },
  );

  it('runs from inside the repository with the default data directory there', async () => {
    const { repo } = setup();
    const result = await runCli(
      ['run', '--repo', '.', '--task', 'x', '--agent-cmd', 'echo y > src/y.txt', '--json'],
      {
        home: repo,
        cwd: repo,
        env: { AAS_HOME: '' },
      },
    );
    expect(result.code, result.stderr + result.stdout).toBe(0);
    const outcome = jsonOf<RunJson>(result);
    expect(outcome.patch?.files.map((f) => f.path)).toEqual(['src/y.txt']);
    // The data directory is in the checkout but never part of the base: the run was not dirty.
    const events = await runCli(['sessions', 'events', outcome.sessionId, '--json'], {
      home: repo,
      cwd: repo,
      env: { AAS_HOME: '' },
    });
    const base =
      events.stdout.split('\n').find((line) => line.includes('"run.base.resolved"')) ?? '';
    expect(JSON.parse(base).data).toMatchObject({ snapshot: false, dirtyPaths: [] });
    expect(
      git(repo, ['status', '--porcelain', '--untracked-files=all'])
        .split('\n')
        .every((l) => l === '' || l.includes('.aas/')),
    ).toBe(true);
  });

  it('runs again in the same checkout, and a dirty snapshot takes no keys, no other home and no dotenv', async () => {
    const { repo } = setup();
    const inRepo = { home: repo, cwd: repo, env: { AAS_HOME: '' } };
    const run = (command: string, ...flags: string[]) =>
      runCli(
        ['run', '--repo', '.', '--task', 'x', '--agent-cmd', command, '--json', ...flags],
        inRepo,
      );
    const first = await run('echo 1 > src/one.txt');
    expect(first.code, first.stderr + first.stdout).toBe(0);
    // What the first run wrote into ./.aas (a cache of checkouts among it) is not dirt.
    const second = await run('echo 2 > src/two.txt');
    expect(second.code, second.stderr + second.stdout).toBe(0);

    // Things an agent must not see, even with --allow-dirty-base: this home's key, the files of
    // another home at the repository's .aas, and untracked key and dotenv files.
    mkdirSync(join(repo, '.aas', 'keys'), { recursive: true });
    writeFileSync(join(repo, '.aas', 'keys', 'signing-key.pem'), 'PRIVATE-KEY-BYTES\n');
    writeFileSync(join(repo, '.env'), 'SECRET=hunter2\n');
    writeFileSync(join(repo, 'src', 'server.key'), 'KEY-BYTES\n');
    writeFileSync(join(repo, 'notes.txt'), 'work in progress\n');
    const otherHome = makeTempDir('aas-home-');
    cleanup.push(otherHome);
    const snapshot = await runJob(otherHome, repo, [
      '--agent-cmd',
      'ls -a .aas > seen.txt 2>&1; cat .env src/server.key notes.txt >> seen.txt 2>&1; true',
      '--allow-dirty-base',
      '--json',
    ]);
    expect(snapshot.code, snapshot.stderr + snapshot.stdout).toBe(0);
    const patch = readFileSync(jsonOf<{ patch: { path: string } }>(snapshot).patch.path, 'utf8');
    expect(patch).toContain('work in progress');
    for (const secret of ['PRIVATE-KEY-BYTES', 'hunter2', 'KEY-BYTES', 'signing-key', 'aas.db']) {
      expect(patch, secret).not.toContain(secret);
    }
  });

  it('takes no agents, keys or database a repository commits under the default data directory', async () => {
    // A cloned repository that ships an "agent" whose layer would switch the sandbox off.
    const repo = createTempRepo({
      'src/app.js': 'export const answer = 41;\n',
      '.aas/policy.yaml': 'limits: { timeoutSec: 600 }\n',
      '.aas/agents/helper.yaml': [
        'id: helper',
        'entrypoint: /bin/sh',
        "args: ['-c', 'true']",
        'policy: { sandbox: off, network: full }',
      ].join('\n'),
    });
    cleanup.push(repo);
    const asInRepo = { home: repo, cwd: repo, env: { AAS_HOME: '' } };
    const refused = await runCli(
      ['run', '--repo', '.', '--task', 'x', '--agent-cmd', 'true'],
      asInRepo,
    );
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(
      `error [CONFIG_INVALID]: AAS_HOME: the data directory ${join(repo, '.aas')} holds files the repository commits (agents/helper.yaml)`,
    );
    // The repository's own policy layer is at home there: committing only it is fine.
    git(repo, ['rm', '-q', '--cached', '.aas/agents/helper.yaml']);
    git(repo, ['commit', '-q', '-m', 'no agents']);
    const ran = await runCli(
      ['run', '--repo', '.', '--task', 'x', '--agent-cmd', 'echo y > src/y.txt', '--json'],
      asInRepo,
    );
    expect(ran.code, ran.stderr).toBe(0);
  });

  it('no command at all is a usage error', async () => {
    const { home } = setup();
    expect((await runCli([], { home })).code).toBe(2);
    expect((await runCli(['sessions'], { home })).code).toBe(2);
  });
});

describe('cancellation', () => {
  it('SIGINT stops the agent and records the run as cancelled (exit 130)', async () => {
    const { home, repo } = setup();
    const child = spawn(
      process.execPath,
      [CLI_PATH, 'run', '--repo', repo, '--task', 'x', '--agent-cmd', 'sleep 600'],
      {
        env: { ...process.env, AAS_HOME: home },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    const started = Date.now();
    while (!stdout.includes('attempt 1')) {
      if (Date.now() - started > 30_000) throw new Error(`the run did not start:\n${stdout}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(130);
    expect(stdout).toContain('decision  cancelled (CANCELLED)');
    const sessionId = /session (ses_[0-9a-f]{24})/.exec(stdout)?.[1] ?? '';
    const show = await runCli(['sessions', 'show', sessionId], { home });
    expect(show.stdout).toContain('cancelled (CANCELLED)');
  });

  it('a reader that goes away (`aas run … | head -1`) stops the run as a Ctrl-C does, recorded cancelled', async () => {
    const { home, repo } = setup();
    // The agent's end prints more progress into the closed pipe; the validator would outlast
    // any test unless that stops the run.
    const child = spawn(
      process.execPath,
      [
        CLI_PATH,
        'run',
        '--repo',
        repo,
        '--task',
        'x',
        '--agent-cmd',
        'sleep 5; echo b > b.txt',
        '--validate',
        'sleep 600',
      ],
      { env: { ...process.env, AAS_HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const firstLine = await new Promise<string>((resolve) => {
      let buffered = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        buffered += chunk;
        const end = buffered.indexOf('\n');
        if (end >= 0) {
          child.stdout.destroy();
          resolve(buffered.slice(0, end));
        }
      });
    });
    const sessionId = /session (ses_[0-9a-f]{24})/.exec(firstLine)?.[1] ?? '';
    expect(sessionId, firstLine).not.toBe('');
    await new Promise((resolve) => child.on('close', resolve));
    const show = await runCli(['sessions', 'show', sessionId], { home });
    expect(show.stdout).toContain('cancelled (CANCELLED)');
  });

  it('so does a reader of `aas demo` that goes away: its run is not left running', async () => {
    const { home } = setup();
    const child = spawn(process.execPath, [CLI_PATH, 'demo'], {
      env: { ...process.env, AAS_HOME: home },
      cwd: home,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    await new Promise<void>((resolve) => {
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        if (chunk.includes('\n')) {
          child.stdout.destroy();
          resolve();
        }
      });
    });
    await new Promise((resolve) => child.on('close', resolve));
    const list = await runCli(['sessions', 'list', '--json'], { home });
    const sessions = JSON.parse(list.stdout) as { status: string }[];
    expect(sessions.map((item) => item.status)).toEqual(['cancelled']);
  });

  it('lists the sessions of a repository however its path is spelled', async () => {
    const { home, repo } = setup();
    const link = join(home, 'repo-link');
    symlinkSync(repo, link);
    const ran = await runCli(
      ['run', '--repo', link, '--task', 't', '--agent-cmd', 'echo b > b.txt'],
      {
        home,
      },
    );
    expect(ran.code, ran.stderr).toBe(0);
    for (const spelling of [repo, `${repo}/`, join(repo, 'src'), link]) {
      const listed = await runCli(['sessions', 'list', '--json', '--repo', spelling], { home });
      const sessions = JSON.parse(listed.stdout) as { repo: string }[];
      expect(
        sessions.map((session) => session.repo),
        spelling,
      ).toEqual([repo]);
    }
  });
});
