import { join } from 'node:path';

const SAFE_PATH = '/usr/local/bin:/usr/bin:/bin';

/**
 * The environment of a validator process: a fixed minimal base plus only the host variables the
 * merged policy names. Secrets the control plane holds are never in it unless a policy says so.
 */
export function validatorEnv(input: {
  hostEnv: Readonly<Record<string, string | undefined>>;
  envAllow: readonly string[] | null;
  attemptDir: string;
}): Record<string, string> {
  const env: Record<string, string> = {
    PATH: SAFE_PATH,
    HOME: join(input.attemptDir, 'home'),
    TMPDIR: join(input.attemptDir, 'tmp'),
    LANG: 'C.UTF-8',
  };
  for (const name of input.envAllow ?? []) {
    const value = input.hostEnv[name];
    if (value !== undefined) env[name] = value;
  }
  return env;
}
