import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createRuntime, type Runtime } from '../../src/app/index.js';
import { parseConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/kernel/index.js';
import { REPO_ROOT } from './run-cli.js';
import { createTempRepo, makeTempDir, removeDir } from './temp-repo.js';

/**
 * A pinned agent CLI from npm, installed once under node_modules/.cache (which `npm ci`
 * clears) without install scripts; `binary` names the native binary inside the install.
 */
export function installPinnedCli(
  pkg: string,
  version: string,
  binary: (prefix: string) => string,
): string {
  const prefix = join(
    REPO_ROOT,
    'node_modules',
    '.cache',
    'aas-test-agents',
    `${pkg.replace(/[@/]/g, '_')}-${version}`,
  );
  const bin = binary(prefix);
  if (!existsSync(bin)) {
    mkdirSync(prefix, { recursive: true });
    execFileSync(
      'npm',
      [
        'install',
        '--prefix',
        prefix,
        '--no-audit',
        '--no-fund',
        '--ignore-scripts',
        `${pkg}@${version}`,
      ],
      { stdio: 'ignore', timeout: 300_000 },
    );
  }
  return bin;
}

/** Every regular file under `dir` (big ones skipped), to search for a leaked secret. */
export function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name))
    .filter((path) => statSync(path).size < 5_000_000);
}

export interface AgentHarness {
  readonly runtime: Runtime;
  readonly home: string;
  readonly repo: string;
  close(): Promise<void>;
}

/**
 * A scripted model listening on loopback, a fresh AAS_HOME and repository, and a runtime whose
 * configuration `env` builds from the model's origin (provider key, base URL, agent binary).
 */
export async function startAgentHarness(
  model: Server,
  env: (origin: string) => Record<string, string>,
): Promise<AgentHarness> {
  await new Promise<void>((resolve) => model.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(model.address() as AddressInfo).port}`;
  const home = makeTempDir('aas-agent-home-');
  const repo = createTempRepo({ 'README.md': '# demo\n' });
  const runtime = await createRuntime(
    parseConfig({ env: { AAS_HOME: home, ...env(origin) }, cwd: home }),
    {
      hostEnv: { PATH: '/usr/bin:/bin' },
      nodePath: process.execPath,
      log: silentLogger,
      recover: false,
    },
  );
  return {
    runtime,
    home,
    repo,
    async close() {
      await runtime.close();
      await new Promise<void>((resolve) => model.close(() => resolve()));
      removeDir(home);
      removeDir(repo);
    },
  };
}
