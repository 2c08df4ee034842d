import { readdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { workspaceStrategySupport } from '../../src/workspaces/index.js';
import { bubblewrapSelfTest } from '../helpers/bubblewrap-self-test.js';
import { jsonOf, runCli } from '../helpers/run-cli.js';
import { createTempRepo, makeTempDir, removeDir } from '../helpers/temp-repo.js';

const selfTest = await bubblewrapSelfTest('sandbox e2e tests');

interface RunJson {
  sessionId: string;
  status: string;
  reasonCode: string;
  detail: string;
  exitCode: number;
}
interface EventJson {
  type: string;
  data: Record<string, unknown>;
}

const cleanup: string[] = [];
afterAll(() => {
  for (const dir of cleanup) removeDir(dir);
});

function setup() {
  const home = makeTempDir('aas-home-');
  const repo = createTempRepo({ 'README.md': '# demo\n' });
  cleanup.push(home, repo);
  return { home, repo };
}

function policyFile(dir: string, text: string): string {
  const path = join(dir, `policy-${Math.random().toString(16).slice(2)}.yaml`);
  writeFileSync(path, text);
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

const run = (home: string, repo: string, flags: string[], env: NodeJS.ProcessEnv = {}) =>
  runCli(['run', '--repo', repo, '--task', 'x', '--json', ...flags], { home, env });

describe.skipIf(!selfTest.ok)('sandbox policy seam', () => {
  it('runs agents in bubblewrap by default and records it', async () => {
    const { home, repo } = setup();
    const result = await run(home, repo, ['--agent-cmd', 'echo hi >> README.md']);
    expect(result.code, result.stderr).toBe(0);
    const recorded = await events(home, jsonOf<RunJson>(result).sessionId);
    const selected = recorded.find((event) => event.type === 'sandbox.selected');
    expect(selected?.data).toMatchObject({ backend: 'bubblewrap', isolating: true });
    // How the process cap, CPU and memory limits are enforced here is part of the record.
    expect(selected?.data.limits).toMatchObject({
      processCap: expect.stringMatching(/^(cgroup|rlimit|none)$/),
      cpu: expect.stringMatching(/^(tree|per-process)$/),
      memory: expect.stringMatching(/^(cgroup|none)$/),
    });
    expect(recorded.some((event) => event.type === 'sandbox.degraded')).toBe(false);
    expect(result.stderr).not.toContain('warning');
  });

  it('`required` refuses to run when bubblewrap is missing', async () => {
    const { home, repo } = setup();
    const policy = policyFile(home, 'sandbox: required\n');
    const result = await run(
      home,
      repo,
      ['--agent-cmd', 'echo hi >> README.md', '--policy', policy],
      { AAS_BWRAP: '/nonexistent/bwrap' },
    );
    expect(result.code).toBe(3);
    const outcome = jsonOf<RunJson>(result);
    expect(outcome.reasonCode).toBe('SANDBOX_UNAVAILABLE');
    expect(outcome.detail).toContain('/nonexistent/bwrap');
  });

  it('`preferred` degrades to the plain backend, records why and warns on stderr', async () => {
    const { home, repo } = setup();
    const result = await run(home, repo, ['--agent-cmd', 'echo hi >> README.md'], {
      AAS_BWRAP: '/nonexistent/bwrap',
    });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/warning: sandbox degraded.*\/nonexistent\/bwrap/);
    const recorded = await events(home, jsonOf<RunJson>(result).sessionId);
    expect(recorded.find((event) => event.type === 'sandbox.degraded')?.data).toMatchObject({
      backend: 'plain',
    });
  });

  it('`off` must be explicit, from the operator, and runs unconfined without a degradation warning', async () => {
    const { home, repo } = setup();
    const policy = policyFile(home, 'sandbox: off\n');
    // The job's own layer cannot switch the sandbox off: merged with the default, preferred.
    const asked = await run(home, repo, [
      '--agent-cmd',
      'echo hi >> README.md',
      '--policy',
      policy,
    ]);
    expect(asked.code, asked.stderr).toBe(0);
    const kept = await events(home, jsonOf<RunJson>(asked).sessionId);
    expect(kept.find((event) => event.type === 'sandbox.selected')?.data).toMatchObject({
      backend: 'bubblewrap',
      mode: 'preferred',
    });
    const result = await run(home, repo, ['--agent-cmd', 'echo hi >> README.md'], {
      AAS_POLICY: policy,
    });
    expect(result.code, result.stderr).toBe(0);
    const recorded = await events(home, jsonOf<RunJson>(result).sessionId);
    expect(recorded.find((event) => event.type === 'sandbox.selected')?.data).toMatchObject({
      backend: 'plain',
      mode: 'off',
    });
    expect(result.stderr).not.toContain('warning');
  });

  it('records allowed and refused connections of an allow-list sandbox', async () => {
    const { home, repo } = setup();
    const server: Server = createServer((_req, res) => res.end('fine'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    try {
      const port = (server.address() as AddressInfo).port;
      const policy = policyFile(home, `network:\n  allow: ["127.0.0.1:${port}"]\n`);
      const script = [
        `curl -fsS -m 10 --noproxy '' http://127.0.0.1:${port}/ >> README.md`,
        'curl -fsS -m 10 https://exfil.example.com/ >> README.md 2>/dev/null || true',
      ].join('; ');
      // The operator grants network (AAS_POLICY); a job's layer alone could not.
      const result = await run(home, repo, ['--agent-cmd', script], { AAS_POLICY: policy });
      expect(result.code, result.stderr).toBe(0);
      const recorded = await events(home, jsonOf<RunJson>(result).sessionId);
      expect(recorded.find((event) => event.type === 'network.allowed')?.data).toMatchObject({
        host: '127.0.0.1',
        port,
        phase: 'agent',
      });
      expect(recorded.find((event) => event.type === 'network.refused')?.data).toMatchObject({
        host: 'exfil.example.com',
        port: 443,
        phase: 'agent',
      });
    } finally {
      server.close();
    }
  });

  it('drops FIFOs an agent planted where host-side git would block on them', async () => {
    const { home, repo } = setup();
    const script =
      'mkdir -p sub/.git/objects sub/.git/refs && mkfifo sub/.git/HEAD .gitattributes && echo hi >> README.md';
    const result = await run(home, repo, ['--agent-cmd', script]);
    expect(result.code, result.stderr).toBe(0);
    const recorded = await events(home, jsonOf<RunJson>(result).sessionId);
    const computed = recorded.find((event) => event.type === 'patch.computed')?.data as {
      runtimeDropped: number | { path: string }[];
      files: { path: string }[];
    };
    expect(computed.files.map((file) => file.path)).toEqual(['README.md']);
  });

  it('ends a run that hits a resource limit with that limit as the reason', async () => {
    const { home, repo } = setup();
    const policy = policyFile(home, 'limits:\n  maxFileBytes: 100000\n');
    const result = await run(home, repo, [
      '--agent-cmd',
      'head -c 500000 /dev/zero > big.txt',
      '--policy',
      policy,
    ]);
    expect(result.code).toBe(5);
    expect(jsonOf<RunJson>(result).reasonCode).toBe('AGENT_FILE_SIZE_LIMIT');
  });
});

describe('aas doctor', () => {
  it('reports what the host supports', async () => {
    const home = makeTempDir('aas-home-');
    cleanup.push(home);
    const result = await runCli(['doctor', '--json'], { home });
    expect(result.code, result.stderr).toBe(0);
    const report = jsonOf<{ isolationAvailable: boolean; checks: { name: string }[] }>(result);
    expect(report.isolationAvailable).toBe(selfTest.ok);
    expect(report.checks.map((check) => check.name)).toContain('bubblewrap');
    expect(report.checks.map((check) => check.name)).toContain('memory limit');
    const text = await runCli(['doctor'], { home });
    expect(text.stdout).toContain('bubblewrap');
  });

  it('--require-sandbox exits 3 when bubblewrap is missing', async () => {
    const home = makeTempDir('aas-home-');
    cleanup.push(home);
    const result = await runCli(['doctor', '--require-sandbox'], {
      home,
      env: { AAS_BWRAP: '/nonexistent/bwrap' },
    });
    expect(result.code).toBe(3);
    expect(result.stdout).toContain('/nonexistent/bwrap');
    expect(result.stderr).toContain('SANDBOX_UNAVAILABLE');
  });
});

const overlay = await workspaceStrategySupport();

describe.skipIf(!overlay.overlay)('overlay workspaces through the CLI', () => {
  it('records the strategy, and aas gc evicts the cached checkout only when asked', async () => {
    const { home, repo } = setup();
    const result = await run(home, repo, ['--agent-cmd', 'echo hi >> README.md']);
    expect(result.code, result.stderr).toBe(0);
    const recorded = await events(home, jsonOf<RunJson>(result).sessionId);
    expect(recorded.find((event) => event.type === 'workspace.created')?.data).toMatchObject({
      strategy: 'overlay',
    });
    const cache = join(home, 'cache', 'checkouts');
    expect(readdirSync(cache).filter((name) => /^[0-9a-f]{40}$/.test(name))).toHaveLength(1);

    const young = await runCli(['gc', '--json'], { home });
    expect(young.code, young.stderr).toBe(0);
    expect(jsonOf<{ removedCheckouts: string[] }>(young).removedCheckouts).toEqual([]);

    const all = await runCli(['gc', '--cache-age', '0', '--json'], { home });
    expect(all.code, all.stderr).toBe(0);
    expect(jsonOf<{ removedCheckouts: string[] }>(all).removedCheckouts).toHaveLength(1);
    expect(readdirSync(cache).filter((name) => /^[0-9a-f]{40}$/.test(name))).toEqual([]);

    const bad = await runCli(['gc', '--cache-age', 'soon'], { home });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--cache-age');
  });
});
