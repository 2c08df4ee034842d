import { AasError, type Clock, type Logger, sha256Hex } from '../kernel/index.js';
import type { NamedLayer } from '../policy/index.js';
import type { ClaimFence, RunQueue } from '../queue/index.js';
import { LOG_TAIL_BYTES, PATCH_MAX_BYTES, parseJobSpec } from '../runner/index.js';
import type { EventBus } from '../sessions/index.js';
import type {
  RemoteWorkerRecord,
  RunArtifactRecord,
  RunRecord,
  RunStatus,
  Store,
  WorkerMatch,
} from '../store/index.js';
import {
  type BasePack,
  checkRepoPath,
  createBasePack,
  isRepoUrl,
  type RepoPathRule,
} from '../workspaces/index.js';
import { onClaimableChange } from './claim-wake-events.js';
import { applyLeaseOp, type LeaseOp, type LeaseOpResult } from './lease-ops.js';
import { OneAtATime } from './one-at-a-time.js';

/** What a remote worker receives with a claim: everything it needs to run the job elsewhere. */
export interface RemoteLease {
  readonly runId: string;
  readonly sessionId: string;
  /** This claim's number (1 = first) and how many the job allows. */
  readonly claim: number;
  readonly maxClaims: number;
  readonly jobSpec: unknown;
  /** The repository as the job named it (a path on the server, or a URL). */
  readonly repo: string;
  readonly baseRef: string | null;
  readonly baseCommit: string | null;
  readonly leaseExpiresAt: string;
  readonly fencingToken: number;
  /** How long a lease lasts without renewal: a worker that cannot reach the server stops by then. */
  readonly leaseMs: number;
  /** The operator's policy layer, merged by the worker's runner exactly as here. */
  readonly serverPolicy: NamedLayer | null;
  /** The server's model-spend limits beyond the run's own policy. */
  readonly budgets: { readonly sessionMaxCostUsd?: number; readonly repoDailyMaxCostUsd?: number };
  /** Where the worker fetches the base (GET, with `have` commits it already holds). */
  readonly basePackPath: string;
}

/** Per held lease: keep going, stop because the run was cancelled, or stop because it was lost. */
export type LeaseOrder = 'ok' | 'cancel' | 'lost';

/** Final statuses a remote worker may report (promotion states are the control plane's). */
export const REPORTABLE_STATUSES = ['human_review', 'blocked', 'failed', 'cancelled'] as const;
export type ReportableStatus = (typeof REPORTABLE_STATUSES)[number] & RunStatus;

export interface RemoteWorkerSettings {
  /** How often a waiting claim asks the store again when the bus is quiet (other servers queue too). */
  readonly pollMs: number;
  readonly leaseMs: number;
  readonly serverPolicy: NamedLayer | null;
  readonly budgets: { readonly sessionMaxCostUsd?: number; readonly repoDailyMaxCostUsd?: number };
  /** Where a job's local repository may be (AAS_REPO_PATHS), checked again before it is packed. */
  readonly repoPaths?: RepoPathRule;
}

/**
 * The control plane's side of the remote-worker protocol: long-poll claims filtered by what the
 * worker offers, heartbeats that renew every lease it holds and carry cancel and drain orders,
 * and fenced final reports. The API reaches it through its `WorkerGateway` port.
 *
 * Two kinds of draining, kept apart on purpose:
 * - an administrator's drain (`setDraining`) is an order, stored with the worker: it gets no
 *   claims, its heartbeats say `drain`, and this holds across the worker's restarts until the
 *   administrator resumes it;
 * - a worker's own drain (SIGTERM: it finishes what it holds and exits) is a state of that
 *   process, reported on its heartbeats and recorded for display only (`selfDrainReportedAt`,
 *   so every replica shows it): claims never read it, so the same worker started again claims
 *   at once, and it can never clear an administrator's drain either. Its first claim, or a
 *   heartbeat that does not say it, clears it.
 */
export class RemoteWorkers {
  readonly #waiting = new Set<() => void>();
  readonly #packing = new OneAtATime();
  #stopped = false;

  constructor(
    private readonly deps: {
      readonly queue: RunQueue;
      readonly store: Store;
      readonly clock: Clock;
      readonly bus: EventBus;
      readonly log: Logger;
    },
    private readonly settings: RemoteWorkerSettings,
  ) {}

  /** What a remote worker offers a claim: its labels, its name (a pin) and its agents. */
  static match(worker: RemoteWorkerRecord): WorkerMatch {
    return {
      offers: [
        ...worker.labels.map((label) => `label:${label}`),
        `worker:${worker.name}`,
        ...worker.capabilities.agents.map((agent) => `agent:${agent}`),
      ],
      anyAgent: false,
    };
  }

