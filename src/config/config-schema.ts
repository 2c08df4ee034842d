import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { AasError } from '../kernel/index.js';

export const LogLevel = {
  debug: 'debug',
  info: 'info',
  warn: 'warn',
  error: 'error',
  silent: 'silent',
} as const;
export type LogLevel = (typeof LogLevel)[keyof typeof LogLevel];

const DEFAULT_LEASE_MS = 30_000;

/** Variables AAS reads. Documented in the README's configuration table. */
export const CONFIG_ENV_VARS = {
  AAS_HOME: 'data directory (database, runs, artifacts); default ./.aas',
  AAS_DATABASE_URL: 'postgres://… to use PostgreSQL instead of SQLite at $AAS_HOME/aas.db',
  AAS_LOG_LEVEL: 'debug | info | warn | error | silent; default warn for the CLI',
  AAS_AGENTS_DIR:
    'extra agent manifest directories, separated by ":"; $AAS_HOME/agents is always read',
  AAS_POLICY: 'a server policy layer file applied to every run, right after the built-in floor',
  AAS_RUN_LEASE_MS: 'how long a run lease lasts without renewal before recovery may end the run',
  AAS_BWRAP: 'the bubblewrap binary that sandboxes agents and validators; default /usr/bin/bwrap',
  AAS_WORKSPACE_STRATEGY:
    'auto | overlay | worktree: how workspaces are prepared; auto uses an overlay mount where the host allows it',
} as const;

export const WorkspaceStrategySetting = {
  auto: 'auto',
  overlay: 'overlay',
  worktree: 'worktree',
} as const;
export type WorkspaceStrategySetting =
  (typeof WorkspaceStrategySetting)[keyof typeof WorkspaceStrategySetting];

const ConfigSchema = z
  .object({
    home: z.string().min(1),
    databaseUrl: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must start with postgres:// or postgresql://')
      .optional(),
    logLevel: z.enum(['debug', 'info', 'warn', 'error', 'silent']),
    agentsDirs: z.array(z.string().min(1)),
    serverPolicyFile: z.string().min(1).optional(),
    runLeaseMs: z.number().int().min(1_000).max(3_600_000),
    bwrapPath: z.string().min(1).refine(isAbsolute, 'must be an absolute path').optional(),
    workspaceStrategy: z.enum(['auto', 'overlay', 'worktree']),
  })
  .strict();

/** The validated configuration every context receives, instead of reading the environment. */
export interface AasConfig {
  readonly home: string;
  readonly databaseUrl?: string;
  readonly logLevel: LogLevel;
  readonly agentsDirs: readonly string[];
  readonly serverPolicyFile?: string;
  readonly runLeaseMs: number;
  /** The bubblewrap binary; the backend's default when absent. */
  readonly bwrapPath?: string;
  readonly workspaceStrategy: WorkspaceStrategySetting;
  readonly paths: {
    /** Read-only checkouts of base commits, shared by runs as overlay lower layers. */
    readonly checkouts: string;
    readonly sqlite: string;
    readonly runs: string;
    readonly artifacts: string;
    readonly agents: string;
  };
}

export interface ConfigSources {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  /** Flag values win over environment variables. */
  readonly overrides?: Partial<{ home: string; databaseUrl: string; logLevel: LogLevel }>;
}

const nonEmpty = (value: string | undefined): string | undefined =>
  value === undefined || value.trim() === '' ? undefined : value.trim();

/** Parse configuration once, at the composition root. */
export function parseConfig(sources: ConfigSources): AasConfig {
  const { env, cwd, overrides = {} } = sources;
  const toAbsolute = (path: string) => (isAbsolute(path) ? path : resolve(cwd, path));
  const home = toAbsolute(overrides.home ?? nonEmpty(env.AAS_HOME) ?? '.aas');
  const leaseText = nonEmpty(env.AAS_RUN_LEASE_MS);
  const raw = {
    home,
    databaseUrl: overrides.databaseUrl ?? nonEmpty(env.AAS_DATABASE_URL),
    logLevel: overrides.logLevel ?? nonEmpty(env.AAS_LOG_LEVEL) ?? 'warn',
    agentsDirs: (nonEmpty(env.AAS_AGENTS_DIR)?.split(':') ?? []).filter(Boolean).map(toAbsolute),
    serverPolicyFile: nonEmpty(env.AAS_POLICY)
      ? toAbsolute(nonEmpty(env.AAS_POLICY) ?? '')
      : undefined,
    runLeaseMs: leaseText === undefined ? DEFAULT_LEASE_MS : Number(leaseText),
    bwrapPath: nonEmpty(env.AAS_BWRAP),
    workspaceStrategy: nonEmpty(env.AAS_WORKSPACE_STRATEGY) ?? 'auto',
  };
  const parsed = ConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.join('.') ?? '';
    const envName = fieldToEnv[field] ?? field;
    // Name what the person actually typed: the flag when one was given, else the variable.
    const flag = fieldToFlag[field];
    const given =
      flag && (overrides as Record<string, unknown>)[field] !== undefined ? flag : envName;
    const description = CONFIG_ENV_VARS[envName as keyof typeof CONFIG_ENV_VARS];
    throw new AasError('CONFIG_INVALID', issue?.message ?? 'invalid value', {
      field: given,
      ...(description ? { hint: `${envName} is ${description}` } : {}),
    });
  }
  const config = parsed.data;
  return {
    home: config.home,
    ...(config.databaseUrl ? { databaseUrl: config.databaseUrl } : {}),
    logLevel: config.logLevel,
    agentsDirs: [resolve(config.home, 'agents'), ...config.agentsDirs],
    ...(config.serverPolicyFile ? { serverPolicyFile: config.serverPolicyFile } : {}),
    runLeaseMs: config.runLeaseMs,
    ...(config.bwrapPath ? { bwrapPath: config.bwrapPath } : {}),
    workspaceStrategy: config.workspaceStrategy,
    paths: {
      checkouts: resolve(config.home, 'cache', 'checkouts'),
      sqlite: resolve(config.home, 'aas.db'),
      runs: resolve(config.home, 'runs'),
      artifacts: resolve(config.home, 'artifacts'),
      agents: resolve(config.home, 'agents'),
    },
  };
}

const fieldToFlag: Record<string, string> = {
  home: '--home',
  databaseUrl: '--database-url',
  logLevel: '--log-level',
};

const fieldToEnv: Record<string, string> = {
  home: 'AAS_HOME',
  databaseUrl: 'AAS_DATABASE_URL',
  logLevel: 'AAS_LOG_LEVEL',
  agentsDirs: 'AAS_AGENTS_DIR',
  serverPolicyFile: 'AAS_POLICY',
  runLeaseMs: 'AAS_RUN_LEASE_MS',
  bwrapPath: 'AAS_BWRAP',
  workspaceStrategy: 'AAS_WORKSPACE_STRATEGY',
};
