import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import pino from 'pino';
import type { AasConfig } from '../config/index.js';
import { AasError, type Clock, type Logger, normaliseError, systemClock } from '../kernel/index.js';
import { EventBus } from '../sessions/index.js';
import { type ControlPlaneLink, RemoteWorkerAgent } from '../workers/index.js';
import { collectOrphanWorkspaces } from '../workspaces/index.js';
import { describeAgents } from './describe-agents.js';
import { createExecutionHost, type ExecutionHost } from './execution-host.js';

/** What a worker tells the control plane it can do when it registers. */
export interface WorkerCapabilities {
  readonly agents: readonly string[];
  readonly sandbox: readonly string[];
}

/** A remote worker's identity, kept in its home after registration (mode 0600). */
export interface WorkerCredential {
  readonly server: string;
  readonly workerId: string;
  readonly name: string;
  readonly credential: string;
  /**
   * The signing key id the installation published (GET /keys) when this worker registered or
   * last started: another address must publish it too before the credential is sent there.
   */
  readonly installationKeyId?: string;
}

export interface WorkerHost {
  readonly capabilities: WorkerCapabilities;
  readonly log: Logger;
  /** Starts claiming from `link` as `workerId`; `run()` of the result ends when it stops. */
  start(
    link: ControlPlaneLink,
    workerId: string,
    settings: { concurrency: number },
  ): RemoteWorkerAgent;
}

/**
 * A worker's cache repository or cached base checkout unused for a week is deleted (README,
 * "Remote workers").
 */
const WORKER_CACHE_MAX_IDLE_MS = 7 * 24 * 3_600_000;
/**
 * The directories of a run whose execution here ended without an accepted result stay a day:
 * long enough to read the whole logs of a run the control plane never heard the end of, short
 * enough that a worker cut off again and again does not fill its disk.
 */
const WORKER_LEFT_RUN_MAX_AGE_MS = 24 * 3_600_000;

/** Where a worker keeps its credential and its repository cache. */
export function workerPaths(config: AasConfig): {
  credential: string;
  repos: string;
  runs: string;
  artifacts: string;
  checkouts: string;
} {
  return {
    credential: join(config.home, 'worker', 'credential.json'),
    repos: join(config.home, 'worker', 'repos'),
    // The patches it computed (`<runId>/`, deleted with the run's directory once the control
    // plane accepted its result) and the base checkouts it made (a cache shared by runs): what
    // agents wrote and what the repositories hold, no one else's to read, and none of a
    // server's on the same home.
    artifacts: join(config.home, 'worker', 'artifacts'),
    checkouts: join(config.home, 'worker', 'checkouts'),
    // Its own, not the home's runs/: a server or a local command on the same home keeps its
    // workspaces there, and a starting worker removes everything it finds in its own.
    runs: join(config.home, 'worker', 'runs'),
  };
}

/**
 * The execution side of this host as a remote worker: the same agents, sandboxes and model
 * upstreams the control plane would use, and no store: everything a run records goes to the
 * control plane under the run's lease. Called with the home's lock held (lockWorkerHome).
 */
