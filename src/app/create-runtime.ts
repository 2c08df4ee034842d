import { chmod, mkdir, readdir, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import pino from 'pino';
import type { AasConfig } from '../config/index.js';
import type { AgentRegistry } from '../drivers/index.js';
import {
  AasError,
  type Clock,
  isValidId,
  type Logger,
  normaliseError,
  systemClock,
} from '../kernel/index.js';
import type { NamedLayer } from '../policy/index.js';
import type { ApprovalDeps, PromotionDeps, PromotionService } from '../promotion/index.js';
import { RunQueue } from '../queue/index.js';
import type { RunnerDeps } from '../runner/index.js';
import { collectStaleTreeGroups, type SandboxBackend } from '../sandbox/index.js';
import { ScheduleService } from '../schedules/index.js';
import { EventBus } from '../sessions/index.js';
import { openStore, type RunStatus, type Store } from '../store/index.js';
import {
  collectCheckoutCache,
  collectOrphanWorkspaces,
  collectRepoCaches,
  isRepoUrl,
  repoUrlCacheKey,
} from '../workspaces/index.js';
import { checkSubmittable } from './check-job.js';
import { createExecutionHost } from './execution-host.js';
import { recordPostgresHome, refuseSqliteInPostgresHome } from './home-database.js';
import { lockSqliteDatabase, type SqliteHolder } from './lock-sqlite-database.js';
import { createPromotionDeps } from './promotion-deps.js';

/** The typed resources bag: built once here, passed explicitly everywhere else. */
export interface Runtime {
  readonly config: AasConfig;
  readonly clock: Clock;
  readonly log: Logger;
  readonly bus: EventBus;
  readonly store: Store;
  readonly registry: AgentRegistry;
  /** The durable run queue on this runtime's store. */
  readonly queue: RunQueue;
  readonly sandboxes: readonly SandboxBackend[];
  readonly serverPolicy: NamedLayer | null;
  readonly hostEnv: Readonly<Record<string, string | undefined>>;
  /** Identity of this process as a runner. */
  readonly owner: string;
  runnerDeps(): RunnerDeps;
  /** Approvals and promotion on this runtime's store, with the installation's signing key. */
  readonly promotion: {
    promotion: PromotionDeps;
    approvals: ApprovalDeps;
    service: PromotionService;
  };
  /** Schedules on this runtime's store; job templates are checked as submissions are. */
  readonly schedules: ScheduleService;
  close(): Promise<void>;
}

export interface RuntimeOptions {
  readonly hostEnv: Readonly<Record<string, string | undefined>>;
  readonly clock?: Clock;
  readonly log?: Logger;
  /** Executable that runs the built-in mock agent; the current Node binary by default. */
  readonly nodePath: string;
  /** Run crash recovery (expired leases, orphan workspaces). On for every CLI command. */
  readonly recover?: boolean;
  /**
   * Take a SQLite store for this process alone (a server): refused while another server holds
   * it, released once the store is closed. Nothing is taken on PostgreSQL, where servers run
   * side by side. See lockSqliteDatabase.
   */
  readonly sqliteLock?: {
    /** The lock turned out not to be this process's any more: stop acting as the only server. */
    readonly onLost: (error: Error) => void;
    readonly onWait?: (waitMs: number, holder: SqliteHolder | null) => void;
  };
}

export async function createRuntime(config: AasConfig, options: RuntimeOptions): Promise<Runtime> {
  const clock = options.clock ?? systemClock;
  const log: Logger =
    options.log ??
    pino(
      { level: config.logLevel, base: { pid: process.pid } },
      pino.destination({ fd: 2, sync: true }),
    );
  const bus = new EventBus();
  // The data directory first: an unusable one is the operator's to fix (CONFIG_INVALID), not
  // a failure of whatever reads below it (agent manifests) first.
  await ensureHome(config.home, [
    config.paths.runs,
    dirname(config.paths.checkouts),
    config.paths.artifacts,
    config.paths.repos,
  ]);
  const host = await createExecutionHost(config, {
    clock,
    nodePath: options.nodePath,
    hostEnv: options.hostEnv,
    log,
  });
  const { serverPolicy, models } = host;
  if (config.databaseUrl === undefined) await refuseSqliteInPostgresHome(config.home);
  // Before the store opens: a refused server leaves the database (and its migrations) alone.
  const lock =
    config.databaseUrl === undefined && options.sqliteLock !== undefined
      ? await lockSqliteDatabase(config.paths.sqlite, options.sqliteLock.onLost, {
          ...(options.sqliteLock.onWait === undefined ? {} : { onWait: options.sqliteLock.onWait }),
        })
      : null;
  let store: Store;
  try {
    store = await openStore({
      sqlitePath: config.paths.sqlite,
      ...(config.databaseUrl ? { databaseUrl: config.databaseUrl } : {}),
    });
  } catch (error) {
    await lock?.release();
    throw error;
  }
  // The lock outlives the store: nothing of this process writes after the next server took over.
  const close = async () => {
    try {
      await store.close();
    } finally {
      await lock?.release();
    }
  };
  try {
    if (config.databaseUrl !== undefined) await recordPostgresHome(config.home, config.databaseUrl);
    const { registry, sandboxes } = host;
    const owner = `runner:${hostname()}:${process.pid}`;
    const queue = new RunQueue(
      { store, clock, log, bus },
      {
        leaseMs: config.runLeaseMs,
        maxRunningPerRepo: config.server.maxRunningPerRepo,
        retryBackoff: RETRY_BACKOFF,
      },
    );
    const runtime: Runtime = {
      config,
      clock,
      log,
      bus,
      store,
      registry,
      queue,
      sandboxes,
      serverPolicy,
      hostEnv: options.hostEnv,
      owner,
      runnerDeps: () => ({
        store,
        clock,
        log,
        bus,
        registry,
        sandboxes,
        hostEnv: options.hostEnv,
        paths: {
          home: config.home,
          runs: config.paths.runs,
          artifacts: config.paths.artifacts,
          checkouts: config.paths.checkouts,
          repos: config.paths.repos,
        },
        repoUrls: config.repoUrls,
        repoPaths: config.repoPaths,
        workspaceStrategy: config.workspaceStrategy,
        serverPolicy,
        runLeaseMs: config.runLeaseMs,
        owner,
        models,
        budgets: config.budgets,
      }),
      promotion: createPromotionDeps({
        config,
        store,
        clock,
        bus,
        log,
        owner,
        runnerDeps: () => runtime.runnerDeps(),
      }),
      schedules: new ScheduleService(
        { store, clock, bus },
        {
          checkJob: (job) =>
            checkSubmittable({ registry, store }, job, config.repoUrls, config.repoPaths),
          misfireGraceMs: config.scheduler.misfireGraceMs,
        },
      ),
      close,
    };
    if (options.recover ?? true) await recover(runtime);
    return runtime;
  } catch (error) {
    await close();
    throw error;
  }
}

/** An interrupted run waits 5 s, then 10 s, 20 s… (jittered, at most 5 min) before it runs again. */
const RETRY_BACKOFF = { baseMs: 5_000, maxMs: 300_000 };

export interface RecoveryReport {
  /** Runs ended (INTERRUPTED, or CANCELLED when a cancel was pending) because their lease expired. */
  readonly interruptedRuns: readonly string[];
  /** Runs put back in the queue because their lease expired and the job allows another claim. */
  readonly requeuedRuns: readonly string[];
  /** Attempt directories whose workspace was removed. */
  readonly removedWorkspaces: readonly string[];
}

/** After a crash: end runs whose lease expired, then remove workspaces no live run owns. */
export async function recover(
  runtime: Runtime,
  options: { readonly includeKept?: boolean } = {},
): Promise<RecoveryReport> {
  const swept = await runtime.queue.sweep(`system:recovery:${runtime.owner}`);
  const interruptedRuns = swept.ended;
  const removedWorkspaces = await collectLeftWorkspaces(runtime, {
    includeKept: options.includeKept ?? false,
  });
  // Accounting groups of launches whose AAS process was killed mid-run.
  await collectStaleTreeGroups({ olderThanMs: STALE_GROUP_MS, nowMs: runtime.clock.nowMs() }).catch(
    () => 0,
  );
  return { interruptedRuns, requeuedRuns: swept.requeued, removedWorkspaces };
}

/**
 * Removes the workspaces (unmounting their overlays) of runs that no longer run: those a killed
 * process left, whose run then ended without a next holder (cancelled while requeued, say).
 * With `settledForMs`, a run that ended less than that long ago keeps its workspace: its own
 * runner may still be removing it. Trouble is logged, never thrown.
 */
export async function collectLeftWorkspaces(
  runtime: Runtime,
  options: { readonly includeKept?: boolean; readonly settledForMs?: number } = {},
): Promise<readonly string[]> {
  const settledBefore =
    options.settledForMs === undefined
      ? null
      : new Date(runtime.clock.nowMs() - options.settledForMs).toISOString();
  try {
    const collected = await collectOrphanWorkspaces({
      runsDir: runtime.config.paths.runs,
      isRunLive: async (runId) => {
        const run = await runtime.store.getRun(runId);
        if (run === null) return false;
        if (run.status === 'running' || run.status === 'queued') return true;
        if (settledBefore === null) return false;
        // While AAS runs, a run that may still be promoted is live too: promotion re-validates
        // a patch in overlays under the run's directory (revalidation-*), at any moment.
        if (!SETTLED_STATUSES.has(run.status)) return true;
        return (run.finishedAt ?? run.updatedAt) > settledBefore;
      },
      includeKept: options.includeKept ?? false,
    });
    return collected.removed;
  } catch (error) {
    runtime.log.warn({ err: normaliseError(error).message }, 'orphan workspace collection failed');
    return [];
  }
}

/** Runs nothing happens to any more: neither an attempt nor a promotion. */
const SETTLED_STATUSES: ReadonlySet<RunStatus> = new Set([
  'promoted',
  'failed',
  'cancelled',
  'blocked',
  'human_review',
]);

/** A launch's group is joined within milliseconds of its creation; an hour is beyond doubt. */
const STALE_GROUP_MS = 3_600_000;

export interface CacheCollectionReport {
  /** Cached base checkouts removed. */
  readonly removedCheckouts: readonly string[];
  /** Kept because a live run is based on them or a workspace is mounted on them. */
  readonly keptCheckouts: readonly string[];
  /** Cache repositories of URL jobs removed (`repos/<sha256 of the URL>`). */
  readonly removedRepoCaches: readonly string[];
  /** Kept because a live run uses them or they were used within the age limit. */
  readonly keptRepoCaches: readonly string[];
}

/**
 * Evicts, for `aas gc`, cached base checkouts and the cache repositories of URL jobs that no
 * live run of this home needs and that were not used for `olderThanMs`.
 */
export async function collectCaches(
  runtime: Runtime,
  options: { readonly olderThanMs: number },
): Promise<CacheCollectionReport> {
  const keepCommits = new Set<string>();
  const keepRepoKeys = new Set<string>();
  // A queued run has not resolved its base yet: every recent checkout may be the one it needs.
  let baseUnknown = false;
  let runIds: string[] = [];
  try {
    runIds = (await readdir(runtime.config.paths.runs)).filter((name) => isValidId(name));
  } catch {
    // No runs directory yet: nothing is live.
  }
  for (const runId of runIds) {
    const run = await runtime.store.getRun(runId);
    if (run === null || !(run.status === 'running' || run.status === 'queued')) continue;
    // The run's git dir borrows the objects of its URL's cache for as long as it runs.
    const repo = (run.jobSpec as { repo?: unknown } | null)?.repo;
    if (typeof repo === 'string' && isRepoUrl(repo)) {
      keepRepoKeys.add(repoUrlCacheKey(repo));
    }
    if (run.baseCommit !== null) keepCommits.add(run.baseCommit);
    else baseUnknown = true;
  }
  const nowMs = runtime.clock.nowMs();
  const checkouts = baseUnknown
    ? { removed: [], kept: [], inUse: [] }
    : await collectCheckoutCache(runtime.config.paths.checkouts, {
        keepCommits,
        olderThanMs: options.olderThanMs,
        nowMs,
      });
  const repos = await collectRepoCaches(runtime.config.paths.repos, {
    keepKeys: keepRepoKeys,
    olderThanMs: options.olderThanMs,
    nowMs,
  });
  return {
    removedCheckouts: checkouts.removed,
    keptCheckouts: [...checkouts.kept, ...checkouts.inUse],
    removedRepoCaches: repos.removed,
    keptRepoCaches: repos.kept,
  };
}

/** A data directory that cannot be created is the operator's to fix: say which and why. */
async function ensureHome(home: string, privateDirs: readonly string[]): Promise<void> {
  try {
    // A home AAS creates is its owner's alone; one that exists keeps the mode its owner gave it
    // (what is in it is kept private below, and the database by the store).
    await mkdir(dirname(home), { recursive: true });
    const created = await mkdir(home, { mode: 0o700 }).then(
      () => true,
      (error: unknown) => {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
        throw error;
      },
    );
    if (created) await chmod(home, 0o700);
    // Runs and cached checkouts hold what sandboxed processes wrote, as the user AAS runs as
    // (root, on a host where it mounts overlays): a set-uid file an agent left there must not
    // be reachable by any other local user. Artifacts (patches, attestations) and fetched
    // repositories (private ones too, with AAS_GIT_CREDENTIALS) are no one else's to read.
    // 0700 on each root closes every path below it.
    for (const dir of privateDirs) {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      await chmod(dir, 0o700);
    }
  } catch (error) {
    const owner = await stat(home).then(
      (stats) => stats.uid,
      () => null,
    );
    const ours = process.getuid?.() ?? owner;
    const othersHome = owner !== null && owner !== ours && ours !== 0;
    throw new AasError(
      'CONFIG_INVALID',
      `cannot use ${home} as the data directory: ${normaliseError(error).message}${othersHome ? ` (it belongs to uid ${owner})` : ''}`,
      {
        field: 'AAS_HOME',
        hint: othersHome
          ? "a data directory serves the OS user that owns it: use your own AAS_HOME, or reach the owner's runs through a server (aas start there, then --server URL with a token of your own)"
          : 'point AAS_HOME (or --home) at a directory you can write',
      },
    );
  }
}
