import { hostname } from 'node:os';
import {
  type ControlPlane,
  createApiServer,
  defaultPanelDir,
  type Identity,
} from '../api/index.js';
import type { AasConfig } from '../config/index.js';
import { AasError, normaliseError } from '../kernel/index.js';
import { type JobSpec, parseJobSpec, submitRun } from '../runner/index.js';
import { Scheduler } from '../schedules/index.js';
import { openLeadership } from '../store/index.js';
import { onClaimableChange, RemoteWorkers, WorkerPool } from '../workers/index.js';
import { bootstrapAdmin } from './bootstrap-admin.js';
import { checkSubmittable } from './check-job.js';
import { claimWarnings } from './claim-warnings.js';
import {
  collectLeftWorkspaces,
  createRuntime,
  type Runtime,
  type RuntimeOptions,
} from './create-runtime.js';
import { forgeRepositoryWarnings } from './forge-repository-warnings.js';
import type { SqliteHolder } from './lock-sqlite-database.js';
import { relayCommittedEvents } from './relay-committed-events.js';

export interface RunningServer {
  /** `http://host:port` as bound (the real port when 0 was asked for). */
  readonly url: string;
  readonly runtime: Runtime;
  /** Set only on the start that created the first admin token: show it once, never again. */
  readonly bootstrapSecret: string | null;
  /** Stops claiming, drains workers within the grace period, closes the API and the store. */
  close(): Promise<void>;
  /**
   * Settles when the server stopped serving on its own, with why: it lost the lock of its
   * SQLite database, and is closing (`close()` waits for the same stop). Never settles otherwise.
   */
  readonly interrupted: Promise<AasError>;
}

export interface StartServerOptions extends Omit<RuntimeOptions, 'sqliteLock'> {
  /** The admin panel's build to serve at /panel/; `dist/panel/` of this package by default. */
  readonly panelDir?: string;
  /** Told once when another server holds the SQLite database and this start waits for it. */
  readonly onSqliteWait?: (waitMs: number, holder: SqliteHolder | null) => void;
}

/** How often each replica looks for workspaces no run uses, and how long a run must have ended. */
const LEFT_WORKSPACE_COLLECT_EVERY_MS = 10 * 60_000;
const LEFT_WORKSPACE_SETTLE_MS = 10 * 60_000;

/** Requests bodies above this are refused with PAYLOAD_TOO_LARGE; a JobSpec is far smaller. */
const BODY_LIMIT_BYTES = 1_048_576;

/**
 * `aas start`: the control plane on one process. The API, an embedded worker pool on the
 * durable queue, and a sweeper that requeues or ends runs whose holder stopped heartbeating
 * (from this process or any other sharing the database).
 */
