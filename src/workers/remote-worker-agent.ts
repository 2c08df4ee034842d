import { createHash } from 'node:crypto';
import { join } from 'node:path';
import {
  AasError,
  type Clock,
  type Code,
  isCode,
  type Logger,
  normaliseError,
} from '../kernel/index.js';
import { type NamedLayer, validatePolicyLayer } from '../policy/index.js';
import { retryBackoffMs } from '../queue/index.js';
import {
  type ExecutionDeps,
  executeClaimedRun,
  parseJobSpec,
  runStatusFor,
  STOP_REASON,
} from '../runner/index.js';
import { sessionEvent } from '../sessions/index.js';
import type { RunRecord } from '../store/index.js';
import {
  addBasePack,
  cachedBaseCommits,
  collectCheckoutCache,
  collectRepoCaches,
  collectRunDirs,
  hasCachedCommit,
  isRepoUrl,
  markRunDirsLeft,
  openBaseCache,
  type RunDirRoots,
  removeRunDirs,
  repoUrlCacheKey,
} from '../workspaces/index.js';
import type { ControlPlaneLink, LeaseGrant } from './control-plane-link.js';
import {
  applyHeartbeatOrders,
  type HeldLease,
  nextLapseInMs,
  stopLapsedLeases,
} from './held-lease.js';
import { deadlineAfter, leaseLeftMs, readClock } from './lease-deadline.js';
import { RemoteRunStore } from './remote-run-store.js';
import { type HeldLeaseView, type SendDeps, sendWhileHeld } from './send-while-held.js';

/** How often a running worker looks for idle caches and the directories of runs it left. */
const CACHE_SWEEP_EVERY_MS = 60 * 60 * 1000;
/** The longest the lapse watch sleeps before it looks again (see #watchLapses). */
const MAX_LAPSE_WAIT_MS = 60_000;
/**
 * The least time a request under a held lease keeps being retried, whatever the lease's length
 * (see HeldLeaseView.retryBudgetMs): a replica restarting behind an address its peers share
 * takes tens of seconds, while the heartbeats that reach a peer keep the lease alive.
 */
const MIN_RETRY_BUDGET_MS = 30_000;

export interface RemoteWorkerAgentSettings {
  /** Runs held at once. */
  readonly concurrency: number;
  /** How long one claim request waits for work (the server answers within 30 s). */
  readonly claimWaitSec: number;
  /** Where fetched repositories are cached between runs. */
  readonly cacheDir: string;
  /**
   * A cache repository or cached base checkout unused this long is deleted (looked for at
   * start, then hourly); those of held runs never are.
   */
  readonly cacheMaxIdleMs: number;
  /**
   * How long the directories of a run whose execution here ended without an accepted result
   * (the worker stopped, the lease was lost or lapsed, a report was given up) stay: the only
   * whole copy of its logs when the control plane never got their tails. Those of a run whose
   * result was accepted, or refused for good, are deleted at once.
   */
  readonly leftRunMaxAgeMs: number;
  /**
   * Pause after a claim failed because the control plane was away: 1 s doubling to 30 s, each
   * drawn in [step/2, step].
   */
  readonly backoff: { readonly firstMs: number; readonly maxMs: number };
}

/** The execution resources of this host; store, owner, policy and budgets come with each lease. */
export type WorkerExecutionDeps = Omit<
  ExecutionDeps,
  'store' | 'owner' | 'serverPolicy' | 'budgets' | 'runLeaseMs'
>;

export interface RemoteWorkerStatus {
  readonly state: 'online' | 'busy' | 'draining' | 'stopped';
  readonly runs: readonly { runId: string; fencingToken: number; leaseLeftMs: number }[];
}

/**
 * The worker program: claims runs from its control plane over HTTP (long-poll), fetches each
 * run's base into a local cache, executes it with the same runner and sandbox as the control
 * plane (its history, patch and logs going back through the lease), and keeps every lease alive
 * with one heartbeat. A heartbeat's orders are obeyed at once: `cancel` ends the run cancelled,
 * `lost` stops it and reports nothing. `drain` (an administrator's) asks nothing of the worker:
 * the control plane gives it no runs until resumed, its claims just wait, so the program keeps
 * running and a resume is served at once. SIGTERM drains the worker itself: it finishes what it
 * holds, claims nothing more, says so on a heartbeat, and stops. While the control plane cannot
 * be reached, work continues until the lease would lapse (the sweep may then give the run to
 * someone else), and then stops without reporting.
 */