  /**
   * Claims a run `worker` can execute, waiting up to `waitMs` for one: a run queued or requeued
   * in this process wakes the wait at once; otherwise the store is asked again every `pollMs`
   * (runs queued by other servers sharing the database). Null when the wait ends empty, the
   * request goes away (`signal`), the service stops, or the worker is revoked.
   *
   * A worker an administrator drained waits out its claims empty-handed rather than being
   * answered at once (a worker started while drained would otherwise ask again and again), and
   * is served again as soon as it is resumed. The worker is read again after every wait, so a
   * drain ordered while a claim waits is obeyed.
   */
  async claim(
    worker: RemoteWorkerRecord,
    waitMs: number,
    signal?: AbortSignal,
  ): Promise<RemoteLease | null> {
    this.#refuseIfStopped();
    // A worker that claims is not draining itself: this is a new process, or it never was.
    let current = await this.deps.store.recordWorkerSeen(
      worker.id,
      this.deps.clock.nowIso(),
      false,
    );
    const match = RemoteWorkers.match(current);
    // The wait's end, and the request going away, both end the current wait at once.
    const expiry = new AbortController();
    const deadline = waitMs > 0 ? setTimeout(() => expiry.abort(), waitMs) : undefined;
    if (deadline === undefined) expiry.abort();
    const ended = signal === undefined ? expiry.signal : AbortSignal.any([signal, expiry.signal]);
    const gone = () => signal?.aborted === true;
    try {
      for (;;) {
        if (current.revokedAt !== null) return null;
        // Gone already: claim nothing for a request nobody waits on.
        if (gone()) return null;
        this.#refuseIfStopped();
        if (!current.draining) {
          const claimed = await this.deps.queue.claim(worker.id, { match });
          if (claimed !== null) {
            // The request went away while the claim was made: nobody will run it or renew it.
            // Given back now, it is claimable at once and its budget is untouched, instead of
            // waiting out the lease and spending a claim.
            if (gone()) {
              await this.deps.queue.giveBack(
                claimed,
                `claim not delivered: ${worker.id} went away before the answer`,
              );
              return null;
            }
            return this.#leaseOf(claimed.run, claimed.fence);
          }
        }
        if (ended.aborted) return null;
        this.#refuseIfStopped();
        await this.#wait(ended);
        current = (await this.deps.store.getWorker(worker.id)) ?? current;
      }
    } finally {
      clearTimeout(deadline);
    }
  }

  /**
   * Renews every lease `worker` lists, each under its own fencing token, and answers per run:
   * `ok`, `cancel` (stop, the run was cancelled: report it cancelled) or `lost` (another holder
   * or the sweep has it: stop and report nothing). `drain`: finish what you hold, claim nothing
   * (an administrator's order). `state.draining`: the worker says it is draining itself.
   */
  async heartbeat(
    worker: RemoteWorkerRecord,
    leases: readonly { readonly runId: string; readonly fencingToken: number }[],
    state: { readonly draining?: boolean | undefined } = {},
  ): Promise<{ runs: { runId: string; order: LeaseOrder }[]; drain: boolean }> {
    const seen = await this.deps.store.recordWorkerSeen(
      worker.id,
      this.deps.clock.nowIso(),
      state.draining === true,
    );
    const runs: { runId: string; order: LeaseOrder }[] = [];
    for (const lease of leases) {
      const fence: ClaimFence = {
        runId: lease.runId,
        leaseOwner: worker.id,
        fencingToken: lease.fencingToken,
      };
      let order: LeaseOrder;
      try {
        const renewal = await this.deps.queue.heartbeat(fence);
        order = !renewal.held ? 'lost' : renewal.cancelRequested ? 'cancel' : 'ok';
      } catch (thrown) {
        // A run id the store does not know is not a lease this worker holds.
        if (!(thrown instanceof AasError) || thrown.code !== 'NOT_FOUND') throw thrown;
        order = 'lost';
      }
      runs.push({ runId: lease.runId, order });
    }
    return { runs, drain: seen.draining };
  }

