import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { AasError, shownValue } from '../kernel/index.js';

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
  AAS_WORKER_LABELS:
    'comma-separated labels the embedded workers offer (jobs with `requireLabels` need them); default none',
  AAS_BOOTSTRAP_TOKEN:
    'the first admin token (aas_…) on an empty database, instead of a generated one',
  AAS_MAX_RUNNING_PER_REPO: 'runs of one repository that may run at once; default 2',
  AAS_SHUTDOWN_GRACE_MS:
    'on SIGTERM, how long running attempts may finish before they are stopped and given back; default 30000',
  AAS_MAX_STREAMS:
    'event streams (SSE) `aas start` holds open at once, of all callers; default 500',
  AAS_MAX_STREAMS_PER_TOKEN: 'event streams (SSE) one token may hold open at once; default 50',
  AAS_SERVER:
    'URL of an AAS server: commands that read or change runs, sessions, approvals, schedules and workers become its clients',
  AAS_TOKEN: 'bearer token for AAS_SERVER',
  AAS_PROMOTION_REMOTE:
    'the git remote of the repository that branches are pushed to; default origin',
  AAS_PROMOTION_BRANCH_PREFIX:
    'prefix of promotion branches, followed by the short session id; default aas/',
  AAS_PROMOTION_AUTHOR:
    'author and committer of promotion commits, "Name <email>"; default "AAS <aas@localhost>"',
  AAS_PROMOTION_LEASE_MS: 'how long a promotion writer lease lasts without renewal; default 60000',
  AAS_PROMOTION_WAIT_MS:
    'how long a promotion waits for another promotion of the same target to finish; default 30000',
  AAS_APPROVAL_TTL_SEC: 'how long an approval counts after it is given; default 604800 (7 days)',
  AAS_GITHUB_TOKEN:
    'token for opening draft pull requests (pull_requests: write); only the control plane holds it',
  AAS_GITHUB_API_URL:
    'GitHub REST API base URL; default https://api.github.com (GitHub Enterprise: https://HOST/api/v3)',
  AAS_ANTHROPIC_API_KEY:
    'the Anthropic API key the model gateway sends upstream; agents only ever see a per-run placeholder',
  AAS_ANTHROPIC_BASE_URL:
    'Anthropic API base URL the gateway forwards to; default https://api.anthropic.com',
  AAS_OPENAI_API_KEY:
    'the OpenAI API key the model gateway sends upstream; agents only ever see a per-run placeholder',
  AAS_OPENAI_BASE_URL:
    'OpenAI API base URL the gateway forwards to; default https://api.openai.com',
  AAS_GEMINI_API_KEY:
    'the Gemini API key the model gateway sends upstream; agents only ever see a per-run placeholder',
  AAS_GEMINI_BASE_URL:
    'Gemini API base URL the gateway forwards to; default https://generativelanguage.googleapis.com',
  AAS_CLAUDE_CODE_BIN:
    'the Claude Code binary for the claude-code agent; default: `claude` on PATH (the agent exists only when one is found)',
  AAS_CODEX_BIN:
    'the Codex CLI binary for the codex agent; default: `codex` on PATH (the agent exists only when one is found)',
  AAS_GEMINI_BIN:
    'the Gemini CLI binary for the gemini agent; default: `gemini` on PATH (the agent exists only when one is found)',
  AAS_AIDER_BIN:
    'the Aider binary for the aider agent; default: `aider` on PATH (the agent exists only when one is found)',
  AAS_OPENHANDS_BIN:
    'the OpenHands CLI binary for the openhands agent; default: `openhands` on PATH (the agent exists only when one is found)',
  AAS_MODEL_PRICES:
    'a JSON or YAML file of model prices (USD per million tokens) merged over the built-in table',
  AAS_SESSION_MAX_COST_USD:
    'most US dollars of model calls one session may spend, all its runs and attempts together; default no limit',
  AAS_REPO_DAILY_MAX_COST_USD:
    'most US dollars of model calls the runs of one repository may spend per UTC day; default no limit',
  AAS_SCHEDULER_TICK_MS:
    'how often `aas start` looks for due schedules, ms, 50 to 60000; default 1000 (0 = this server fires none)',
  AAS_SCHEDULER_MISFIRE_GRACE_MS:
    "how late a schedule's slot may fire and still count as on time, ms; later is a misfire, handled by the schedule's policy; at least twice AAS_SCHEDULER_TICK_MS; default 60000",
  AAS_GITHUB_REPOSITORIES:
    'owner/name repositories, comma-separated, a job may name for pull requests when its remote URL does not say which (a mirror, a local path)',
  AAS_REPO_URL_HOSTS:
    "hosts a job's repository URL may name, comma-separated globs (github.com, *.corp.example); checked at submission and by the host that fetches; default * (any)",
  AAS_REPO_PATHS:
    "directories inside which a job submitted to this host may name a local repository (a path or a file:// URL), comma-separated absolute paths, symbolic links resolved; default * (any path this host's user can read: set it on a shared server)",
  AAS_REPO_URL_PRIVATE_NETWORKS:
    'refuse | allow: whether this host fetches repository URLs whose host resolves to a loopback, private or link-local address; default refuse',
  AAS_GIT_CREDENTIALS:
    "a file (mode 0600) of https://user:token@host/owner/repo.git lines: credentials this host's fetches of those repository URLs use; default none (public repositories only)",
} as const;

