import { createRuntime, type Runtime } from '../app/index.js';
import { type AasConfig, type ConfigSources, type LogLevel, parseConfig } from '../config/index.js';
import type { CliIo } from './cli-io.js';
import { cliLogger } from './cli-logger.js';

export interface GlobalOptions {
  readonly home?: string;
  readonly databaseUrl?: string;
  readonly logLevel?: LogLevel;
  /** `--server`: `aas run` and `aas sessions` become clients of this AAS server. */
  readonly server?: string;
  /** `--token`: the bearer token for `--server`. */
  readonly token?: string;
}

/** `extra` carries a command's own flags that override configuration (e.g. `start --port`). */
export function configFrom(
  io: CliIo,
  options: GlobalOptions,
  extra: ConfigSources['overrides'] = {},
): AasConfig {
  return parseConfig({
    env: io.env,
    cwd: io.cwd,
    overrides: {
      ...extra,
      ...(options.home ? { home: options.home } : {}),
      ...(options.databaseUrl ? { databaseUrl: options.databaseUrl } : {}),
      ...(options.logLevel ? { logLevel: options.logLevel } : {}),
      ...(options.server ? { serverUrl: options.server } : {}),
      ...(options.token ? { token: options.token } : {}),
    },
  });
}

/**
 * Opens the runtime for one command and always closes it. Commands recover first (crashed runs
 * end explicitly, orphan workspaces go); read-only audits pass `recover: false` so they report
 * the store exactly as they found it.
 */
export async function withRuntime<T>(
  io: CliIo,
  options: GlobalOptions,
  body: (runtime: Runtime) => Promise<T>,
  settings: { recover?: boolean } = {},
): Promise<T> {
  const config = configFrom(io, options);
  const runtime = await createRuntime(config, {
    log: cliLogger(io.stderr, config.logLevel),
    recover: settings.recover ?? true,
    hostEnv: io.env,
    nodePath: io.nodePath,
  });
  try {
    return await body(runtime);
  } finally {
    await runtime.close();
  }
}
