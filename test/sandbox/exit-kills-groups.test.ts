import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { makeTempDir, removeDir } from '../helpers/temp-repo.js';

/**
 * Agents start in process groups of their own (detached), so nothing ends them with the process
 * that started them. A control plane or worker that exits at once (a second Ctrl-C) must still
 * take them along: with the plain backend no sandbox would.
 */

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) removeDir(dir);
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('a process that exits while its agents run', () => {
  it('kills their process groups on the way out', async () => {
    const dir = makeTempDir('aas-exit-groups-');
    dirs.push(dir);
    const pidFile = join(dir, 'agent.pid');
    const script = join(dir, 'starter.ts');
    const sandbox = resolve('src/sandbox/index.ts');
    const kernel = resolve('src/kernel/index.ts');
    writeFileSync(
      script,
      `import { existsSync } from 'node:fs';
import { systemClock } from ${JSON.stringify(kernel)};
import { createPlainBackend } from ${JSON.stringify(sandbox)};
const backend = createPlainBackend({ clock: systemClock });
void backend.launch({
  command: '/bin/sh',
  args: ['-c', 'echo $$ > ${pidFile}; exec sleep 300'],
  cwd: ${JSON.stringify(dir)},
  env: { PATH: '/usr/bin:/bin' },
  timeoutMs: 300_000,
  stdoutPath: ${JSON.stringify(join(dir, 'out'))},
  stderrPath: ${JSON.stringify(join(dir, 'err'))},
  maxOutputBytes: 10_000,
});
const started = setInterval(() => {
  if (!existsSync(${JSON.stringify(pidFile)})) return;
  clearInterval(started);
  // As cli/main.ts does on a second signal.
  process.exit(130);
}, 10);
`,
    );
    const result = spawnSync(process.execPath, ['--import', 'tsx', script], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(result.status, result.stderr).toBe(130);
    expect(existsSync(pidFile)).toBe(true);
    const agentPid = Number(readFileSync(pidFile, 'utf8').trim());
    expect(agentPid).toBeGreaterThan(0);
    // SIGKILL is delivered asynchronously; the agent is gone once the kernel reaps it.
    await vi.waitFor(() => expect(alive(agentPid)).toBe(false), { timeout: 10_000 });
  });
});