export const WorkspaceStrategySetting = {
  auto: 'auto',
  overlay: 'overlay',
  worktree: 'worktree',
} as const;
export type WorkspaceStrategySetting =
  (typeof WorkspaceStrategySetting)[keyof typeof WorkspaceStrategySetting];

// zod 4 refuses NaN and the infinities as numbers, so `abc` and `Infinity` are errors too.
const usdLimit = z
  .number({ error: 'must be a number of US dollars, e.g. 25' })
  .min(0, 'must be 0 or more US dollars');

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
        workerLabels: z
          .array(
            z
              .string()
              .regex(
                /^[a-z0-9][a-z0-9._-]{0,63}$/,
                'a worker label is lowercase [a-z0-9._-], at most 64',
              ),
          )
          .max(16),
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
        maxStreams: z.number().int().min(1).max(100_000),
        maxStreamsPerToken: z.number().int().min(1).max(100_000),
      })
      .strict(),
    promotion: z
      .object({
        remote: z.string().regex(/^[A-Za-z0-9._-]+$/, 'must be a git remote name such as origin'),
        branchPrefix: z
          .string()
          .regex(
            /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*\/?$/,
            'must be a branch name prefix such as aas/ (letters, digits, . _ - and /)',
          )
          // What git refuses in a ref name beyond the characters (git check-ref-format): found
          // here rather than as a raw "invalid refspec" at the push of a promotion under way.
          .refine(
            (prefix) => !/\.\.|(^|\/)\.|\.lock(\/|$)/.test(prefix),
            'must be a branch name prefix git accepts: no "..", no part starting with "." or ending with ".lock"',
          ),
        authorName: z.string().min(1).max(200),
        authorEmail: z.string().regex(/^[^\s<>]+@[^\s<>]+$/, 'must be an email address'),
        leaseMs: z.number().int().min(1_000).max(3_600_000),
        waitMs: z.number().int().min(0).max(3_600_000),
        approvalTtlSec: z.number().int().min(60).max(31_536_000),
        githubToken: z.string().min(1).optional(),
        githubApiUrl: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }),
        githubRepositories: z.array(
          z.string().regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, 'each must be owner/name'),
        ),
      })
      .strict(),
    models: z
      .object({
        anthropic: z
          .object({
            baseUrl: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }),
            apiKey: z.string().min(1).optional(),
          })
          .strict(),
        openai: z
          .object({
            baseUrl: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }),
            apiKey: z.string().min(1).optional(),
          })
          .strict(),
        google: z
          .object({
            baseUrl: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }),
            apiKey: z.string().min(1).optional(),
          })
          .strict(),
        pricesFile: z.string().min(1).optional(),
        claudeCodeBin: z.string().min(1).refine(isAbsolute, 'must be an absolute path').optional(),
        codexBin: z.string().min(1).refine(isAbsolute, 'must be an absolute path').optional(),
        geminiBin: z.string().min(1).refine(isAbsolute, 'must be an absolute path').optional(),
        aiderBin: z.string().min(1).refine(isAbsolute, 'must be an absolute path').optional(),
        openhandsBin: z.string().min(1).refine(isAbsolute, 'must be an absolute path').optional(),
      })
      .strict(),
    budgets: z
      .object({
        sessionMaxCostUsd: usdLimit.optional(),
        repoDailyMaxCostUsd: usdLimit.optional(),
      })
      .strict(),
    scheduler: z
      .object({
        tickMs: z
          .number()
          .int()
          .refine((ms) => ms === 0 || (ms >= 50 && ms <= 60_000), 'must be 0 (off) or 50 to 60000'),
        misfireGraceMs: z.number().int().min(0).max(86_400_000),
      })
      .strict()
      // A tick finds a slot up to one tick late; with a shorter grace every slot is a misfire,
      // and a `skip` schedule would never fire at all.
      .refine(({ tickMs, misfireGraceMs }) => tickMs === 0 || misfireGraceMs >= 2 * tickMs, {
        path: ['misfireGraceMs'],
        message:
          'must be at least twice AAS_SCHEDULER_TICK_MS: a slot is seen up to one tick late, so a shorter grace makes every slot a misfire',
      }),
    repoUrls: z
      .object({
        hosts: z
          .array(
            z
              .string()
              .regex(
                /^[A-Za-z0-9*?._:-]+$/,
                'each must be a host name or glob such as github.com or *.corp.example (an IPv6 address without brackets)',
              ),
          )
          .min(1, 'name at least one host (* for any)'),
        privateNetworks: z.enum(['refuse', 'allow']),
        credentialsFile: z.string().min(1).optional(),
      })
      .strict(),
    repoPaths: z
      .object({
        roots: z
          .array(
            z
              .string()
              .refine(
                (root) => root === '*' || isAbsolute(root),
                'each must be an absolute directory (or * for any path)',
              ),
          )
          .min(1, 'name at least one directory (* for any)'),
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
  /** The home is `./.aas` because nothing named one (neither --home nor AAS_HOME). */
  readonly homeByDefault: boolean;
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
    /** Labels the embedded workers offer; a run requiring others is left to remote workers. */
    readonly workerLabels: readonly string[];
    /** Binding to a non-loopback address is refused unless this is set (`--public`). */
    readonly public: boolean;
    readonly bootstrapToken?: string;
    readonly maxRunningPerRepo: number;
    readonly shutdownGraceMs: number;
    /** SSE streams open at once, in all and per token. */
    readonly maxStreams: number;
    readonly maxStreamsPerToken: number;
  };
  /** `aas start`: how often due schedules are looked for, and how late is still on time. */
  readonly scheduler: SchedulerConfig;
  /** Which repository URLs jobs may name and this host fetches (see RepoUrlRule). */
  readonly repoUrls: {
    readonly hosts: readonly string[];
    readonly privateNetworks: boolean;
    /** AAS_GIT_CREDENTIALS, absolute: credentials for the http(s) repositories it lists. */
    readonly credentialsFile?: string;
  };
  /** Where jobs may name local repositories (see RepoPathRule); `*` is anywhere. */
  readonly repoPaths: { readonly roots: readonly string[] };
  /** Commands that talk to a server instead of the local store. */
  readonly client: { readonly serverUrl?: string; readonly token?: string };
  /** Promotion: where branches go, who commits them, the writer lease, the forge credential. */
  readonly promotion: PromotionConfig;
  /** Model providers behind the gateway: their credentials are secrets of the control plane. */
  readonly models: ModelsConfig;
  /** Model-spend limits beyond a run's policy; an absent limit is no limit. */
  readonly budgets: BudgetsConfig;
  readonly paths: {
    /** The installation's signing key (Ed25519), created at first use. */
    readonly keys: string;
    /** Read-only checkouts of base commits, shared by runs as overlay lower layers. */
    readonly checkouts: string;
    /** Cache repositories of jobs whose `repo` is a URL: one per URL, fetched by this host. */
    readonly repos: string;
    readonly sqlite: string;
    readonly runs: string;
    readonly artifacts: string;
    readonly agents: string;
  };
}