export class RemoteWorkerAgent {
  readonly #held = new Map<string, HeldLease>();
  readonly #cacheLocks = new Map<string, Promise<void>>();
  readonly #claiming = new AbortController();
  #draining = false;
  #stopped = false;
  #fatal: AasError | null = null;
  #loops: Promise<void>[] = [];
  #heartbeat: NodeJS.Timeout | null = null;
  /** Fires at the earliest deadline of the held leases (see #watchLapses). */
  #lapseWatch: NodeJS.Timeout | null = null;
  #cacheSweep: NodeJS.Timeout | null = null;
  #sweeping = false;
  /** The heartbeat on its way, if any: one at a time. */
  #beating: Promise<void> | null = null;
  /** The leases the heartbeat on its way renews. */
  #beatCarries: ReadonlySet<HeldLease> = new Set();
  /** Whether a heartbeat saying this worker is draining has been answered. */
  #drainReported = false;
  /** The last heartbeat's `drain`: an administrator drained this worker (for logs and status). */
  #drainOrdered = false;

  constructor(
    private readonly deps: {
      readonly link: ControlPlaneLink;
      readonly execution: WorkerExecutionDeps;
      readonly workerId: string;
      readonly clock: Clock;
      readonly log: Logger;
      readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
      /** Jitter of the pauses between retries (tests fix it); Math.random otherwise. */
      readonly random?: () => number;
    },
    private readonly settings: RemoteWorkerAgentSettings,
  ) {}

  /** Starts claiming; resolves when the worker has stopped (drained, or refused by the server). */
  run(): Promise<void> {
    this.#scheduleBeat();
    void this.#sweepDisk();
    this.#cacheSweep = setInterval(() => void this.#sweepDisk(), CACHE_SWEEP_EVERY_MS);
    this.#cacheSweep.unref();
    this.#loops = Array.from({ length: this.settings.concurrency }, () => this.#loop());
    return Promise.all(this.#loops).then(async () => {
      this.#stopped = true;
      if (this.#heartbeat !== null) clearTimeout(this.#heartbeat);
      if (this.#lapseWatch !== null) clearTimeout(this.#lapseWatch);
      if (this.#cacheSweep !== null) clearInterval(this.#cacheSweep);
      if (this.#fatal !== null) throw this.#fatal;
      // Say it before leaving, also when nothing was held (no heartbeat carried it then), so the
      // control plane shows this worker draining rather than online until it falls silent. The
      // first call may only join a heartbeat sent before the drain; the second then says it.
      if (this.#draining) {
        await this.#beat();
        if (!this.#drainReported) await this.#beat();
      }
    });
  }

  /**
   * What keeps this host's disk bounded: cache repositories and cached base checkouts unused
   * for `cacheMaxIdleMs` are deleted, and so are the directories of runs left `leftRunMaxAgeMs`
   * ago (also those a killed worker of this home left), never anything of a held run. A run
   * opening a cache, or mounting a checkout, marks it used first, so one starting meanwhile is
   * never taken for idle.
   */
  async #sweepDisk(): Promise<void> {
    // One pass at a time: a slow one (a large cache on a slow disk) is not overtaken by the next.
    if (this.#sweeping) return;
    this.#sweeping = true;
    try {
      await this.#collectCaches();
      await this.#collectCheckouts();
      await this.#collectRunDirs();
    } finally {
      this.#sweeping = false;
    }
  }

  /** Cache repositories unused for `cacheMaxIdleMs`, but those of held runs. */
  async #collectCaches(): Promise<void> {
    const keepKeys = new Set<string>();
    for (const held of this.#held.values()) {
      const { repo, jobSpec } = held.grant;
      keepKeys.add(this.#baseCacheKey(repo));
      const url = (jobSpec as { repo?: unknown } | null)?.repo;
      if (typeof url === 'string') keepKeys.add(repoUrlCacheKey(url));
    }
    try {
      const collected = await collectRepoCaches(this.settings.cacheDir, {
        keepKeys,
        olderThanMs: this.settings.cacheMaxIdleMs,
        nowMs: this.deps.clock.nowMs(),
      });
      if (collected.removed.length > 0) {
        this.deps.log.info({ removed: collected.removed }, 'evicted idle cache repositories');
      }
    } catch (thrown) {
      this.deps.log.warn({ err: normaliseError(thrown).message }, 'cache eviction failed');
    }
  }

  /**
   * Base checkouts (overlay lower layers, shared by the runs on one commit) unused for
   * `cacheMaxIdleMs`. Kept besides: the commits of held runs known here (the claim's, or the
   * one fetched for it), and every checkout an overlay of this process is mounted on. A held
   * run's commit that is not known here (a URL job's first claim) was marked used when its
   * checkout was mounted, far less than the age limit ago.
   */
  async #collectCheckouts(): Promise<void> {
    const keepCommits = new Set<string>();
    for (const held of this.#held.values()) {
      if (held.grant.baseCommit !== null) keepCommits.add(held.grant.baseCommit);
      if (held.baseCommit !== undefined) keepCommits.add(held.baseCommit);
    }
    try {
      const collected = await collectCheckoutCache(this.deps.execution.paths.checkouts, {
        keepCommits,
        olderThanMs: this.settings.cacheMaxIdleMs,
        nowMs: this.deps.clock.nowMs(),
      });
      if (collected.removed.length > 0) {
        this.deps.log.info({ removed: collected.removed }, 'evicted idle base checkouts');
      }
    } catch (thrown) {
      this.deps.log.warn({ err: normaliseError(thrown).message }, 'checkout eviction failed');
    }
  }

  /** The directories of runs not held here, left at least `leftRunMaxAgeMs` ago. */
  async #collectRunDirs(): Promise<void> {
    try {
      const collected = await collectRunDirs(this.#runDirRoots(), {
        isHeld: (runId) => this.#held.has(runId),
        olderThanMs: this.settings.leftRunMaxAgeMs,
        nowMs: this.deps.clock.nowMs(),
      });
      if (collected.removed.length > 0 || collected.failed.length > 0) {
        this.deps.log.info(
          { removed: collected.removed, failed: collected.failed },
          'removed the directories of runs left here',
        );
      }
    } catch (thrown) {
      this.deps.log.warn({ err: normaliseError(thrown).message }, 'run directory sweep failed');
    }
  }

  #runDirRoots(): RunDirRoots {
    const { runs, artifacts } = this.deps.execution.paths;
    return { runsDir: runs, artifactsDir: artifacts };
  }

