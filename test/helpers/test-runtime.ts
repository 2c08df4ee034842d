import { createRuntime, type Runtime } from '../../src/app/index.js';
import { parseConfig } from '../../src/config/index.js';
import { type Clock, type Logger, silentLogger } from '../../src/kernel/index.js';

/**
 * A runtime in this process on `home` (SQLite), as a CLI command opens one but without crash
 * recovery and with a silent log; `env` adds configuration (AAS_REPO_PATHS, …).
 */
export function openTestRuntime(
  home: string,
  options: { env?: Record<string, string>; clock?: Clock; log?: Logger } = {},
): Promise<Runtime> {
  return createRuntime(parseConfig({ env: { AAS_HOME: home, ...options.env }, cwd: home }), {
    hostEnv: {},
    nodePath: process.execPath,
    log: options.log ?? silentLogger,
    recover: false,
    ...(options.clock === undefined ? {} : { clock: options.clock }),
  });
}