export interface ModelProviderConfig {
  readonly baseUrl: string;
  /** A secret: only the model gateway sends it, upstream; never a sandbox, a log or an event. */
  readonly apiKey?: string;
}

export interface ModelsConfig {
  readonly anthropic: ModelProviderConfig;
  readonly openai: ModelProviderConfig;
  readonly google: ModelProviderConfig;
  /** Read once at start-up by the composition root. */
  readonly pricesFile?: string;
  /** The Claude Code binary; looked up on PATH when absent. */
  readonly claudeCodeBin?: string;
  /** The Codex CLI binary; looked up on PATH when absent. */
  readonly codexBin?: string;
  /** The Gemini CLI, Aider and OpenHands binaries; looked up on PATH when absent. */
  readonly geminiBin?: string;
  readonly aiderBin?: string;
  readonly openhandsBin?: string;
}

export interface SchedulerConfig {
  /** 0: this server fires no schedules (another replica does). */
  readonly tickMs: number;
  readonly misfireGraceMs: number;
}

export interface BudgetsConfig {
  /** Model spend of one session, every run and attempt of it together. */
  readonly sessionMaxCostUsd?: number;
  /** Model spend of the runs of one repository within one UTC day. */
  readonly repoDailyMaxCostUsd?: number;
}

export interface PromotionConfig {
  readonly remote: string;
  readonly branchPrefix: string;
  readonly authorName: string;
  readonly authorEmail: string;
  readonly leaseMs: number;
  readonly waitMs: number;
  readonly approvalTtlSec: number;
  /** A secret: never logged, never given to a sandbox or a worker. */
  readonly githubToken?: string;
  readonly githubApiUrl: string;
  readonly githubRepositories: readonly string[];
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
      workerLabels: (nonEmpty(env.AAS_WORKER_LABELS)?.split(',') ?? [])
        .map((label) => label.trim())
        .filter(Boolean),
      public: overrides.public ?? false,
      bootstrapToken: nonEmpty(env.AAS_BOOTSTRAP_TOKEN),
      maxRunningPerRepo: numberFrom(env.AAS_MAX_RUNNING_PER_REPO, 2),
      shutdownGraceMs: numberFrom(env.AAS_SHUTDOWN_GRACE_MS, 30_000),
      maxStreams: numberFrom(env.AAS_MAX_STREAMS, 500),
      maxStreamsPerToken: numberFrom(env.AAS_MAX_STREAMS_PER_TOKEN, 50),
    },
    scheduler: {
      tickMs: numberFrom(env.AAS_SCHEDULER_TICK_MS, 1_000),
      misfireGraceMs: numberFrom(env.AAS_SCHEDULER_MISFIRE_GRACE_MS, 60_000),
    },
    repoPaths: {
      roots: (nonEmpty(env.AAS_REPO_PATHS)?.split(',') ?? ['*'])
        .map((root) => root.trim())
        .filter(Boolean),
    },
    repoUrls: {
      hosts: (nonEmpty(env.AAS_REPO_URL_HOSTS)?.split(',') ?? ['*'])
        .map((host) => host.trim())
        .filter(Boolean),
      privateNetworks: nonEmpty(env.AAS_REPO_URL_PRIVATE_NETWORKS) ?? 'refuse',
      credentialsFile: nonEmpty(env.AAS_GIT_CREDENTIALS)
        ? toAbsolute(nonEmpty(env.AAS_GIT_CREDENTIALS) ?? '')
        : undefined,
    },
    client: {
      serverUrl: overrides.serverUrl ?? nonEmpty(env.AAS_SERVER),
      token: overrides.token ?? nonEmpty(env.AAS_TOKEN),
    },
    models: {
      anthropic: {
        baseUrl: nonEmpty(env.AAS_ANTHROPIC_BASE_URL) ?? 'https://api.anthropic.com',
        apiKey: nonEmpty(env.AAS_ANTHROPIC_API_KEY),
      },
      openai: {
        baseUrl: nonEmpty(env.AAS_OPENAI_BASE_URL) ?? 'https://api.openai.com',
        apiKey: nonEmpty(env.AAS_OPENAI_API_KEY),
      },
      google: {
        baseUrl: nonEmpty(env.AAS_GEMINI_BASE_URL) ?? 'https://generativelanguage.googleapis.com',
        apiKey: nonEmpty(env.AAS_GEMINI_API_KEY),
      },
      pricesFile: nonEmpty(env.AAS_MODEL_PRICES)
        ? toAbsolute(nonEmpty(env.AAS_MODEL_PRICES) ?? '')
        : undefined,
      claudeCodeBin: nonEmpty(env.AAS_CLAUDE_CODE_BIN),
      codexBin: nonEmpty(env.AAS_CODEX_BIN),
      geminiBin: nonEmpty(env.AAS_GEMINI_BIN),
      aiderBin: nonEmpty(env.AAS_AIDER_BIN),
      openhandsBin: nonEmpty(env.AAS_OPENHANDS_BIN),
    },
    budgets: {
      sessionMaxCostUsd: optionalNumber(env.AAS_SESSION_MAX_COST_USD),
      repoDailyMaxCostUsd: optionalNumber(env.AAS_REPO_DAILY_MAX_COST_USD),
    },
    promotion: {
      remote: nonEmpty(env.AAS_PROMOTION_REMOTE) ?? 'origin',
      branchPrefix: nonEmpty(env.AAS_PROMOTION_BRANCH_PREFIX) ?? 'aas/',
      ...authorFrom(nonEmpty(env.AAS_PROMOTION_AUTHOR)),
      leaseMs: numberFrom(env.AAS_PROMOTION_LEASE_MS, 60_000),
      waitMs: numberFrom(env.AAS_PROMOTION_WAIT_MS, 30_000),
      approvalTtlSec: numberFrom(env.AAS_APPROVAL_TTL_SEC, 604_800),
      githubToken: nonEmpty(env.AAS_GITHUB_TOKEN),
      githubApiUrl: nonEmpty(env.AAS_GITHUB_API_URL) ?? 'https://api.github.com',
      githubRepositories: (nonEmpty(env.AAS_GITHUB_REPOSITORIES)?.split(',') ?? [])
        .map((entry) => entry.trim())
        .filter(Boolean),
    },
  };
  const parsed = ConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    // An element of a list variable is reported as the variable (AAS_WORKER_LABELS, not .0).
    const field = issue?.path.filter((part) => typeof part !== 'number').join('.') ?? '';
    const envName = fieldToEnv[field] ?? field;
    // Name what the person actually typed: the flag when one was given, else the variable.
    const flag = fieldToFlag[field];
    const given =
      flag && (overrides as Record<string, unknown>)[fieldToOverride[field] ?? field] !== undefined
        ? flag
        : envName;
    const description = CONFIG_ENV_VARS[envName as keyof typeof CONFIG_ENV_VARS];
    // A number variable that does not parse reaches the schema as NaN: say what was typed.
    const typed = given === envName ? env[envName] : undefined;
    const message =
      issue?.code === 'invalid_type' && issue.expected === 'number'
        ? `must be a number${typed === undefined ? '' : `, got ${shownValue(typed.trim())}`}`
        : (issue?.message ?? 'invalid value');
    throw new AasError('CONFIG_INVALID', message, {
      field: given,
      ...(description ? { hint: `${envName}: ${description}` } : {}),
    });
  }
  const config = parsed.data;
  return {
    home: config.home,
    homeByDefault: overrides.home === undefined && nonEmpty(env.AAS_HOME) === undefined,
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
      workerLabels: config.server.workerLabels,
      public: config.server.public,
      ...(config.server.bootstrapToken ? { bootstrapToken: config.server.bootstrapToken } : {}),
      maxRunningPerRepo: config.server.maxRunningPerRepo,
      shutdownGraceMs: config.server.shutdownGraceMs,
      maxStreams: config.server.maxStreams,
      maxStreamsPerToken: config.server.maxStreamsPerToken,
    },
    scheduler: {
      tickMs: config.scheduler.tickMs,
      misfireGraceMs: config.scheduler.misfireGraceMs,
    },
    repoUrls: {
      hosts: config.repoUrls.hosts,
      privateNetworks: config.repoUrls.privateNetworks === 'allow',
      ...(config.repoUrls.credentialsFile
        ? { credentialsFile: config.repoUrls.credentialsFile }
        : {}),
    },
    repoPaths: {
      roots: config.repoPaths.roots.map((root) => (root === '*' ? root : resolve(root))),
    },
    client: {
      ...(config.client.serverUrl
        ? { serverUrl: config.client.serverUrl.replace(/\/+$/, '') }
        : {}),
      ...(config.client.token ? { token: config.client.token } : {}),
    },
    promotion: {
      remote: config.promotion.remote,
      branchPrefix: config.promotion.branchPrefix,
      authorName: config.promotion.authorName,
      authorEmail: config.promotion.authorEmail,
      leaseMs: config.promotion.leaseMs,
      waitMs: config.promotion.waitMs,
      approvalTtlSec: config.promotion.approvalTtlSec,
      ...(config.promotion.githubToken ? { githubToken: config.promotion.githubToken } : {}),
      githubApiUrl: config.promotion.githubApiUrl.replace(/\/+$/, ''),
      githubRepositories: config.promotion.githubRepositories,
    },
    models: {
      anthropic: providerOf(config.models.anthropic),
      openai: providerOf(config.models.openai),
      google: providerOf(config.models.google),
      ...(config.models.pricesFile ? { pricesFile: config.models.pricesFile } : {}),
      ...(config.models.claudeCodeBin ? { claudeCodeBin: config.models.claudeCodeBin } : {}),
      ...(config.models.codexBin ? { codexBin: config.models.codexBin } : {}),
      ...(config.models.geminiBin ? { geminiBin: config.models.geminiBin } : {}),
      ...(config.models.aiderBin ? { aiderBin: config.models.aiderBin } : {}),
      ...(config.models.openhandsBin ? { openhandsBin: config.models.openhandsBin } : {}),
    },
    budgets: {
      ...(config.budgets.sessionMaxCostUsd === undefined
        ? {}
        : { sessionMaxCostUsd: config.budgets.sessionMaxCostUsd }),
      ...(config.budgets.repoDailyMaxCostUsd === undefined
        ? {}
        : { repoDailyMaxCostUsd: config.budgets.repoDailyMaxCostUsd }),
    },
    paths: {
      keys: resolve(config.home, 'keys'),
      checkouts: resolve(config.home, 'cache', 'checkouts'),
      repos: resolve(config.home, 'repos'),
      sqlite: resolve(config.home, 'aas.db'),
      runs: resolve(config.home, 'runs'),
      artifacts: resolve(config.home, 'artifacts'),
      agents: resolve(config.home, 'agents'),
    },
  };
}

