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
  AAS_HOST: 'address `aas start` binds; default 127.0.0.1 (others need --public)',
  AAS_PORT: 'port `aas start` listens on; default 8001',
  AAS_WORKERS: 'embedded workers `aas start` runs; default 1 (0 = API only)',
  AAS_BOOTSTRAP_TOKEN:
    'the first admin token (aas_…) on an empty database, instead of a generated one',
  AAS_MAX_RUNNING_PER_REPO: 'runs of one repository that may run at once; default 2',
  AAS_SHUTDOWN_GRACE_MS:
    'on SIGTERM, how long running attempts may finish before they are stopped and given back; default 30000',
  AAS_SERVER: 'URL of an AAS server: `aas run` and `aas sessions` become its clients',
  AAS_TOKEN: 'bearer token for AAS_SERVER',
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
    server: z
      .object({
        host: z.string().min(1),
        port: z.number().int().min(0).max(65_535),
        workers: z.number().int().min(0).max(64),
        public: z.boolean(),
        bootstrapToken: z
          .string()
          .regex(
            /^aas_[A-Za-z0-9_-]{32,200}$/,
            'must be aas_ followed by at least 32 of A-Z a-z 0-9 _ -',
          )
          .optional(),
        maxRunningPerRepo: z.number().int().min(1).max(1_000),
        shutdownGraceMs: z.number().int().min(0).max(3_600_000),
      })
      .strict(),
    client: z
      .object({
        serverUrl: z
          .string()
          .regex(/^https?:\/\/[^\s]+$/, 'must be an http:// or https:// URL')
          .optional(),
        token: z.string().min(1).optional(),
      })
      .strict(),
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
  /** `aas start`. */
  readonly server: {
    readonly host: string;
    readonly port: number;
    readonly workers: number;
    /** Binding to a non-loopback address is refused unless this is set (`--public`). */
    readonly public: boolean;
    readonly bootstrapToken?: string;
    readonly maxRunningPerRepo: number;
    readonly shutdownGraceMs: number;
  };
  /** Commands that talk to a server instead of the local store. */
  readonly client: { readonly serverUrl?: string; readonly token?: string };
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
  readonly overrides?: Partial<{
    home: string;
    databaseUrl: string;
    logLevel: LogLevel;
    host: string;
    port: number;
    workers: number;
    public: boolean;
    serverUrl: string;
    token: string;
  }>;
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
    server: {
      host: overrides.host ?? nonEmpty(env.AAS_HOST) ?? '127.0.0.1',
      port: overrides.port ?? numberFrom(env.AAS_PORT, 8001),
      workers: overrides.workers ?? numberFrom(env.AAS_WORKERS, 1),
      public: overrides.public ?? false,
      bootstrapToken: nonEmpty(env.AAS_BOOTSTRAP_TOKEN),
      maxRunningPerRepo: numberFrom(env.AAS_MAX_RUNNING_PER_REPO, 2),
      shutdownGraceMs: numberFrom(env.AAS_SHUTDOWN_GRACE_MS, 30_000),
    },
    client: {
      serverUrl: overrides.serverUrl ?? nonEmpty(env.AAS_SERVER),
      token: overrides.token ?? nonEmpty(env.AAS_TOKEN),
    },
  };
  const parsed = ConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.join('.') ?? '';
    const envName = fieldToEnv[field] ?? field;
    // Name what the person actually typed: the flag when one was given, else the variable.
    const flag = fieldToFlag[field];
    const given =
      flag && (overrides as Record<string, unknown>)[fieldToOverride[field] ?? field] !== undefined
        ? flag
        : envName;
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
    server: {
      host: config.server.host,
      port: config.server.port,
      workers: config.server.workers,
      public: config.server.public,
      ...(config.server.bootstrapToken ? { bootstrapToken: config.server.bootstrapToken } : {}),
      maxRunningPerRepo: config.server.maxRunningPerRepo,
      shutdownGraceMs: config.server.shutdownGraceMs,
    },
    client: {
      ...(config.client.serverUrl
        ? { serverUrl: config.client.serverUrl.replace(/\/+$/, '') }
        : {}),
      ...(config.client.token ? { token: config.client.token } : {}),
    },
    paths: {
      checkouts: resolve(config.home, 'cache', 'checkouts'),
      sqlite: resolve(config.home, 'aas.db'),
      runs: resolve(config.home, 'runs'),
      artifacts: resolve(config.home, 'artifacts'),
      agents: resolve(config.home, 'agents'),
    },
  };
}

/** A number variable: absent means the default; anything else must parse (zod says why not). */
function numberFrom(text: string | undefined, fallback: number): number {
  const value = nonEmpty(text);
  return value === undefined ? fallback : Number(value);
}

const fieldToFlag: Record<string, string> = {
  home: '--home',
  databaseUrl: '--database-url',
  logLevel: '--log-level',
  'server.host': '--host',
  'server.port': '--port',
  'server.workers': '--workers',
  'client.serverUrl': '--server',
  'client.token': '--token',
};

/** Which override key a flag sets, for fields nested in the config. */
const fieldToOverride: Record<string, string> = {
  'server.host': 'host',
  'server.port': 'port',
  'server.workers': 'workers',
  'client.serverUrl': 'serverUrl',
  'client.token': 'token',
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
  'server.host': 'AAS_HOST',
  'server.port': 'AAS_PORT',
  'server.workers': 'AAS_WORKERS',
  'server.bootstrapToken': 'AAS_BOOTSTRAP_TOKEN',
  'server.maxRunningPerRepo': 'AAS_MAX_RUNNING_PER_REPO',
  'server.shutdownGraceMs': 'AAS_SHUTDOWN_GRACE_MS',
  'client.serverUrl': 'AAS_SERVER',
  'client.token': 'AAS_TOKEN',
};