export async function startServer(
  config: AasConfig,
  options: StartServerOptions,
): Promise<RunningServer> {
  refuseUnsafeBind(config);
  // The lock may be lost before the server is there to stop: it then stops as it starts.
  let lostError: Error | null = null;
  let onLost: ((error: Error) => void) | null = null;
  const { onSqliteWait, ...runtimeOptions } = options;
  // Recovery runs first: runs a killed server left behind are requeued or ended explicitly.
  // Before it, on SQLite, the database is taken for this server alone (see lockSqliteDatabase).
  const runtime = await createRuntime(config, {
    ...runtimeOptions,
    recover: true,
    sqliteLock: {
      onLost: (error) => {
        lostError ??= error;
        onLost?.(error);
      },
      ...(onSqliteWait === undefined ? {} : { onWait: onSqliteWait }),
    },
  });
  const { store, clock, log, bus, queue } = runtime;
  // Events other replicas commit reach this bus too (PostgreSQL; inert on SQLite). Awaiting the
  // first connection means a server that says it listens also hears the others.
  const relay = relayCommittedEvents({ store, bus, log });
  const serverId = `server:${hostname()}:${process.pid}`;
  // Other processes' holders die too: sweep at least twice per lease. One replica at a time
  // sweeps and resumes promotions (both are safe to race, so this only saves the others the
  // work); when the leader goes, its lead passes to whichever replica ticks next.
  const sweepEveryMs = Math.max(1_000, Math.floor(config.runLeaseMs / 2));
  const leadership = openLeadership(store, 'lease-sweep', {
    checkEveryMs: sweepEveryMs,
    onTrouble: (error) => log.warn({ err: error.message }, 'sweep leadership unavailable'),
  });
  try {
    await relay.ready;
    // The installation's signing key exists from the first start: GET /keys can publish it
    // before anything was promoted, and a key directory it cannot use stops the start here.
    // Also refused there: a key other than the one the installation recorded (another home).
    await runtime.promotion.promotion.signingKey();
    const pool = new WorkerPool(
      { queue, runnerDeps: runtime.runnerDeps(), log },
      {
        workers: config.server.workers,
        idPrefix: `worker:${hostname()}:${process.pid}`,
        idlePollMs: 1_000,
        errorBackoffMs: 2_000,
        labels: config.server.workerLabels,
      },
    );
    // Idle slots look again when a run is queued here or elsewhere, or stops running (its
    // repository's room frees): otherwise remote workers, woken by the same events, would take
    // every freed place before an idle slot's next poll.
    const stopWakingPool = onClaimableChange(bus, () => pool.wake());
    // Waiting remote claims also ask the store every second: runs other processes queue reach
    // this bus only when relayed (PostgreSQL), and not while the relay reconnects.
    const remoteWorkers = new RemoteWorkers(
      { queue, store, clock, bus, log },
      {
        pollMs: 1_000,
        leaseMs: config.runLeaseMs,
        serverPolicy: runtime.serverPolicy,
        budgets: config.budgets,
        repoPaths: config.repoPaths,
      },
    );
    let accepting = true;
    // Advice only: a job is queued (or scheduled) whatever this finds, or fails to find.
    const jobWarnings = async (job: JobSpec) => {
      const claimable = await claimWarnings(
        { store, embedded: pool.matches(), nowIso: clock.nowIso() },
        job,
      ).catch((error: unknown) => {
        log.warn({ err: normaliseError(error) }, 'cannot check who may claim a run');
        return [];
      });
      return [...claimable, ...forgeRepositoryWarnings(job, config.promotion.githubRepositories)];
    };
    const controlPlane: ControlPlane = {
      async submitJob(body: unknown, identity: Identity) {
        const job = parseJobSpec(body);
        await checkSubmittable(runtime, job, runtime.config.repoUrls, runtime.config.repoPaths);
        const ids = await submitRun(runtime.runnerDeps(), job, identity.name);
        pool.wake();
        return { ...ids, warnings: await jobWarnings(job) };
      },
      jobWarnings,
      cancelRun: (runId, identity) => queue.requestCancel(runId, identity.name),
      workers: () => pool.status(),
      accepting: () => accepting,
    };
    const api = await createApiServer({
      store,
      clock,
      log,
      bus,
      controlPlane,
      promotion: runtime.promotion.service,
      schedules: runtime.schedules,
      workerGateway: remoteWorkers,
      paths: { runs: config.paths.runs, artifacts: config.paths.artifacts },
      panelDir: options.panelDir ?? defaultPanelDir(),
      bodyLimitBytes: BODY_LIMIT_BYTES,
      streamPollMs: 1_000,
      streamKeepAliveMs: 15_000,
      streamLimits: {
        maxStreams: config.server.maxStreams,
        maxStreamsPerToken: config.server.maxStreamsPerToken,
      },
    });
    let address: string;
    try {
      address = await api.listen({ host: config.server.host, port: config.server.port });
    } catch (thrown) {
      await api.close();
      const error = normaliseError(thrown);
      throw new AasError(
        'CONFIG_INVALID',
        `cannot listen on ${config.server.host}:${config.server.port}: ${error.message}`,
        { field: '--port', hint: 'choose a free port with --port or AAS_PORT' },
      );
    }
    // Only once the server listens: a start that fails before would create the first admin
    // token and never print it, and the next start would find one and print none.
    let bootstrapSecret: string | null;
    try {
      bootstrapSecret = await bootstrapAdmin(
        runtime.store,
        runtime.clock,
        runtime.config.server.bootstrapToken,
        log,
      );
    } catch (thrown) {
      await api.close();
      throw thrown;
    }
    pool.start();
    // Promotions a crashed process left half-way are finished here (one pass at a time). A
    // closing server finishes the one in progress and starts no other.
    let resuming: Promise<void> | null = null;
    const stopResuming = new AbortController();
    const resumePromotions = () => {
      resuming ??= runtime.promotion.service
        .resumeAbandoned({ signal: stopResuming.signal })
        .then((finished) => {
          if (finished.length > 0) log.info({ runs: finished }, 'finished abandoned promotions');
        })
        .catch((thrown: unknown) =>
          log.error({ err: normaliseError(thrown).message }, 'promotion resume failed'),
        )
        .finally(() => {
          resuming = null;
        });
    };
    let leading = false;
    let sweeping: Promise<void> | null = null;
    const sweep = async () => {
      const now = await leadership.check();
      if (now !== leading) {
        log.info(
          { serverId },
          now ? 'leading the lease sweep' : 'no longer leading the lease sweep',
        );
      }
      leading = now;
      if (!now) return;
      if (accepting) resumePromotions();
      try {
        const report = await queue.sweep(`system:sweeper:${serverId}`);
        if (report.requeued.length > 0) pool.wake();
      } catch (thrown) {
        log.error({ err: normaliseError(thrown).message }, 'lease sweep failed');
      }
    };
    const tick = () => {
      // A slow sweep is not run twice at once; the next tick finds it done.
      sweeping ??= sweep().finally(() => {
        sweeping = null;
      });
    };
    tick();
    const sweeper = setInterval(tick, sweepEveryMs);
    sweeper.unref();
    // Workspaces a killed replica left whose run then ended with no next holder to remove them
    // (cancelled while requeued, say): each replica collects those of its own home, as a
    // restart or `aas gc` would, of runs ended long enough ago that no runner is still at it.
    let collecting: Promise<unknown> | null = null;
    const collector = setInterval(() => {
      collecting ??= collectLeftWorkspaces(runtime, { settledForMs: LEFT_WORKSPACE_SETTLE_MS })
        .then((removed) => {
          if (removed.length > 0) log.info({ removed }, 'removed workspaces no run uses');
        })
        .finally(() => {
          collecting = null;
        });
    }, LEFT_WORKSPACE_COLLECT_EVERY_MS);
    collector.unref();
    // Every replica may tick: each slot fires once across all of them (see Scheduler).
    const scheduler = new Scheduler(
      { store, clock, bus, log },
      {
        actor: `system:scheduler:${serverId}`,
        misfireGraceMs: config.scheduler.misfireGraceMs,
        onFired: () => pool.wake(),
      },
    );
    if (config.scheduler.tickMs > 0) scheduler.start(config.scheduler.tickMs);
    log.info(
      { url: address, workers: config.server.workers, dialect: store.dialect },
      'AAS server listening',
    );

    let closing: Promise<void> | null = null;
    const close = () => {
      closing ??= (async () => {
        accepting = false;
        stopResuming.abort();
        clearInterval(sweeper);
        clearInterval(collector);
        await sweeping;
        await collecting;
        // At once: this process sweeps no more, and the drain below may take the whole grace;
        // another replica takes the sweep from its next tick instead of waiting for this one.
        await leadership.release();
        await scheduler.stop();
        // Waiting long-poll claims would hold their connections (and the API's close) open.
        remoteWorkers.stop();
        stopWakingPool();
        log.info({ graceMs: config.server.shutdownGraceMs }, 'draining workers');
        await pool.drain(config.server.shutdownGraceMs);
        await resuming;
        await api.close();
        await relay.close();
        await runtime.close();
        log.info({}, 'AAS server stopped');
      })();
      return closing;
    };
    let interrupt: (error: AasError) => void = () => undefined;
    const interrupted = new Promise<AasError>((resolve) => {
      interrupt = resolve;
    });
    // As a worker that lost its home's lock drains: another server may be acting on this
    // database now, so this one stops sweeping, firing schedules and claiming at once, and
    // ends with an error a supervisor sees as a failure.
    onLost = (error) => {
      if (closing !== null) return;
      log.error(
        { err: error, database: config.paths.sqlite },
        'server lost the lock of its SQLite database; stopping',
      );
      interrupt(
        new AasError(
          'INTERRUPTED',
          `the server stopped after losing the lock of the SQLite database ${config.paths.sqlite}: another server may have been using it`,
          {
            file: config.paths.sqlite,
            hint: 'run one aas start per SQLite database (use PostgreSQL, AAS_DATABASE_URL, for replicas), then start this one again',
          },
        ),
      );
      // Awaited by whoever calls close(); its failure is theirs to report.
      close().catch(() => undefined);
    };
    if (lostError !== null) onLost(lostError);
    return { url: address, runtime, bootstrapSecret, close, interrupted };
  } catch (thrown) {
    await leadership.release();
    await relay.close();
    await runtime.close();
    throw thrown;
  }
}

const LOOPBACK = /^(127(\.\d{1,3}){3}|::1|localhost|::ffff:127(\.\d{1,3}){3})$/i;

/**
 * The API hands out the power to run agents on this host: it listens only on loopback unless the
 * operator says, in so many words, that it should be reachable from elsewhere.
 */
function refuseUnsafeBind(config: AasConfig): void {
  const host = config.server.host.replace(/^\[|\]$/g, '');
  if (LOOPBACK.test(host) || config.server.public) return;
  throw new AasError(
    'CONFIG_INVALID',
    `refusing to listen on ${config.server.host}: that address may be reachable from other machines, and anyone who can reach the API and holds a token can run agents here`,
    {
      field: '--host',
      hint: 'bind to 127.0.0.1 (the default) and put a TLS proxy in front, or pass --public if this is what you want',
    },
  );
}
