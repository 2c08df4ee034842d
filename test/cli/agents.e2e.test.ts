import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { jsonOf, REPO_ROOT, runCli } from '../helpers/run-cli.js';
import { createTempRepo, makeTempDir, removeDir } from '../helpers/temp-repo.js';

const cleanup: string[] = [];
afterAll(() => {
  for (const dir of cleanup) removeDir(dir);
});

interface AgentStatus {
  id: string;
  kind: string;
  installed: boolean;
  usable: boolean;
  program: string | null;
  version: string | null;
  problems: string[];
}

/** An npm-style install of the Gemini CLI: its package.json says which version it is. */
function fakeGeminiInstall(root: string): string {
  const pkg = join(root, 'node_modules', '@google', 'gemini-cli');
  mkdirSync(join(pkg, 'bundle'), { recursive: true });
  writeFileSync(join(pkg, 'package.json'), '{"name":"@google/gemini-cli","version":"0.61.0"}');
  const bin = join(pkg, 'bundle', 'gemini.js');
  writeFileSync(bin, '#!/bin/sh\necho 0.61.0\n');
  chmodSync(bin, 0o755);
  return bin;
}

describe('aas agents: every driver, whether it is installed and usable here', () => {
  const home = makeTempDir('aas-agents-');
  cleanup.push(home);
  const geminiBin = fakeGeminiInstall(home);
  const env = {
    // Nothing of the agents' on this PATH: each is found only where it is configured.
    PATH: '/usr/bin:/bin',
    AAS_AIDER_BIN: join(REPO_ROOT, 'test', 'helpers', 'stand-ins', 'aider'),
    AAS_GEMINI_BIN: geminiBin,
    AAS_OPENHANDS_BIN: join(home, 'no-such-openhands'),
  };

  it('lists installed, missing and misconfigured agents with what to do, in JSON and as a table', async () => {
    const listed = await runCli(['agents', '--json'], { home, env });
    expect(listed.code, listed.stderr).toBe(0);
    const agents = jsonOf<AgentStatus[]>(listed);
    const byId = new Map(agents.map((agent) => [agent.id, agent]));
    expect([...byId.keys()]).toEqual(
      expect.arrayContaining(['aider', 'claude-code', 'codex', 'command', 'gemini', 'mock']),
    );
    expect(byId.get('mock')).toMatchObject({ kind: 'built-in', installed: true, usable: true });
    expect(byId.get('claude-code')).toMatchObject({ installed: false, usable: false });
    expect(byId.get('claude-code')?.problems[0]).toContain('AAS_CLAUDE_CODE_BIN');
    expect(byId.get('openhands')?.problems[0]).toContain(
      `AAS_OPENHANDS_BIN=${join(home, 'no-such-openhands')} is not an executable file`,
    );
    // Installed, but no provider key: not usable, and the variable to set is named.
    expect(byId.get('aider')).toMatchObject({ kind: 'cli', installed: true, usable: false });
    expect(byId.get('aider')?.problems).toEqual([
      'calls the openai API: set AAS_OPENAI_API_KEY where AAS runs',
    ]);
    expect(byId.get('gemini')).toMatchObject({
      installed: true,
      version: '0.61.0',
      program: geminiBin,
    });

    const withKeys = await runCli(['agents', '--json'], {
      home,
      env: { ...env, AAS_OPENAI_API_KEY: 'sk-x', AAS_GEMINI_API_KEY: 'g-x' },
    });
    const usable = jsonOf<AgentStatus[]>(withKeys).filter((agent) => agent.usable);
    expect(usable.map((agent) => agent.id)).toEqual(['aider', 'command', 'gemini', 'mock']);

    const table = await runCli(['agents'], { home, env });
    expect(table.stdout).toMatch(/^AGENT\s+STATUS\s+VERSION\s+PROGRAM/m);
    expect(table.stdout).toMatch(/^claude-code\s+not installed/m);
    expect(table.stdout).toMatch(/^aider\s+unusable/m);
    expect(table.stdout).toMatch(/^mock\s+ready/m);
    expect(table.stdout).toContain('PROBLEMS');
  });

  it("lists a file that tries to redefine a built-in agent among that agent's problems, serving the built-in", async () => {
    const own = makeTempDir('aas-agents-redefined-');
    cleanup.push(own);
    mkdirSync(join(own, 'agents'));
    const file = join(own, 'agents', 'mock.yaml');
    writeFileSync(file, 'id: mock\nentrypoint: /bin/true\nresult: exit-code\n');
    const listed = await runCli(['agents', '--json'], { home: own, env });
    expect(listed.code, listed.stderr).toBe(0);
    const mock = jsonOf<AgentStatus[]>(listed).find((agent) => agent.id === 'mock');
    expect(mock).toMatchObject({ kind: 'built-in', usable: true });
    expect(mock?.problems).toEqual([
      expect.stringContaining(`a manifest was refused (this agent is served without it): ${file}`),
    ]);
    expect(mock?.problems[0]).toContain('cannot be redefined');
    const table = await runCli(['agents'], { home: own, env });
    expect(table.stdout).toMatch(/^mock\s+ready/m);
    expect(table.stdout).toMatch(/PROBLEMS\n(.*\n)*\s+mock: a manifest was refused .*mock\.yaml/);
  });

  it('a run asking for an agent that is not installed ends AGENT_UNAVAILABLE (exit 3), saying how to install it', async () => {
    const repo = createTempRepo({ 'a.txt': 'a\n' });
    cleanup.push(repo);
    const result = await runCli(
      ['run', '--repo', repo, '--task', 'x', '--agent', 'claude-code', '--json'],
      { home, env },
    );
    expect(result.code).toBe(3);
    const outcome = jsonOf<{
      sessionId: string;
      status: string;
      reasonCode: string;
      detail: string;
    }>(result);
    expect(outcome).toMatchObject({ status: 'blocked', reasonCode: 'AGENT_UNAVAILABLE' });
    expect(outcome.detail).toContain('`claude` is not on PATH');
    // The history keeps what to do about it.
    const events = await runCli(['sessions', 'events', outcome.sessionId, '--json'], {
      home,
      env,
    });
    expect(events.stdout).toContain('npm install -g @anthropic-ai/claude-code');
    expect(events.stdout).toContain('AAS_CLAUDE_CODE_BIN');
  });
});