function providerOf(provider: {
  baseUrl: string;
  apiKey?: string | undefined;
}): ModelProviderConfig {
  return {
    baseUrl: provider.baseUrl.replace(/\/+$/, ''),
    ...(provider.apiKey ? { apiKey: provider.apiKey } : {}),
  };
}

/**
 * `Name <email>` → its parts; anything else is left for the schema to refuse (as the email),
 * naming AAS_PROMOTION_AUTHOR.
 */
function authorFrom(text: string | undefined): { authorName: string; authorEmail: string } {
  if (text === undefined) return { authorName: 'AAS', authorEmail: 'aas@localhost' };
  const match = /^([^<>]+?)\s*<([^<>]*)>$/.exec(text);
  return match?.[1] && match[2] !== undefined
    ? { authorName: match[1], authorEmail: match[2] }
    : { authorName: text, authorEmail: '' };
}

/** A number variable: absent means the default; anything else must parse (zod says why not). */
function numberFrom(text: string | undefined, fallback: number): number {
  const value = nonEmpty(text);
  return value === undefined ? fallback : Number(value);
}

/** An optional number variable: absent means none; anything else must parse. */
function optionalNumber(text: string | undefined): number | undefined {
  const value = nonEmpty(text);
  return value === undefined ? undefined : Number(value);
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
  'server.workerLabels': 'AAS_WORKER_LABELS',
  'server.bootstrapToken': 'AAS_BOOTSTRAP_TOKEN',
  'server.maxRunningPerRepo': 'AAS_MAX_RUNNING_PER_REPO',
  'server.shutdownGraceMs': 'AAS_SHUTDOWN_GRACE_MS',
  'server.maxStreams': 'AAS_MAX_STREAMS',
  'server.maxStreamsPerToken': 'AAS_MAX_STREAMS_PER_TOKEN',
  'client.serverUrl': 'AAS_SERVER',
  'client.token': 'AAS_TOKEN',
  'repoPaths.roots': 'AAS_REPO_PATHS',
  'repoUrls.hosts': 'AAS_REPO_URL_HOSTS',
  'repoUrls.privateNetworks': 'AAS_REPO_URL_PRIVATE_NETWORKS',
  'repoUrls.credentialsFile': 'AAS_GIT_CREDENTIALS',
  'scheduler.tickMs': 'AAS_SCHEDULER_TICK_MS',
  'scheduler.misfireGraceMs': 'AAS_SCHEDULER_MISFIRE_GRACE_MS',
  'promotion.remote': 'AAS_PROMOTION_REMOTE',
  'promotion.branchPrefix': 'AAS_PROMOTION_BRANCH_PREFIX',
  'promotion.authorName': 'AAS_PROMOTION_AUTHOR',
  'promotion.authorEmail': 'AAS_PROMOTION_AUTHOR',
  'promotion.leaseMs': 'AAS_PROMOTION_LEASE_MS',
  'promotion.waitMs': 'AAS_PROMOTION_WAIT_MS',
  'promotion.approvalTtlSec': 'AAS_APPROVAL_TTL_SEC',
  'promotion.githubToken': 'AAS_GITHUB_TOKEN',
  'promotion.githubApiUrl': 'AAS_GITHUB_API_URL',
  'promotion.githubRepositories': 'AAS_GITHUB_REPOSITORIES',
  'models.anthropic.baseUrl': 'AAS_ANTHROPIC_BASE_URL',
  'models.anthropic.apiKey': 'AAS_ANTHROPIC_API_KEY',
  'models.openai.baseUrl': 'AAS_OPENAI_BASE_URL',
  'models.openai.apiKey': 'AAS_OPENAI_API_KEY',
  'models.pricesFile': 'AAS_MODEL_PRICES',
  'models.claudeCodeBin': 'AAS_CLAUDE_CODE_BIN',
  'models.codexBin': 'AAS_CODEX_BIN',
  'budgets.sessionMaxCostUsd': 'AAS_SESSION_MAX_COST_USD',
  'budgets.repoDailyMaxCostUsd': 'AAS_REPO_DAILY_MAX_COST_USD',
  'models.google.baseUrl': 'AAS_GEMINI_BASE_URL',
  'models.google.apiKey': 'AAS_GEMINI_API_KEY',
  'models.geminiBin': 'AAS_GEMINI_BIN',
  'models.aiderBin': 'AAS_AIDER_BIN',
  'models.openhandsBin': 'AAS_OPENHANDS_BIN',
};