  /**
   * After an execution here ended: a run whose result the control plane accepted (or refused
   * for good: fenced, or ended as unrunnable) needs nothing on this host any more, since its
   * patch and log tails were uploaded before the final report, and nothing here reads them
   * again. Its directories go at once. Any other end (stopped, lease lost or lapsed, a report
   * given up) leaves them, stamped now, for #collectRunDirs. Never while another claim of the
   * same run is held here: that one works in the same directories.
   */
  async #tidyRun(runId: string, decided: boolean, log: Logger): Promise<void> {
    if (this.#held.has(runId)) return;
    try {
      if (!decided) {
        await markRunDirsLeft(this.#runDirRoots(), runId, this.deps.clock.nowMs());
      } else if (!(await removeRunDirs(this.#runDirRoots(), runId))) {
        log.warn(
          {},
          'run directories not removed (a mount below them would not go): left for the sweep',
        );
      }
    } catch (thrown) {
      log.warn({ err: normaliseError(thrown).message }, 'run directories not removed');
    }
  }

  /** The key of the cache holding bases of `repo` (a control-plane path) from this server. */
  #baseCacheKey(repo: string): string {
    return createHash('sha256').update(`${this.deps.link.url}\n${repo}`).digest('hex').slice(0, 32);
  }

  #scheduleBeat(): void {
    if (this.#stopped) return;
    this.#heartbeat = setTimeout(() => {
      void this.#beat().finally(() => this.#scheduleBeat());
    }, this.#heartbeatMs());
  }

  /** Finish what is held, claim nothing more, then stop (SIGTERM). */
  drain(): void {
    if (this.#draining) return;
    this.#draining = true;
    this.deps.log.info({ held: [...this.#held.keys()] }, 'draining: finishing held runs');
    this.#claiming.abort();
    // Tell the control plane now (the next heartbeat would too, but only while runs are held).
    if (!this.#stopped && this.#fatal === null) void this.#beat();
  }

  /** Stop now: every sandbox is stopped and nothing more is reported (the leases lapse). */
  stopNow(): void {
    this.drain();
    for (const held of this.#held.values()) held.stop.abort(STOP_REASON.shutdown);
  }

  /** The control plane refused this worker for good: every held run stops, and the worker. */
  #refused(error: AasError): void {
    if (this.#fatal === null) {
      this.deps.log.error(
        { err: error.message, code: error.code, held: [...this.#held.keys()] },
        'the control plane refused this worker: stopping its runs',
      );
    }
    this.#fatal ??= error;
    this.stopNow();
  }

  status(): RemoteWorkerStatus {
    return {
      state: this.#stopped
        ? 'stopped'
        : this.#draining || this.#drainOrdered
          ? 'draining'
          : this.#held.size > 0
            ? 'busy'
            : 'online',
      runs: [...this.#held.values()].map((held) => ({
        runId: held.grant.runId,
        fencingToken: held.grant.fencingToken,
        leaseLeftMs: leaseLeftMs(held.deadline, this.deps.clock),
      })),
    };
  }

  /**
   * A third of the shortest lease held: a beat that hangs holds back the next one, so it must
   * give up while the leases it renews have time left for another. Holding nothing, the
   * link's own limit.
   */
  #heartbeatTimeout(): { timeoutMs?: number } {
    if (this.#held.size === 0) return {};
    let leaseMs = Number.POSITIVE_INFINITY;
    for (const held of this.#held.values()) leaseMs = Math.min(leaseMs, held.grant.leaseMs);
    return { timeoutMs: Math.max(100, Math.floor(leaseMs / 3)) };
  }

  /** At least three heartbeats per lease, at most 5 s apart (a cancel travels on them). */
  #heartbeatMs(): number {
    let ms = 5_000;
    for (const held of this.#held.values()) ms = Math.min(ms, Math.floor(held.grant.leaseMs / 3));
    // With nothing held, look again soon: a claim may be answered at any moment.
    return Math.max(100, this.#held.size === 0 ? Math.min(ms, 500) : ms);
  }

  async #loop(): Promise<void> {
    let failures = 0;
    while (!this.#draining) {
      let grant: LeaseGrant | null;
      const askedAtMs = this.deps.clock.nowMs();
      try {
        grant = await this.deps.link.claimRun(this.settings.claimWaitSec, this.#claiming.signal);
        failures = 0;
      } catch (thrown) {
        if (this.#claiming.signal.aborted) break;
        const error = normaliseError(thrown);
        if (!this.deps.link.isTransient(error)) {
          // A revoked credential, or a server that refuses this worker: retrying cannot help.
          this.#refused(error);
          break;
        }
        failures += 1;
        const pauseMs = this.#backoffMs(failures);
        this.deps.log.warn({ err: error.message, retryInMs: pauseMs }, 'claim failed: retrying');
        await this.deps.sleep(pauseMs, this.#claiming.signal).catch(() => undefined);
        continue;
      }
      if (grant === null) {
        // Empty long before the wait was up (a server shutting down, a proxy cutting long polls
        // short): pause as after a first failure instead of asking again at once, over and over.
        const answeredAfterMs = this.deps.clock.nowMs() - askedAtMs;
        const early = answeredAfterMs < (this.settings.claimWaitSec * 1_000) / 2;
        if (early && !this.#claiming.signal.aborted) {
          await this.deps.sleep(this.#backoffMs(1), this.#claiming.signal).catch(() => undefined);
        }
        continue;
      }
      await this.#execute(grant);
    }
  }

  async #execute(grant: LeaseGrant): Promise<void> {
    const receivedAt = readClock(this.deps.clock);
    const held: HeldLease = {
      grant,
      // The lease began before its answer arrived, so counting from the arrival overestimates
      // it by the answer's transit: a margin covers that until the first heartbeat (sent at
      // once), whose renewal is counted from when it was sent, which errs the safe way.
      deadline: deadlineAfter(receivedAt, grant.leaseMs - Math.min(1_000, grant.leaseMs / 10)),
      order: 'ok',
      stop: new AbortController(),
    };
    let decided = false;
    // Claimed again while an older execution of the same run is still winding down here (its
    // lease was lost): that one is stopped, and only the new claim is heartbeated.
    const older = this.#held.get(grant.runId);
    if (older !== undefined) {
      older.order = 'lost';
      older.stop.abort(STOP_REASON.leaseLost);
    }
    this.#held.set(grant.runId, held);
    this.#watchLapses();
    const log = this.deps.log.child({ runId: grant.runId, claim: grant.claim });
    // This execution's own lease, never looked up by run id again: a later claim of the same
    // run is another lease, whose deadline and stop are not this one's.
    const view: HeldLeaseView = {
      runId: grant.runId,
      deadline: () => held.deadline,
      stopped: held.stop.signal,
      retryBudgetMs: Math.max(grant.leaseMs, MIN_RETRY_BUDGET_MS),
    };
    const sendDeps = {
      link: this.deps.link,
      clock: this.deps.clock,
      log,
      sleep: this.deps.sleep,
      ...(this.deps.random === undefined ? {} : { random: this.deps.random }),
    };
    const store = new RemoteRunStore(sendDeps, {
      sessionId: grant.sessionId,
      fencingToken: grant.fencingToken,
      ...view,
    });
    try {
      log.info({ fencingToken: grant.fencingToken }, 'claimed');
      // Beat at once: the lease just granted is renewed before the base is fetched. A beat
      // already on its way does not carry it, so then one more follows that one.
      void this.#beat(held);
      const run = await store.getRun(grant.runId);
      if (run === null) throw new AasError('INTERNAL', `the control plane lost run ${grant.runId}`);
      let localBase: { repo: string; commit: string } | undefined;
      try {
        localBase = await this.#withLocalBase(run, grant, view, sendDeps);
      } catch (thrown) {
        const error = normaliseError(thrown);
        // Only a base the job itself gets wrong ends the run; anything else is this host's
        // trouble, and the run is left to lapse back into the queue for another claim.
        if (!RUN_BASE_FAILURES.has(error.code)) throw error;
        await reportUnrunnable(store, run, this.deps.clock, error.code, error.describe());
        decided = true;
        log.warn({ code: error.code, err: error.message }, 'base not available: run ended');
        return;
      }
      if (localBase !== undefined) held.baseCommit = localBase.commit;
      const deps: ExecutionDeps = {
        ...this.deps.execution,
        // The patch in a directory of the run's own (not the content-addressed pool the control
        // plane keeps), so that it goes with the run, never from under another run's patch.
        paths: {
          ...this.deps.execution.paths,
          artifacts: join(this.deps.execution.paths.artifacts, grant.runId),
        },
        store,
        owner: this.deps.workerId,
        serverPolicy: serverPolicyOf(grant),
        budgets: grant.budgets,
        runLeaseMs: grant.leaseMs,
      };
      const outcome = await executeClaimedRun(
        deps,
        {
          run,
          fence: {
            runId: grant.runId,
            leaseOwner: this.deps.workerId,
            fencingToken: grant.fencingToken,
          },
        },
        {
          // The heartbeat below renews every held lease at once; the runner reads its verdict,
          // and a lease this worker could not renew in time counts as lost.
          renewLease: async () => ({
            held: held.order !== 'lost' && leaseLeftMs(held.deadline, this.deps.clock) > 0,
            cancelRequested: held.order === 'cancel',
          }),
          stop: held.stop.signal,
          ...(localBase === undefined ? {} : { localBase }),
        },
      );
      if ('stopped' in outcome) {
        log.warn(
          {},
          'stopped before the run ended, reporting nothing: the control plane requeues or ends the run once its lease is past',
        );
      } else {
        // Decided only when the control plane took the final report (a summary was written
        // after it). An outcome of a lost or lapsed lease has none: the control plane may never
        // have heard of its logs, and this host keeps them a day.
        decided = outcome.summaryPath !== '';
        log.info({ status: outcome.status, reasonCode: outcome.reasonCode }, 'run finished');
      }
    } catch (thrown) {
      const error = normaliseError(thrown);
      log.warn({ code: error.code, err: error.message }, 'run abandoned');
    } finally {
      if (this.#held.get(grant.runId) === held) this.#held.delete(grant.runId);
      this.#watchLapses();
      await this.#tidyRun(grant.runId, decided, log);
    }
  }

  /**
   * Where this host holds the run's base: the local cache repository with the base commit
   * (fetched once, then only what is new). The runner works from there and records the run under
   * the repository and ref its job names. A job whose repository is a URL needs none: the runner
   * fetches it from there itself, never through the control plane.
   */
  async #withLocalBase(
    run: RunRecord,
    grant: LeaseGrant,
    view: HeldLeaseView,
    sendDeps: SendDeps,
  ): Promise<{ repo: string; commit: string } | undefined> {
    const job = parseJobSpec(run.jobSpec);
    if (isRepoUrl(job.repo)) return undefined;
    const repoPath = await openBaseCache(this.settings.cacheDir, this.#baseCacheKey(run.repo));
    // One fetch into a cache repository at a time: runs held side by side share it.
    const commit = await this.#serialised(repoPath, async () => {
      if (run.baseCommit !== null && (await hasCachedCommit(repoPath, run.baseCommit))) {
        return run.baseCommit;
      }
      const haves = await cachedBaseCommits(repoPath);
      const base = await sendWhileHeld(sendDeps, view, 'base pack', () =>
        this.deps.link.basePack(grant.runId, grant.fencingToken, haves),
      );
      await addBasePack(repoPath, base.commit, base.pack);
      return base.commit;
    });
    return { repo: repoPath, commit };
  }

  /** Runs `body` after every earlier body for the same key has settled. */
  async #serialised<T>(key: string, body: () => Promise<T>): Promise<T> {
    const before = this.#cacheLocks.get(key) ?? Promise.resolve();
    const current = before.then(body, body);
    const settled = current.then(
      () => undefined,
      () => undefined,
    );
    this.#cacheLocks.set(key, settled);
    try {
      return await current;
    } finally {
      if (this.#cacheLocks.get(key) === settled) this.#cacheLocks.delete(key);
    }
  }

  /**
   * The pause after `failures` failures in a row: doubling from `backoff.firstMs` up to
   * `backoff.maxMs`, each drawn in [step/2, step] so that the workers a restarted control plane
   * lost together do not all come back at the same instant.
   */
  #backoffMs(failures: number): number {
    const { firstMs, maxMs } = this.settings.backoff;
    return retryBackoffMs(failures, { baseMs: firstMs, maxMs }, this.deps.random);
  }

  /**
   * One heartbeat for every held lease, or the one on its way. With nothing held there is
   * nothing to renew, so none is sent, unless the worker is draining and has not said so yet.
   */
  #beat(joining?: HeldLease): Promise<void> {
    if (this.#beating !== null) {
      if (joining === undefined || this.#beatCarries.has(joining)) return this.#beating;
      return this.#beating.then(() => this.#beat(joining));
    }
    if (this.#held.size === 0 && !(this.#draining && !this.#drainReported)) {
      return Promise.resolve();
    }
    const beating = this.#sendBeat().finally(() => {
      this.#beating = null;
    });
    this.#beating = beating;
    return beating;
  }

  /**
   * A lease the server does not renew is lost; one whose deadline passes without a renewal
   * (the server unreachable) is given up the same way (also by #watchLapses, which does not
   * wait for a beat to fail). Carries whether this worker is draining.
   */
  async #sendBeat(): Promise<void> {
    const sentAt = readClock(this.deps.clock);
    const draining = this.#draining;
    this.#beatCarries = new Set(this.#held.values());
    const leases = [...this.#held.values()].map((held) => ({
      runId: held.grant.runId,
      fencingToken: held.grant.fencingToken,
    }));
    const sentTokens = new Map(leases.map((lease) => [lease.runId, lease.fencingToken]));
    try {
      const reply = await this.deps.link.workerHeartbeat(leases, {
        draining,
        ...this.#heartbeatTimeout(),
      });
      if (draining) this.#drainReported = true;
      const applied = applyHeartbeatOrders(this.#held, sentTokens, reply.runs, sentAt);
      for (const runId of applied.lost) {
        this.deps.log.warn({ runId }, 'lease lost: stopping the run, reporting nothing');
      }
      for (const runId of applied.cancelled) this.deps.log.info({ runId }, 'cancel requested');
      if (reply.drain !== this.#drainOrdered) {
        this.#drainOrdered = reply.drain;
        this.deps.log.info(
          { held: [...this.#held.keys()] },
          reply.drain
            ? 'drained by the control plane: finishing held runs, given none until resumed'
            : 'resumed by the control plane',
        );
      }
    } catch (thrown) {
      const error = normaliseError(thrown);
      if (error.code === 'UNAUTHENTICATED' || error.code === 'FORBIDDEN') {
        // Revoked while holding runs: revocation is how an administrator stops a worker, so its
        // sandboxes stop now rather than when their runs end; nothing they would report could
        // be accepted anyway. Any other failure (a proxy's error page, an answer this version
        // does not read) is a beat that failed: the leases lapse on their own deadlines.
        this.#refused(error);
        return;
      }
      this.deps.log.warn({ err: error.message }, 'heartbeat failed');
      this.#stopLapsed();
    } finally {
      this.#watchLapses();
    }
  }

  /**
   * Stops each run at its lease's deadline when no renewal moved it. Beats alone would notice
   * only when one fails, which a control plane that accepts the connection and never answers
   * puts off by the heartbeat's whole request timeout (10 s), on top of the pause between
   * beats: long enough for the sweep to have given the run to another worker while this
   * sandbox still runs. The timer is set again whenever a deadline may have moved.
   */
  #watchLapses(): void {
    if (this.#lapseWatch !== null) clearTimeout(this.#lapseWatch);
    this.#lapseWatch = null;
    if (this.#stopped) return;
    const nextInMs = nextLapseInMs(this.#held.values(), this.deps.clock);
    if (nextInMs === undefined) return;
    // Capped, so that a long lease never overflows the timer (it fires early then looks again).
    const waitMs = Math.min(Math.max(0, nextInMs), MAX_LAPSE_WAIT_MS);
    this.#lapseWatch = setTimeout(() => {
      this.#lapseWatch = null;
      this.#stopLapsed();
      this.#watchLapses();
    }, waitMs);
    this.#lapseWatch.unref();
  }

  #stopLapsed(): void {
    for (const runId of stopLapsedLeases(this.#held.values(), this.deps.clock)) {
      this.deps.log.warn(
        { runId },
        'lease lapsed while the control plane was unreachable: stopping, reporting nothing',
      );
    }
  }
}

/**
 * Why a base cannot exist whoever fetches it: the job names a repository or ref that is not, or
 * one the control plane may not read for it (JOB_INVALID: outside AAS_REPO_PATHS).
 */
const RUN_BASE_FAILURES: ReadonlySet<Code> = new Set<Code>([
  'JOB_INVALID',
  'REPO_NOT_FOUND',
  'REPO_NOT_GIT',
  'BASE_REF_UNKNOWN',
  'PAYLOAD_TOO_LARGE',
]);

/** The operator's policy layer as the lease carried it, checked like any policy file. */
function serverPolicyOf(grant: LeaseGrant): NamedLayer | null {
  if (grant.serverPolicy === null) return null;
  return {
    name: grant.serverPolicy.name,
    source: grant.serverPolicy.source,
    layer: validatePolicyLayer(grant.serverPolicy.layer, {
      file: `${grant.serverPolicy.source} (from the control plane)`,
      fieldPrefix: 'policy',
      code: 'POLICY_INVALID',
    }),
  };
}

/** A run this host cannot even start (its base cannot be fetched): ended with the reason. */
async function reportUnrunnable(
  store: RemoteRunStore,
  run: RunRecord,
  clock: Clock,
  code: Code,
  detail: string,
): Promise<void> {
  const reasonCode: Code = isCode(code) ? code : 'INTERNAL';
  const status = runStatusFor(reasonCode);
  const at = clock.nowIso();
  await store.updateRun({
    runId: run.id,
    changes: {
      status,
      reasonCode,
      reasonDetail: detail,
      finishedAt: at,
      patchSha256: null,
      leaseOwner: null,
      leaseExpiresAt: null,
    },
    events: [
      {
        ...sessionEvent('run.completed', {
          runId: run.id,
          status,
          reasonCode,
          detail,
          patchSha256: null,
        }),
        at,
        actor: run.leaseOwner ?? 'worker',
      },
    ],
    expect: { status: ['running'] },
  });
}