  /**
   * An administrator drains (`true`) or resumes (`false`) a worker by id or name; NOT_FOUND.
   * Claims waiting here look again at once: a drained worker's claim gets nothing more, a
   * resumed one's is served (claims waiting on other servers notice within `pollMs`).
   */
  async setDraining(idOrName: string, draining: boolean): Promise<RemoteWorkerRecord> {
    const worker = await this.deps.store.setWorkerDraining(idOrName, draining);
    for (const wake of this.#waiting) wake();
    return worker;
  }

  /**
   * The worker's final report on a run it holds: recorded only with the current fencing token
   * (else LEASE_FENCED, and `lease.fenced` is recorded).
   */
  async report(
    worker: RemoteWorkerRecord,
    runId: string,
    report: {
      readonly fencingToken: number;
      readonly status: ReportableStatus;
      readonly reasonCode: string;
      readonly detail: string;
    },
  ): Promise<RunRecord> {
    await this.deps.store.recordWorkerSeen(worker.id, this.deps.clock.nowIso());
    // A refused report is recorded in the run's history (lease.fenced) only when this worker
    // holds the run under another claim; any other worker is refused without a trace, so no
    // worker can write into the history of runs it does not hold.
    const current = await this.deps.store.getRun(runId);
    if (current === null || current.leaseOwner !== worker.id) {
      throw new AasError('LEASE_FENCED', `run ${runId} is not leased to worker ${worker.name}`, {
        runId,
      });
    }
    const run = await this.deps.queue.complete(
      { runId, leaseOwner: worker.id, fencingToken: report.fencingToken },
      { status: report.status, reasonCode: report.reasonCode, detail: report.detail },
    );
    this.deps.log.info(
      { runId, worker: worker.name, status: run.status, reasonCode: run.reasonCode },
      'remote worker reported',
    );
    return run;
  }

  /** One runner operation of a worker on a run it holds (see applyLeaseOp). */
  async leaseOp(
    worker: RemoteWorkerRecord,
    runId: string,
    fencingToken: number,
    op: LeaseOp,
  ): Promise<LeaseOpResult> {
    const result = await applyLeaseOp(this.deps.store, worker, runId, fencingToken, op);
    // Committed: this server's streams, metrics and waiting claims hear of it as of any write
    // (other replicas through the relay).
    if ('events' in result) this.deps.bus.publish(result.events);
    return result;
  }

  /**
   * The base of a run the worker holds, as a git pack of the commit its job names in the
   * server's repository, cut against the commits the worker already has.
   */
  async basePack(
    worker: RemoteWorkerRecord,
    runId: string,
    fencingToken: number,
    haves: readonly string[],
    /** Aborts when the worker's request went away: the pack is then not built, or stopped. */
    signal?: AbortSignal,
  ): Promise<BasePack> {
    const run = await this.#heldRun(worker, runId, fencingToken);
    const job = parseJobSpec(run.jobSpec);
    if (isRepoUrl(job.repo)) {
      // The worker fetches a URL itself: the control plane never holds a copy of it to pack.
      throw new AasError('INVALID_ARGUMENT', `run ${runId} names a URL, not a server repository`, {
        field: 'repo',
        hint: `fetch it from its URL: ${job.repo}`,
      });
    }
    // Held to the rule when it is read, as a local run is: queued before the rule was narrowed
    // (or fired by an older schedule), it is refused here rather than packed.
    if (this.settings.repoPaths !== undefined)
      await checkRepoPath(job.repo, this.settings.repoPaths);
    // A requeued run keeps the base an earlier holder resolved, even if the branch moved since.
    // Packs are built one at a time per server: each holds a pack-objects and its output in
    // memory, and a worker must not be able to start any number of them at once.
    return this.#packing.run(
      () =>
        createBasePack({
          repo: job.repo,
          ref: run.baseCommit ?? job.baseRef ?? null,
          haves,
          ...(signal === undefined ? {} : { signal }),
        }),
      signal,
    );
  }

  /** Stores the patch or a log tail of a run the worker holds; the digest must match the bytes. */
  async putArtifact(
    worker: RemoteWorkerRecord,
    runId: string,
    upload: {
      readonly fencingToken: number;
      readonly name: string;
      readonly sha256: string;
      readonly originalBytes: number;
      readonly content: Buffer;
    },
  ): Promise<RunArtifactRecord> {
    const run = await this.#heldRun(worker, runId, upload.fencingToken);
    if (run.status !== 'running') {
      throw new AasError('CONFLICT', `run ${runId} is ${run.status}: its artifacts are final`, {
        runId,
      });
    }
    await this.#checkArtifactUpload(run, upload.name, upload.content.length);
    const actual = sha256Hex(upload.content);
    if (actual !== upload.sha256) {
      throw new AasError(
        'PATCH_DIGEST_MISMATCH',
        `the uploaded ${upload.name} hashes to ${actual}, not ${upload.sha256}`,
        { field: 'x-aas-sha256', hint: 'the upload was damaged on the way; send it again' },
      );
    }
    return this.deps.store.putRunArtifact({
      runId,
      name: upload.name,
      content: upload.content,
      sha256: actual,
      originalBytes: Math.max(upload.originalBytes, upload.content.length),
      createdAt: this.deps.clock.nowIso(),
      fence: { runId, leaseOwner: worker.id, fencingToken: upload.fencingToken },
    });
  }

