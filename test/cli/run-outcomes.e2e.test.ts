import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { jsonOf, runCli, runJob } from '../helpers/run-cli.js';
import { createTempRepo, git, headCommit, makeTempDir, removeDir } from '../helpers/temp-repo.js';
import { describeTree, readTreeSnapshot } from '../workspaces/tree-snapshot.js';

interface RunJson {
  ok: boolean;
  sessionId: string;
  runId: string;
  status: string;
  reasonCode: string;
  detail: string;
  attempts: number;
  exitCode: number;
  baseCommit: string;
  patch: { sha256: string; path: string; files: { path: string; status: string }[] } | null;
}

interface EventJson {
  seq: number;
  type: string;
  data: Record<string, unknown>;
}

const cleanup: string[] = [];
afterAll(() => {
  for (const dir of cleanup) removeDir(dir);
});

function setup(files: Record<string, string> = {}) {
  const home = makeTempDir('aas-home-');
  const repo = createTempRepo({
    'README.md': '# demo\n',
    'src/app.js': 'export const answer = 41;\n',
    'test/app.test.sh': 'grep -q "answer = 42" src/app.js\n',
    ...files,
  });
  cleanup.push(home, repo);
  return { home, repo };
}

function writeYaml(dir: string, name: string, value: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(value, null, 2));
  return path;
}

async function events(home: string, sessionId: string): Promise<EventJson[]> {
  const result = await runCli(['sessions', 'events', sessionId, '--json'], { home });
  expect(result.code, result.stderr).toBe(0);
  return result.stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as EventJson);
}