export async function createWorkerHost(
  config: AasConfig,
  options: {
    readonly hostEnv: Readonly<Record<string, string | undefined>>;
    readonly nodePath: string;
    readonly clock?: Clock;
    readonly log?: Logger;
  },
): Promise<WorkerHost> {
  const clock = options.clock ?? systemClock;
  const log: Logger =
    options.log ??
    pino(
      { level: config.logLevel, base: { pid: process.pid } },
      pino.destination({ fd: 2, sync: true }),
    );
  const paths = workerPaths(config);
  try {
    // Runs hold what sandboxed processes wrote: private to this user, as on the control plane.
    for (const dir of [paths.runs, paths.repos, paths.artifacts, paths.checkouts]) {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      await chmod(dir, 0o700);
    }
  } catch (thrown) {
    throw new AasError(
      'CONFIG_INVALID',
      `cannot use ${config.home} as the worker's data directory: ${normaliseError(thrown).message}`,
      { field: 'AAS_HOME', hint: 'point AAS_HOME (or --home) at a directory you can write' },
    );
  }
  await collectLeftWorkspaces(paths.runs, log);
  const host: ExecutionHost = await createExecutionHost(config, {
    clock,
    nodePath: options.nodePath,
    hostEnv: options.hostEnv,
    log,
  });
  const agents = (await describeAgents(host)).filter((agent) => agent.usable).map((a) => a.id);
  const isolating = host.sandboxes.find((backend) => backend.isolating);
  const sandbox =
    isolating !== undefined && (await isolating.selfTest()).ok ? [isolating.name] : [];
  return {
    capabilities: { agents, sandbox },
    log,
    start(link, workerId, settings) {
      return new RemoteWorkerAgent(
        {
          link,
          workerId,
          clock,
          log: log.child({ worker: workerId }),
          sleep: (ms, signal) => sleep(ms, signal),
          execution: {
            clock,
            log,
            bus: new EventBus(),
            registry: host.registry,
            sandboxes: host.sandboxes,
            hostEnv: options.hostEnv,
            paths: {
              home: config.home,
              runs: paths.runs,
              artifacts: paths.artifacts,
              checkouts: paths.checkouts,
              // Beside the bases the control plane sends: their keys have 32 hex digits, a URL's 64.
              repos: paths.repos,
            },
            // This host's own rule: it fetches from its own network.
            repoUrls: config.repoUrls,
            workspaceStrategy: config.workspaceStrategy,
            models: host.models,
          },
        },
        {
          concurrency: settings.concurrency,
          claimWaitSec: 25,
          cacheDir: paths.repos,
          cacheMaxIdleMs: WORKER_CACHE_MAX_IDLE_MS,
          leftRunMaxAgeMs: WORKER_LEFT_RUN_MAX_AGE_MS,
          backoff: { firstMs: 1_000, maxMs: 30_000 },
        },
      );
    },
  };
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
  });
}

/** The credential this host registered with, or null when it has none yet. */
export async function readWorkerCredential(path: string): Promise<WorkerCredential | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return null;
  }
  try {
    const value = JSON.parse(text) as Record<string, unknown>;
    const { server, workerId, name, credential, installationKeyId } = value;
    if (
      typeof server === 'string' &&
      typeof workerId === 'string' &&
      typeof name === 'string' &&
      typeof credential === 'string'
    ) {
      return {
        server,
        workerId,
        name,
        credential,
        ...(typeof installationKeyId === 'string' ? { installationKeyId } : {}),
      };
    }
  } catch {
    // Reported below.
  }
  throw new AasError('CONFIG_INVALID', `${path} is not a worker credential file`, {
    file: path,
    hint: 'remove it and register again with a new enrolment secret (aas worker enrol)',
  });
}

/** Keeps the credential readable by this user only; written whole or not at all. */
export async function writeWorkerCredential(path: string, value: WorkerCredential): Promise<void> {
  try {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    const temporary = `${path}.${process.pid}.tmp`;
    await writeFile(temporary, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
    await rename(temporary, path);
  } catch (thrown) {
    throw new AasError(
      'CONFIG_INVALID',
      `cannot store the worker credential in ${path}: ${normaliseError(thrown).message}`,
      { field: 'AAS_HOME', hint: 'point AAS_HOME (or --home) at a directory you can write' },
    );
  }
}

/**
 * What a worker of this home that died (SIGKILL, a crash, a power loss) left: mounted overlay
 * workspaces and checkouts under `worker/runs/`. The caller holds the home's worker lock and no
 * run yet, and only a worker of this home uses that directory, so no workspace there belongs
 * to a live process; the runs themselves are the control plane's,
 * which re-leases them after their leases lapse. Logs stay for now: the worker's sweep deletes
 * such a run's directories once they are a day old (RemoteWorkerAgent). Trouble
 * here is logged, never fatal: the worker can run without it.
 */
async function collectLeftWorkspaces(runsDir: string, log: Logger): Promise<void> {
  try {
    const collected = await collectOrphanWorkspaces({
      runsDir,
      isRunLive: async () => false,
      includeKept: false,
    });
    if (collected.removed.length > 0 || (collected.failed?.length ?? 0) > 0) {
      log.info(
        {
          removed: collected.removed.length,
          unmounted: collected.unmounted?.length ?? 0,
          failed: collected.failed ?? [],
        },
        'removed the workspaces a previous worker of this home left',
      );
    }
  } catch (thrown) {
    log.warn({ err: normaliseError(thrown).message }, 'could not collect left workspaces');
  }
}
