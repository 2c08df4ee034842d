import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { jsonOf, runCli, runJob } from '../helpers/run-cli.js';
import { commitAll, createTempRepo, makeTempDir, removeDir } from '../helpers/temp-repo.js';

const cleanup: string[] = [];
afterAll(() => {
  for (const dir of cleanup) removeDir(dir);
});

function setup() {
  const home = makeTempDir('aas-home-');
  const repo = createTempRepo({ 'src/a.txt': 'a\n' });
  cleanup.push(home, repo);
  return { home, repo };
}

interface Failure {
  ok: false;
  error: {
    code: string;
    message: string;
    details: { file?: string; field?: string; hint?: string };
  };
}

describe('bad input: a clear message, the right exit code, and nothing half written', () => {
  it('missing flags are exit 2 before anything is recorded', async () => {
    const { home, repo } = setup();
    const noTask = await runCli(['run', '--repo', repo, '--agent', 'mock'], { home });
    expect(noTask.code).toBe(2);
    expect(noTask.stderr).toContain('missing --task');
    const unknownFlag = await runCli(['run', '--bogus'], { home });
    expect(unknownFlag.code).toBe(2);
    expect(unknownFlag.stderr).toContain("unknown option '--bogus'");
    const list = await runCli(['sessions', 'list', '--json'], { home });
    expect(JSON.parse(list.stdout)).toEqual([]);
  });

  it('a missing repository, a non-git directory and an unknown base end recorded, with their reason codes', async () => {
    const { home, repo } = setup();
    const plainDir = makeTempDir('aas-plain-');
    cleanup.push(plainDir);
    const cases = [
      { args: ['--repo', join(home, 'nope'), '--agent-cmd', 'true'], code: 'REPO_NOT_FOUND' },
      { args: ['--repo', plainDir, '--agent-cmd', 'true'], code: 'REPO_NOT_GIT' },
      {
        args: ['--repo', repo, '--agent-cmd', 'true', '--base', 'no-such-branch'],
        code: 'BASE_REF_UNKNOWN',
      },
    ];
    for (const testCase of cases) {
      const result = await runCli(['run', '--task', 'x', ...testCase.args, '--json'], { home });
      expect(result.code, testCase.code).toBe(2);
      const outcome = jsonOf<{ sessionId: string; status: string; reasonCode: string }>(result);
      expect(outcome).toMatchObject({ status: 'failed', reasonCode: testCase.code });
      const show = await runCli(['sessions', 'show', outcome.sessionId], { home });
      expect(show.stdout).toContain(`failed (${testCase.code})`);
    }
    // An unknown agent is refused before anything is recorded, as a server refuses it.
    const unknownAgent = await runCli(['run', '--task', 'x', '--repo', repo, '--agent', 'nope'], {
      home,
    });
    expect(unknownAgent.code).toBe(2);
    expect(unknownAgent.stderr).toContain('known agents');
  });

  it('an invalid policy file names the file and the field', async () => {
    const { home, repo } = setup();
    const policy = join(home, 'policy.yaml');
    writeFileSync(policy, 'limits:\n  timeoutSec: soon\n');
    const result = await runJob(home, repo, ['--agent-cmd', 'true', '--policy', policy, '--json']);
    expect(result.code).toBe(2);
    const failure = jsonOf<Failure>(result);
    expect(failure.error.code).toBe('POLICY_INVALID');
    expect(failure.error.details).toMatchObject({ file: policy, field: 'limits.timeoutSec' });
    const missing = await runJob(home, repo, [
      '--agent-cmd',
      'true',
      '--policy',
      join(home, 'absent.yaml'),
    ]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('absent.yaml');
  });

  it('an invalid job file names the file and the field', async () => {
    const { home } = setup();
    const job = join(home, 'job.yaml');
    writeFileSync(job, 'task: x\nrepo: .\nagent: mock\nretries: many\n');
    const result = await runCli(['run', '--job', job], { home });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      `${job}: retries: expected number, got "many" at line 4, column 1`,
    );

    // A required field the file misspelt: the unknown key and its line, not a missing flag.
    writeFileSync(job, 'task: x\nrepo: .\nagnet: mock\n');
    const misspelt = await runCli(['run', '--job', job], { home });
    expect(misspelt.code).toBe(2);
    expect(misspelt.stderr).toContain(`${job}: agnet: unknown field "agnet" at line 3, column 1`);
    expect(misspelt.stderr).toContain('did you mean "agent"?');
    writeFileSync(job, 'repo: .\nagent: mock\n');
    const missing = await runCli(['run', '--job', job], { home });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`${job}: task: task is required`);
    expect(missing.stderr).toContain('give task in the job file or with --task');

    // An unclosed quote is named where it opened; the parser alone names the end of the file.
    writeFileSync(job, 'task: "fix the bug\nrepo: .\nagent: mock\n');
    const unclosed = await runCli(['run', '--job', job], { home });
    expect(unclosed.code).toBe(2);
    expect(unclosed.stderr).toContain(
      `${job}: not valid YAML or JSON: the quote (") opened at line 1, column 7 is never closed`,
    );

    // A value a flag set is not the file's: no line of the file is named for it.
    writeFileSync(job, 'task: x\nrepo: .\nagent: mock\nretries: 3\n');
    const flagged = await runCli(['run', '--job', job, '--retries', '11'], { home });
    expect(flagged.code).toBe(2);
    expect(flagged.stderr).toContain(`${job}: retries: must be at most 10, got 11\n`);

    // An inline policy gets a policy file's words; a mock script is checked before any record.
    writeFileSync(job, 'task: x\nrepo: .\nagent: mock\npolicy:\n  network:\n    mode: open\n');
    const policy = await runCli(['run', '--job', job], { home });
    expect(policy.code).toBe(2);
    expect(policy.stderr).toContain(
      `${job}: policy.network.mode: unknown key "mode" at line 6, column 5`,
    );
    const input = join(home, 'input.json');
    writeFileSync(input, '{"mock": {"edits": [\n  {"path": "a.txt", "wirte": "x"}\n]}}\n');
    const script = await runCli(
      ['run', '--repo', '.', '--task', 'x', '--agent', 'mock', '--agent-input', input, '--json'],
      { home },
    );
    expect(script.code).toBe(2);
    expect(JSON.parse(script.stdout)).toMatchObject({
      error: {
        code: 'JOB_INVALID',
        details: { file: input, field: 'agentInput.mock.edits.0.wirte', line: 2, column: 21 },
      },
    });
    const list = await runCli(['sessions', 'list', '--json'], { home });
    expect(JSON.parse(list.stdout)).toEqual([]);
  });

  it('an invalid repository policy at the base commit blocks the run with POLICY_INVALID', async () => {
    const { home } = setup();
    const repo = createTempRepo({
      '.aas/policy.yaml': 'paths:\n  alow: ["src/**"]\n',
      'src/a.txt': 'a\n',
    });
    cleanup.push(repo);
    const result = await runJob(home, repo, ['--agent-cmd', 'echo b > src/b.txt', '--json']);
    expect(result.code).toBe(2);
    const outcome = jsonOf<{ reasonCode: string; detail: string }>(result);
    expect(outcome.reasonCode).toBe('POLICY_INVALID');
    expect(outcome.detail).toContain('.aas/policy.yaml');
    expect(outcome.detail).toContain('alow');

    // Committed as a symlink (to a file outside, say): never followed, and the policy's error.
    const linked = createTempRepo({ 'src/a.txt': 'a\n', 'policy.yaml': 'paths: {}\n' });
    cleanup.push(linked);
    mkdirSync(join(linked, '.aas'));
    symlinkSync('../policy.yaml', join(linked, '.aas', 'policy.yaml'));
    commitAll(linked, 'policy as a link');
    const viaLink = await runJob(home, linked, ['--agent-cmd', 'echo b > src/b.txt', '--json']);
    expect(viaLink.code, viaLink.stderr).toBe(2);
    const refused = jsonOf<{ reasonCode: string; detail: string }>(viaLink);
    expect(refused.reasonCode).toBe('POLICY_INVALID');
    expect(refused.detail).toMatch(/\.aas\/policy\.yaml at [0-9a-f]{12} is not a regular file/);
  });

  it('an invalid agent manifest names the file and the field, and stops only its own agent', async () => {
    const { home, repo } = setup();
    mkdirSync(join(home, 'agents'));
    const file = join(home, 'agents', 'broken.yaml');
    writeFileSync(file, 'id: broken\nentrypoint: 42\n');
    writeFileSync(
      join(home, 'agents', 'badpol.yaml'),
      'id: badpol\nentrypoint: /bin/true\npolicy:\n  paths: { alow: [src/**] }\n',
    );
    // Another agent runs; every command says which file serves no agent, and why.
    const other = await runCli(['run', '--repo', repo, '--task', 'x', '--agent-cmd', 'true'], {
      home,
    });
    expect(other.code, other.stderr).toBe(3);
    expect(other.stderr).toContain(
      `warning: agent manifest not used: Invalid input: expected string, received number at line 2, column 1 (file: ${file}, field: entrypoint)`,
    );
    const listed = await runCli(['sessions', 'list', '--json'], { home });
    expect(listed.code, listed.stderr).toBe(0);
    // The agent itself is refused with its file, field and line.
    const named = await runCli(['run', '--repo', repo, '--task', 'x', '--agent', 'broken'], {
      home,
    });
    expect(named.code).toBe(2);
    expect(named.stderr).toContain(
      `error [MANIFEST_INVALID]: ${file}: entrypoint: Invalid input: expected string, received number at line 2, column 1`,
    );
    // A policy layer the manifest carries is checked with it, not first when a run starts.
    const agents = await runCli(['agents'], { home });
    expect(agents.code).toBe(0);
    expect(agents.stdout).toMatch(/badpol\s+invalid manifest/);
    expect(agents.stdout).toMatch(/broken\s+invalid manifest/);
    expect(agents.stdout).toContain(
      `badpol: invalid manifest ${join(home, 'agents', 'badpol.yaml')}: policy.paths.alow:`,
    );
  });

  it('a driver that writes garbage, floods its output or exits non-zero after claiming success is not believed', async () => {
    const { home, repo } = setup();
    const floodPolicy = join(home, 'small-output.yaml');
    writeFileSync(floodPolicy, 'limits:\n  maxOutputBytes: 65536\n');
    const cases = [
      { misbehave: 'garbage-result', code: 'DRIVER_RESULT_INVALID', extra: [] },
      { misbehave: 'no-result', code: 'DRIVER_RESULT_INVALID', extra: [] },
      { misbehave: 'exit-nonzero', code: 'AGENT_FAILED', extra: [] },
      { misbehave: 'flood-output', code: 'AGENT_OUTPUT_LIMIT', extra: ['--policy', floodPolicy] },
    ];
    for (const testCase of cases) {
      const input = join(home, `${testCase.misbehave}.json`);
      writeFileSync(
        input,
        JSON.stringify({
          mock: { edits: [{ path: 'src/b.txt', write: 'b\n' }], misbehave: testCase.misbehave },
        }),
      );
      const result = await runJob(home, repo, [
        '--agent',
        'mock',
        '--agent-input',
        input,
        ...testCase.extra,
        '--json',
      ]);
      expect(result.code, testCase.misbehave).toBe(5);
      expect(jsonOf<{ reasonCode: string }>(result).reasonCode, testCase.misbehave).toBe(
        testCase.code,
      );
    }
  });

  it('a hanging agent is killed at the policy timeout', async () => {
    const { home, repo } = setup();
    const policy = join(home, 'fast.yaml');
    writeFileSync(policy, 'limits:\n  timeoutSec: 1\n');
    const result = await runJob(home, repo, [
      '--agent-cmd',
      'sleep 600',
      '--policy',
      policy,
      '--json',
    ]);
    expect(result.code).toBe(5);
    expect(jsonOf<{ reasonCode: string }>(result).reasonCode).toBe('AGENT_TIMEOUT');
  });

  it('a data directory that cannot be used is a configuration error, not an internal one', async () => {
    const { home } = setup();
    const file = join(home, 'not-a-dir');
    writeFileSync(file, 'x');
    const result = await runCli(['--home', file, 'sessions', 'list'], { home });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('CONFIG_INVALID');
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('an unknown session id is exit 2 with a hint', async () => {
    const { home } = setup();
    const notAnId = await runCli(['sessions', 'show', 'nope'], { home });
    expect(notAnId.code).toBe(2);
    const absent = await runCli(['sessions', 'show', 'ses_000000000000000000000000'], { home });
    expect(absent.code).toBe(2);
    expect(absent.stderr).toContain('NOT_FOUND');
    // A page cursor that is no session id is refused, not an empty page.
    const cursor = await runCli(['sessions', 'list', '--before', 'garbage'], { home });
    expect(cursor.code).toBe(2);
    expect(cursor.stderr).toContain(
      'error [INVALID_ARGUMENT]: --before: "garbage" is not a session id',
    );
  });

  it('names the setting, flag or file a bad value came from', async () => {
    const { home, repo } = setup();
    const policy = join(home, 'server-policy.yaml');
    writeFileSync(policy, 'paths:\n  alow: [x]\n');
    const listed = await runCli(['sessions', 'list'], { home, env: { AAS_POLICY: policy } });
    expect(listed.code).toBe(2);
    expect(listed.stderr).toContain(
      `error [POLICY_INVALID]: ${policy}: paths.alow: unknown key "alow" at line 2, column 3 (the server layer, AAS_POLICY)`,
    );
    expect(listed.stderr).toContain('fix it or unset AAS_POLICY');

    const explained = await runCli(['policy', 'explain', '--repo', repo, '--base', 'nosuch'], {
      home,
    });
    expect(explained.code).toBe(2);
    expect(explained.stderr).toContain(
      "error [BASE_REF_UNKNOWN]: --base: 'nosuch' is not a commit",
    );

    const envelope = join(home, 'attestation.json');
    writeFileSync(envelope, '{"payloadType":"a","payload":"b","signatures":[]}');
    const notAKey = join(home, 'not-a-key.pem');
    writeFileSync(notAKey, 'hello\n');
    const verified = await runCli(['verify', envelope, '--key', notAKey], { home });
    expect(verified.code).toBe(2);
    expect(verified.stderr).toContain(
      `error [INVALID_ARGUMENT]: ${notAKey}: --key: not a valid public key PEM`,
    );
  });

  it('an export into a file is refused naming DIR, not an internal error', async () => {
    const { home } = setup();
    const file = join(home, 'export.txt');
    writeFileSync(file, 'mine\n');
    const result = await runCli(['export', 'run_0123456789abcdef01234567', file], { home });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      `error [INVALID_ARGUMENT]: DIR: ${file} is a file, not a directory`,
    );
  });
});

describe('aas run: a job refused before anything is recorded', () => {
  it('a misspelt command, or an unknown agent: exit 2, a hint, and no session left behind', async () => {
    const { home, repo } = setup();
    const input = join(home, 'input.yaml');
    writeFileSync(input, 'comand: echo hi > src/b.txt\n');
    const misspelt = await runJob(home, repo, ['--agent', 'command', '--agent-input', input]);
    expect(misspelt.code).toBe(2);
    expect(misspelt.stderr).toMatch(/error \[JOB_INVALID\]: agentInput\.command: /);
    expect(misspelt.stderr).toContain('did you mean "command"? agentInput has "comand"');
    const unknown = await runJob(home, repo, ['--agent', 'no-such-agent']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('AGENT_UNKNOWN');
    const sessions = await runCli(['sessions', 'list', '--json'], { home });
    expect(jsonOf<unknown[]>(sessions)).toEqual([]);
  });
});