describe('aas run: outcomes', () => {
  it('command driver: ready for promotion, and the patch artifact reproduces the workspace on a clean base', async () => {
    const { home, repo } = setup({
      'docs/old-name.md': 'a document that will be renamed\nwith two lines\n',
      'tmp.txt': 'to delete\n',
    });
    const base = headCommit(repo);
    const script = [
      "printf 'export const answer = 42;\\n' > src/app.js",
      "printf 'no newline at end' > src/raw.txt",
      "printf 'crlf\\r\\nline\\r\\n' > src/crlf.txt",
      'mkdir -p src/deep/nested && printf "#!/bin/sh\\necho hi\\n" > src/deep/nested/run.sh && chmod +x src/deep/nested/run.sh',
      'mv docs/old-name.md docs/new-name.md',
      'rm tmp.txt',
      'mkdir -p node_modules/x && echo cache > node_modules/x/index.js',
      'ln -s app.js src/link.js',
    ].join(' && ');
    const result = await runCli(
      [
        'run',
        '--repo',
        repo,
        '--task',
        'bump the answer',
        '--agent-cmd',
        script,
        '--validate',
        'sh test/app.test.sh',
        '--keep-workspace',
        '--json',
      ],
      { home },
    );
    expect(result.code, result.stderr + result.stdout).toBe(0);
    const outcome = jsonOf<RunJson>(result);
    expect(outcome).toMatchObject({
      status: 'ready_for_promotion',
      reasonCode: 'GATES_PASSED',
      baseCommit: base,
      exitCode: 0,
    });
    expect(outcome.patch?.path).toBe(join(home, 'artifacts', `${outcome.patch?.sha256}.patch`));
    const statuses = Object.fromEntries(outcome.patch?.files.map((f) => [f.path, f.status]) ?? []);
    expect(statuses).toMatchObject({
      'src/app.js': 'modified',
      'tmp.txt': 'deleted',
      'docs/new-name.md': 'renamed',
      'src/link.js': 'added',
    });
    expect(Object.keys(statuses).some((p) => p.startsWith('node_modules'))).toBe(false);

    // Apply the artifact to a clean checkout of the recorded base with real git.
    const clone = makeTempDir('aas-clone-');
    cleanup.push(clone);
    git(clone, ['clone', '-q', repo, '.']);
    git(clone, ['checkout', '-q', '--detach', base]);
    git(clone, ['apply', '--whitespace=nowarn', outcome.patch?.path ?? '']);
    const workspace = join(home, 'runs', outcome.runId, 'attempt-1', 'workspace');
    const expected = readTreeSnapshot(workspace);
    for (const path of [...expected.keys()])
      if (path.startsWith('node_modules/')) expected.delete(path);
    expect(describeTree(readTreeSnapshot(clone))).toEqual(describeTree(expected));

    // The user's repository was never written: same HEAD, clean status, no new refs.
    expect(headCommit(repo)).toBe(base);
    expect(git(repo, ['status', '--porcelain'])).toBe('');

    // A kept workspace survives the recovery every later command runs, until `gc --kept`.
    expect((await runCli(['sessions', 'list'], { home })).code).toBe(0);
    expect(existsSync(join(workspace, 'src', 'app.js'))).toBe(true);
    const gc = await runCli(['gc', '--kept', '--json'], { home });
    expect(gc.code, gc.stderr).toBe(0);
    expect(existsSync(join(workspace, 'src', 'app.js'))).toBe(false);
  });

  it('mock driver: a failing validator is retried with the gate feedback, and the retry succeeds', async () => {
    const { home, repo } = setup();
    const input = writeYaml(home, 'mock.json', {
      mock: {
        attempts: [
          { edits: [{ path: 'src/app.js', write: 'export const answer = 40;\n' }] },
          {
            edits: [{ path: 'src/app.js', write: 'export const answer = 42;\n' }],
            echoFeedbackTo: 'src/feedback.json',
          },
        ],
      },
    });
    const result = await runCli(
      [
        'run',
        '--repo',
        repo,
        '--task',
        'fix the answer',
        '--agent',
        'mock',
        '--agent-input',
        input,
        '--validate',
        'sh test/app.test.sh',
        '--retries',
        '1',
        '--json',
      ],
      { home },
    );
    expect(result.code, result.stderr + result.stdout).toBe(0);
    const outcome = jsonOf<RunJson>(result);
    expect(outcome).toMatchObject({ status: 'ready_for_promotion', attempts: 2 });
    // The second attempt received the first attempt's failing validator as feedback.
    const patch = readFileSync(outcome.patch?.path ?? '', 'utf8');
    expect(patch).toContain('validator:validator-1');
    const log = await events(home, outcome.sessionId);
    const types = log.map((e) => e.type);
    expect(types.filter((t) => t === 'run.attempt.started')).toHaveLength(2);
    expect(types).toContain('run.retry.scheduled');
    expect(log.find((e) => e.type === 'gate.failed')?.data.gate).toBe('validator:validator-1');
    expect(log.map((e) => e.seq)).toEqual(log.map((_, i) => i + 1));
  });

  it('falls back to another agent, which runs under its own merged policy', async () => {
    const { home, repo } = setup();
    mkdirSync(join(home, 'agents'), { recursive: true });
    writeFileSync(
      join(home, 'agents', 'careful.yaml'),
      [
        'id: careful',
        'description: a command agent with a narrow policy',
        'entrypoint: /bin/sh',
        'args: ["-c", "printf \'export const answer = 42;\\n\' > src/app.js"]',
        'result: exit-code',
        'policy:',
        '  paths:',
        '    allow: ["src/**"]',
        '  limits:',
        '    maxChangedFiles: 3',
      ].join('\n'),
    );
    const result = await runCli(
      [
        'run',
        '--repo',
        repo,
        '--task',
        'fix',
        '--agent-cmd',
        'exit 9',
        '--fallback-agent',
        'careful',
        '--json',
      ],
      { home },
    );
    expect(result.code, result.stderr + result.stdout).toBe(0);
    const outcome = jsonOf<RunJson>(result);
    expect(outcome.attempts).toBe(2);
    const log = await events(home, outcome.sessionId);
    expect(log.find((e) => e.type === 'run.fallback.started')?.data).toMatchObject({
      agentId: 'careful',
      previousAgentId: 'command',
    });
    const policies = log.filter((e) => e.type === 'policy.resolved').map((e) => e.data);
    expect(policies.map((p) => p.agentId)).toEqual(['command', 'careful']);
    const layerNames = (p: Record<string, unknown>) =>
      (p.layers as { name: string }[]).map((l) => l.name);
    expect(layerNames(policies[0] ?? {})).not.toContain('agent:careful');
    expect(layerNames(policies[1] ?? {})).toContain('agent:careful');
    expect(policies[1]?.effective).toMatchObject({ limits: { maxChangedFiles: 3 } });
  });

  it('blocks a patch that touches a forbidden path, records why, and does not retry', async () => {
    const { home, repo } = setup();
    const result = await runCli(
      [
        'run',
        '--repo',
        repo,
        '--task',
        'leak',
        '--agent-cmd',
        'echo TOKEN=1 > .env && echo x >> src/app.js',
        '--retries',
        '2',
        '--json',
      ],
      { home },
    );
    expect(result.code).toBe(3);
    const outcome = jsonOf<RunJson>(result);
    expect(outcome).toMatchObject({
      status: 'blocked',
      reasonCode: 'POLICY_DENIED',
      attempts: 1,
      patch: null,
    });
    expect(outcome.detail).toContain('.env');
    const log = await events(home, outcome.sessionId);
    expect(log.find((e) => e.type === 'policy.denied')?.data).toMatchObject({
      path: '.env',
      layer: 'floor',
      rule: '**/.[eE][nN][vV]*',
    });
  });

  it('blocks when a validator keeps failing after every retry', async () => {
    const { home, repo } = setup();
    const result = await runCli(
      [
        'run',
        '--repo',
        repo,
        '--task',
        'try',
        '--agent-cmd',
        'echo "// touched" >> src/app.js',
        '--validate',
        'sh test/app.test.sh',
        '--retries',
        '1',
        '--json',
      ],
      { home },
    );
    expect(result.code).toBe(3);
    expect(jsonOf<RunJson>(result)).toMatchObject({
      status: 'blocked',
      reasonCode: 'GATE_FAILED',
      attempts: 2,
    });
  });

  it('never auto-promotes a patch the agent sent to human review', async () => {
    const { home, repo } = setup();
    const input = writeYaml(home, 'mock.json', {
      mock: {
        edits: [{ path: 'src/app.js', write: 'export const answer = 42;\n' }],
        result: { recommendedAction: 'human_review', summary: 'unsure' },
      },
    });
    const result = await runJob(home, repo, ['--agent', 'mock', '--agent-input', input, '--json']);
    expect(result.code).toBe(4);
    expect(jsonOf<RunJson>(result)).toMatchObject({
      status: 'human_review',
      reasonCode: 'HUMAN_REVIEW_REQUESTED',
    });
  });

  it('ends failed when the agent fails every attempt, and blocked when it changes nothing', async () => {
    const { home, repo } = setup();
    const failed = await runJob(home, repo, [
      '--agent-cmd',
      'echo oops >&2; exit 7',
      '--retries',
      '1',
      '--json',
    ]);
    expect(failed.code).toBe(5);
    expect(jsonOf<RunJson>(failed)).toMatchObject({
      status: 'failed',
      reasonCode: 'AGENT_FAILED',
      attempts: 2,
    });
    const empty = await runJob(home, repo, ['--agent-cmd', 'true', '--json']);
    expect(empty.code).toBe(3);
    expect(jsonOf<RunJson>(empty)).toMatchObject({ status: 'blocked', reasonCode: 'EMPTY_PATCH' });
  });

  it('refuses a dirty base unless asked, then snapshots it into a real commit', async () => {
    const { home, repo } = setup();
    writeFileSync(join(repo, 'src/app.js'), 'export const answer = 42; // uncommitted\n');
    const refused = await runJob(home, repo, ['--agent-cmd', 'echo y > src/y.txt', '--json']);
    expect(refused.code).toBe(2);
    expect(jsonOf<RunJson>(refused)).toMatchObject({ status: 'failed', reasonCode: 'BASE_DIRTY' });
    expect(jsonOf<RunJson>(refused).detail).toContain('src/app.js');

    const allowed = await runJob(home, repo, [
      '--agent-cmd',
      'echo y > src/y.txt',
      '--allow-dirty-base',
      '--validate',
      'sh test/app.test.sh',
      '--json',
    ]);
    expect(allowed.code, allowed.stderr).toBe(0);
    const outcome = jsonOf<RunJson>(allowed);
    expect(outcome.baseCommit).not.toBe(headCommit(repo));
    expect(outcome.patch?.files.map((f) => f.path)).toEqual(['src/y.txt']);
    // The user's checkout is untouched: still dirty, same HEAD.
    expect(git(repo, ['status', '--porcelain']).trim()).toBe('M src/app.js');
  });

  it('prints phase lines with timings and a diffstat for a person', async () => {
    const { home, repo } = setup();
    const result = await runJob(home, repo, [
      '--agent-cmd',
      "printf 'export const answer = 42;\\n' > src/app.js",
      '--validate',
      'sh test/app.test.sh',
    ]);
    expect(result.code, result.stderr).toBe(0);
    for (const phase of [
      'base',
      'policy',
      'sandbox',
      'attempt 1',
      'workspace',
      'agent',
      'patch',
      'gate',
      'validator:validator-1',
      'decision  ready_for_promotion',
      'src/app.js | 2 +-',
    ]) {
      expect(result.stdout).toContain(phase);
    }
    expect(result.stdout).toMatch(/agent\s+succeeded.*\d+ ms/);
  });
});
