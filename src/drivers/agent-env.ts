import { type AgentManifest, RESERVED_ENV_PREFIX } from './agent-manifest.js';
import type { AttemptPaths } from './attempt-paths.js';

/**
 * The control plane's own variables (its tokens, provider keys, database URL): never copied
 * into a sandbox, whatever a policy lists (a policy naming one is refused when it is read).
 */
const CONTROL_PLANE_ENV_PREFIX = 'AAS_';

/** Used unless the policy lets the host's PATH through. */
export const SAFE_DEFAULT_PATH = '/usr/local/bin:/usr/bin:/bin';

export interface AgentEnvInput {
  readonly manifest: AgentManifest;
  readonly hostEnv: Readonly<Record<string, string | undefined>>;
  /** Names that may pass from hostEnv; null = none. */
  readonly envAllow: readonly string[] | null;
  readonly paths: AttemptPaths;
  readonly workspaceDir: string;
  readonly baselineDir: string | undefined;
  readonly attempt: number;
  /** Variables AAS sets for services it provides (the model gateway); they beat the manifest's. */
  readonly serviceEnv?: Readonly<Record<string, string>>;
}

/**
 * The environment every sandboxed process starts from — agents and validators alike — built
 * from nothing, so the host's tokens and keys never leak by default: PATH (safe default), HOME
 * and TMPDIR inside the attempt directory, LANG=C.UTF-8, then the host variables named in
 * envAllow (PATH included, if allowed). `AEP_*` and `AAS_*` names and values with NUL never
 * pass.
 */
export function buildSandboxBaseEnv(input: {
  readonly hostEnv: Readonly<Record<string, string | undefined>>;
  readonly envAllow: readonly string[] | null;
  readonly home: string;
  readonly tmp: string;
}): Map<string, string> {
  // A Map, not an object literal: a variable called `__proto__` must stay a plain entry.
  const env = new Map<string, string>([
    ['PATH', SAFE_DEFAULT_PATH],
    ['HOME', input.home],
    ['TMPDIR', input.tmp],
    ['LANG', 'C.UTF-8'],
  ]);
  for (const name of input.envAllow ?? []) {
    if (
      name.startsWith(RESERVED_ENV_PREFIX) ||
      name.startsWith(CONTROL_PLANE_ENV_PREFIX) ||
      !Object.hasOwn(input.hostEnv, name)
    ) {
      continue;
    }
    const value = input.hostEnv[name];
    if (value !== undefined && !value.includes('\0')) env.set(name, value);
  }
  return env;
}

/**
 * The agent's complete environment. Later layers win:
 *   1. the sandbox base environment (see buildSandboxBaseEnv)
 *   2. the manifest's fixed env (operator configuration beats host pass-through)
 *   3. the service variables (the model gateway's address and placeholder key)
 *   4. the AEP_* variables, which nothing can shadow.
 */
export function buildAgentEnv(input: AgentEnvInput): Record<string, string> {
  const env = buildSandboxBaseEnv({
    hostEnv: input.hostEnv,
    envAllow: input.envAllow,
    home: input.paths.home,
    tmp: input.paths.tmp,
  });
  for (const [name, value] of Object.entries(input.manifest.env)) env.set(name, value);
  for (const [name, value] of Object.entries(input.serviceEnv ?? {})) env.set(name, value);

  env.set('AEP_RUN_DIR', input.paths.runDir);
  env.set('AEP_WORKSPACE', input.workspaceDir);
  env.set('AEP_ARTIFACT_DIR', input.paths.artifacts);
  env.set('AEP_JOB_SPEC', input.paths.jobSpec);
  env.set('AEP_RESULT_PATH', input.paths.result);
  env.set('AEP_EVENT_LOG', input.paths.eventLog);
  env.set('AEP_BASELINE', input.baselineDir ?? '');
  env.set('AEP_ATTEMPT', String(input.attempt));
  return Object.fromEntries(env);
}
