import { createRuntime, type Runtime } from '../app/index.js';
import { type AasConfig, type LogLevel, parseConfig } from '../config/index.js';
import type { CliIo } from './cli-io.js';

export interface GlobalOptions {
  readonly home?: string;
  readonly databaseUrl?: string;
  readonly logLevel?: LogLevel;
}

export function configFrom(io: CliIo, options: GlobalOptions): AasConfig {
  return parseConfig({
    env: io.env,
    cwd: io.cwd,
    overrides: {
      ...(options.home ? { home: options.home } : {}),
      ...(options.databaseUrl ? { databaseUrl: options.databaseUrl } : {}),
      ...(options.logLevel ? { logLevel: options.logLevel } : {}),
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
  const runtime = await createRuntime(configFrom(io, options), {
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