  /**
   * Only what a runner uploads: the patch (whole, up to PATCH_MAX_BYTES) and the tails of the
   * logs of attempts the run has (agent output and validators), at most LOG_TAIL_BYTES each.
   */
  async #checkArtifactUpload(run: RunRecord, name: string, bytes: number): Promise<void> {
    if (name === 'patch') {
      if (bytes > PATCH_MAX_BYTES) {
        throw new AasError('PAYLOAD_TOO_LARGE', `a patch is at most ${PATCH_MAX_BYTES} bytes`, {
          field: 'body',
        });
      }
      return;
    }
    const match = RUNNER_LOG_NAME.exec(name);
    const attempt = Number(match?.[1]);
    const attempts = match ? await this.deps.store.listAttempts(run.id) : [];
    if (!attempts.some((known) => known.number === attempt)) {
      throw new AasError(
        'INVALID_ARGUMENT',
        `${name} is not a log of an attempt of run ${run.id} (<attempt>.stdout.log, <attempt>.stderr.log, <attempt>.validator-<n>.{stdout,stderr}.log)`,
        { field: 'name' },
      );
    }
    if (bytes > LOG_TAIL_BYTES) {
      throw new AasError('PAYLOAD_TOO_LARGE', `a log tail is at most ${LOG_TAIL_BYTES} bytes`, {
        field: 'body',
        hint: 'send the last bytes of the log and its whole size in x-aas-original-bytes',
      });
    }
  }

  async #heldRun(
    worker: RemoteWorkerRecord,
    runId: string,
    fencingToken: number,
  ): Promise<RunRecord> {
    const run = await this.deps.store.getRun(runId);
    if (run === null || run.leaseOwner !== worker.id || run.fencingToken !== fencingToken) {
      throw new AasError('LEASE_FENCED', `run ${runId} is not leased to worker ${worker.name}`, {
        runId,
      });
    }
    return run;
  }

  #leaseOf(run: RunRecord, fence: ClaimFence): RemoteLease {
    return {
      runId: run.id,
      sessionId: run.sessionId,
      claim: run.claimCount,
      maxClaims: run.maxClaims,
      jobSpec: run.jobSpec,
      repo: run.repo,
      baseRef: run.baseRef,
      baseCommit: run.baseCommit,
      leaseExpiresAt: run.leaseExpiresAt ?? '',
      fencingToken: fence.fencingToken,
      leaseMs: this.settings.leaseMs,
      serverPolicy: this.settings.serverPolicy,
      budgets: this.settings.budgets,
      basePackPath: `/api/v1/workers/runs/${encodeURIComponent(run.id)}/base-pack`,
    };
  }

  /** Claims waiting for work right now (between two looks at the store). */
  get waiting(): number {
    return this.#waiting.size;
  }

  /**
   * The server is closing: every waiting claim, and every claim from now on, is refused as
   * unavailable (503) without claiming anything. Not "nothing" (204): a worker asks again at
   * once after an empty answer, and would spin against this server for its whole shutdown grace
   * while runs still went out; a 503 makes it back off, or try another replica.
   */
  stop(): void {
    this.#stopped = true;
    for (const wake of this.#waiting) wake();
  }

  #refuseIfStopped(): void {
    if (!this.#stopped) return;
    throw new AasError('SERVER_UNAVAILABLE', 'this server is shutting down: it hands out no runs', {
      hint: 'ask again after a pause, or ask another replica',
    });
  }

  /**
   * Resolves when a run is queued or requeued or stops running (CLAIM_WAKE_EVENT_TYPES), when the
   * bus may have missed one, after `pollMs`, on abort, or on stop.
   */
  #wait(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const unsubscribe = [
        onClaimableChange(this.deps.bus, () => done()),
        this.deps.bus.onMissed(() => done()),
      ];
      const timer = setTimeout(done, this.settings.pollMs);
      const waiting = this.#waiting;
      waiting.add(done);
      signal.addEventListener('abort', done, { once: true });
      function done() {
        clearTimeout(timer);
        for (const off of unsubscribe) off();
        waiting.delete(done);
        signal.removeEventListener('abort', done);
        resolve();
      }
    });
  }
}

/** The logs a runner writes per attempt, by the names the API serves them under. */
const RUNNER_LOG_NAME =
  /^([1-9][0-9]{0,5})\.(?:stdout|stderr|validator-[1-9][0-9]{0,2}\.(?:stdout|stderr))\.log$/;
