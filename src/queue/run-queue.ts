import { AasError, type Clock, isAasError, type Logger } from '../kernel/index.js';
import { type EventBus, SessionRecorder, sessionEvent } from '../sessions/index.js';
import type {
  HeldFence,
  LeaseRenewal,
  RunRecord,
  RunStatus,
  Store,
  WorkerMatch,
} from '../store/index.js';
import { retryBackoffMs } from './retry-backoff.js';

export interface QueueDeps {
  readonly store: Store;
  readonly clock: Clock;
  readonly log: Logger;
  readonly bus: EventBus;
}

export interface QueueSettings {
  /** How long a claim lasts without a heartbeat. */
  readonly leaseMs: number;
  /** At most this many runs of one repository run at once; unlimited when absent. */
  readonly maxRunningPerRepo?: number;
  /** Backoff before an interrupted run is claimable again. */
  readonly retryBackoff: { readonly baseMs: number; readonly maxMs: number };
  /** Jitter source; injectable so tests can pin it. */
  readonly random?: () => number;
}

/** The fence of a claim: owner and token together, so a re-claim fences the earlier holder. */
export type ClaimFence = HeldFence;

export interface ClaimedRun {
  readonly run: RunRecord;
  readonly fence: ClaimFence;
}

export type CancelOutcome = 'cancelled' | 'cancel_requested';

export interface SweepReport {
  readonly requeued: readonly string[];
  readonly ended: readonly string[];
  /** Records of applied remote writes forgotten (runs finished an hour ago or more). */
  readonly prunedLeaseWrites: number;
}

/**
 * How long the record of a remote worker's numbered write outlives its run: a worker retries a
 * write only while its lease could still be held (a minute by default), so an hour is ample.
 */
export const LEASE_WRITE_RETENTION_MS = 3_600_000;
/** Sweeps run every second or so; the prune, a table scan, at most this often. */
const LEASE_WRITE_PRUNE_EVERY_MS = 10 * 60_000;
/** Runs whose records one prune transaction deletes, and transactions per prune. */
const LEASE_WRITE_PRUNE_RUNS = 200;
const LEASE_WRITE_PRUNE_BATCHES = 50;
/**
 * How often the sweep gives back unspent a claim whose holder never acknowledged it (see
 * #interrupt): enough for answers lost in transit, few enough that a run killing every holder
 * before its first heartbeat still ends.
 */
const MAX_UNACKNOWLEDGED_CLAIMS = 3;

/**
 * The durable run queue: claims with a lease and a fencing token, heartbeats that renew the
 * lease and carry cancel orders, cancel requests, and the sweep that deals with holders that
 * stopped heartbeating. Everything is a store operation that records its events in the same
 * transaction, so any number of processes can share one queue.
 */
export class RunQueue {
  #nextLeaseWritePruneMs = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly deps: QueueDeps,
    readonly settings: QueueSettings,
  ) {}

  leaseExpiresAt(): string {
    return new Date(this.deps.clock.nowMs() + this.settings.leaseMs).toISOString();
  }

  /**
   * Claims the best claimable run for `owner` (or exactly `runId`), or null when none is. With
   * `match`, only runs whose requirements the worker meets (see Store.claimRun).
   */
  async claim(
    owner: string,
    options: { runId?: string; match?: WorkerMatch } = {},
  ): Promise<ClaimedRun | null> {
    const nowIso = this.deps.clock.nowIso();
    const leaseExpiresAt = this.leaseExpiresAt();
    const claimed = await this.deps.store.claimRun({
      owner,
      nowIso,
      leaseExpiresAt,
      ...(this.settings.maxRunningPerRepo === undefined
        ? {}
        : { maxRunningPerRepo: this.settings.maxRunningPerRepo }),
      ...(options.runId === undefined ? {} : { runId: options.runId }),
      ...(options.match === undefined ? {} : { match: options.match }),
    });
    if (claimed === null) return null;
    this.deps.bus.publish(claimed.events);
    return {
      run: claimed.run,
      fence: { runId: claimed.run.id, leaseOwner: owner, fencingToken: claimed.run.fencingToken },
    };
  }

  /** Renews the lease; the answer says whether it is still held and whether to stop. */
  heartbeat(fence: ClaimFence): Promise<LeaseRenewal> {
    return this.deps.store.renewRunLease(fence, this.leaseExpiresAt());
  }

  /**
   * A queued run is cancelled at once. A running run is flagged; its holder learns it from the
   * next heartbeat and must stop within the grace period (if it never does, the sweep ends the
   * run as cancelled once the lease expires). A finished run is CONFLICT.
   */
  async requestCancel(
    runId: string,
    actor: string,
  ): Promise<{ run: RunRecord; outcome: CancelOutcome }> {
    const recorder = (run: RunRecord) => new SessionRecorder(this.deps, run.sessionId, actor);
    // Two tries: the run may be claimed between reading it and cancelling it as queued.
    for (let round = 0; round < 3; round += 1) {
      const run = await this.deps.store.getRun(runId);
      if (run === null) throw new AasError('NOT_FOUND', `no run ${runId}`, { field: 'runId' });
      const at = this.deps.clock.nowIso();
      try {
        if (run.status === 'queued') {
          // A run requeued after an interrupted claim did start: it waited for another one.
          const detail =
            run.claimCount === 0
              ? `cancelled by ${actor} before it started`
              : `cancelled by ${actor} while queued again after ${run.claimCount} interrupted claim(s)`;
          const cancelled = await recorder(run).updateRun(
            runId,
            {
              status: 'cancelled',
              reasonCode: 'CANCELLED',
              reasonDetail: detail,
              finishedAt: at,
              cancelRequestedAt: at,
              cancelRequestedBy: actor,
              leaseOwner: null,
              leaseExpiresAt: null,
            },
            [
              sessionEvent('run.cancel.requested', { runId, by: actor, statusAtRequest: 'queued' }),
              sessionEvent('run.completed', {
                runId,
                status: 'cancelled',
                reasonCode: 'CANCELLED',
                detail,
                patchSha256: null,
              }),
            ],
            { status: ['queued'], version: run.version },
          );
          return { run: cancelled, outcome: 'cancelled' };
        }
        if (run.status === 'running') {
          if (run.cancelRequestedAt !== null) return { run, outcome: 'cancel_requested' };
          const flagged = await recorder(run).updateRun(
            runId,
            { cancelRequestedAt: at, cancelRequestedBy: actor },
            [
              sessionEvent('run.cancel.requested', {
                runId,
                by: actor,
                statusAtRequest: 'running',
              }),
            ],
            { status: ['running'], version: run.version },
          );
          return { run: flagged, outcome: 'cancel_requested' };
        }
      } catch (thrown) {
        // The run moved (claimed, renewed, finished) since it was read: look again.
        if (isAasError(thrown) && thrown.code === 'CONFLICT') continue;
        throw thrown;
      }
      throw new AasError('CONFLICT', `run ${runId} has already finished as ${run.status}`, {
        runId,
        status: run.status,
        hint: 'only queued or running runs can be cancelled',
      });
    }
    throw new AasError('CONFLICT', `run ${runId} kept changing while it was being cancelled`, {
      runId,
      hint: 'try again',
    });
  }

  /**
   * Records the holder's final report: the run ends with `outcome`, only while `fence` still
   * holds its lease (owner and fencing token, checked in the write's own transaction). A stale
   * holder's report is not written; that it was refused is (`lease.fenced`, unfenced, so the
   * history says why this holder's work is missing), and LEASE_FENCED is thrown.
   */
  async complete(
    fence: ClaimFence,
    outcome: { status: RunStatus; reasonCode: string; detail: string },
  ): Promise<RunRecord> {
    const run = await this.deps.store.getRun(fence.runId);
    if (run === null) throw new AasError('NOT_FOUND', `no run ${fence.runId}`, { field: 'runId' });
    const recorder = new SessionRecorder(this.deps, run.sessionId, fence.leaseOwner);
    try {
      return await recorder.fenced(fence).updateRun(
        run.id,
        {
          status: outcome.status,
          reasonCode: outcome.reasonCode,
          reasonDetail: outcome.detail,
          finishedAt: this.deps.clock.nowIso(),
          leaseOwner: null,
          leaseExpiresAt: null,
        },
        [
          sessionEvent('run.completed', {
            runId: run.id,
            status: outcome.status,
            reasonCode: outcome.reasonCode,
            detail: outcome.detail,
            patchSha256: null,
          }),
        ],
        { status: ['running'] },
      );
    } catch (thrown) {
      if (!isAasError(thrown) || thrown.code !== 'LEASE_FENCED') throw thrown;
      const current = (await this.deps.store.getRun(run.id)) ?? run;
      await recorder.append(
        sessionEvent('lease.fenced', {
          runId: run.id,
          staleOwner: fence.leaseOwner,
          staleFencingToken: fence.fencingToken,
          currentOwner: current.leaseOwner,
          currentFencingToken: current.fencingToken,
          rejected: 'the final report of a holder that lost its lease',
        }),
      );
      throw thrown;
    }
  }

  /**
   * The holder gives the run back (it is shutting down): requeued if the job's claim budget
   * allows, else ended INTERRUPTED. Fenced: a holder that already lost the run changes nothing.
   */
  async release(
    fence: ClaimFence,
    reason: string,
  ): Promise<'requeued' | 'ended' | 'cancelled' | 'lost'> {
    const run = await this.deps.store.getRun(fence.runId);
    if (
      run === null ||
      run.leaseOwner !== fence.leaseOwner ||
      run.fencingToken !== fence.fencingToken ||
      run.status !== 'running'
    ) {
      return 'lost';
    }
    try {
      return await this.#interrupt(run, reason, fence);
    } catch (thrown) {
      if (isAasError(thrown) && (thrown.code === 'CONFLICT' || thrown.code === 'LEASE_FENCED')) {
        return 'lost';
      }
      throw thrown;
    }
  }

  /**
   * Gives back a claim its holder never received (the worker's long-poll went away while the
   * claim was being made): the run is queued again at once and the claim is not counted
   * against its budget, so a worker stopping at the wrong instant cannot end a run that allows
   * one claim. History keeps the claim (run.started) and says why it was undone (run.interrupted
   * with cause `released`, then run.requeued). A cancel requested meanwhile ends the run
   * cancelled instead (a queued run with a pending cancel would be claimed by no one). False
   * when the claim is no longer this fence's.
   */
  async giveBack(claimed: ClaimedRun, reason: string): Promise<boolean> {
    const { fence } = claimed;
    // Each pass expects the version it read: a cancel landing in between makes it read again.
    for (let pass = 0; pass < 3; pass += 1) {
      const run = await this.deps.store.getRun(fence.runId);
      if (
        run === null ||
        run.status !== 'running' ||
        run.leaseOwner !== fence.leaseOwner ||
        run.fencingToken !== fence.fencingToken
      ) {
        return false;
      }
      try {
        if (run.cancelRequestedAt !== null) {
          await this.#interrupt(run, reason, fence);
          return true;
        }
        await this.#requeueUnspent(
          new SessionRecorder(this.deps, run.sessionId, fence.leaseOwner).fenced(fence),
          run,
          { reason, cause: 'released' },
          { status: ['running'], version: run.version },
        );
        return true;
      } catch (thrown) {
        if (isAasError(thrown) && thrown.code === 'CONFLICT') continue;
        if (isAasError(thrown) && thrown.code === 'LEASE_FENCED') return false;
        throw thrown;
      }
    }
    return false;
  }

  /**
   * Deals with every run whose lease expired: its holder crashed or lost the database. A
   * running run is requeued while its claim budget lasts, else ended INTERRUPTED; a run whose
   * cancel was requested ends CANCELLED; a run reserved by a process that died before starting
   * it ends INTERRUPTED. Safe to run from several processes at once: each change expects the
   * exact version read, so only one sweeper records it.
   */
  async sweep(actor: string): Promise<SweepReport> {
    const expired = await this.deps.store.listRunsWithExpiredLease(this.deps.clock.nowIso(), 500);
    const requeued: string[] = [];
    const ended: string[] = [];
    for (const run of expired) {
      try {
        const result = await this.#interrupt(run, 'lease expired', undefined, actor);
        (result === 'requeued' ? requeued : ended).push(run.id);
      } catch (thrown) {
        // Another sweeper, or the holder renewing just in time, changed the run first: fine.
        if (!isAasError(thrown) || thrown.code !== 'CONFLICT') throw thrown;
      }
    }
    if (requeued.length + ended.length > 0) {
      this.deps.log.warn({ requeued, ended }, 'runs whose lease expired were recovered');
    }
    return { requeued, ended, prunedLeaseWrites: await this.#pruneLeaseWrites() };
  }

  async #pruneLeaseWrites(): Promise<number> {
    const nowMs = this.deps.clock.nowMs();
    if (nowMs < this.#nextLeaseWritePruneMs) return 0;
    this.#nextLeaseWritePruneMs = nowMs + LEASE_WRITE_PRUNE_EVERY_MS;
    const cutoff = new Date(nowMs - LEASE_WRITE_RETENTION_MS).toISOString();
    // In short transactions, so a backlog never holds the database (SQLite's one writer) long;
    // what one sweep leaves, the next prune takes.
    let records = 0;
    for (let batch = 0; batch < LEASE_WRITE_PRUNE_BATCHES; batch += 1) {
      const pruned = await this.deps.store.pruneLeaseWrites(cutoff, LEASE_WRITE_PRUNE_RUNS);
      records += pruned.records;
      if (pruned.runs < LEASE_WRITE_PRUNE_RUNS) break;
    }
    return records;
  }

  async #interrupt(
    run: RunRecord,
    reason: string,
    fence: ClaimFence | undefined,
    sweeper?: string,
  ): Promise<'requeued' | 'ended' | 'cancelled'> {
    const actor = fence?.leaseOwner ?? sweeper ?? 'system:queue';
    const recorder = new SessionRecorder(this.deps, run.sessionId, actor);
    const at = this.deps.clock.nowIso();
    const detail =
      run.status === 'queued'
        ? `reserved by ${run.leaseOwner ?? 'nobody'}, which stopped before starting it (reservation expired at ${run.leaseExpiresAt ?? '?'})`
        : fence
          ? `${reason}: ${fence.leaseOwner} gave the run back before it finished`
          : `${reason}: the lease held by ${run.leaseOwner ?? 'nobody'} expired at ${run.leaseExpiresAt ?? '?'} before the run finished`;
    // Attempts listed before the run changes: once it is requeued, a new holder's attempts are
    // its own and must not be touched.
    const openAttempts = (await this.deps.store.listAttempts(run.id)).filter(
      (attempt) => attempt.status === 'running',
    );
    // The version read by the sweep: a holder that renewed since then wins (CONFLICT).
    const expect = { status: [run.status], ...(fence ? {} : { version: run.version }) };
    const interrupted = sessionEvent('run.interrupted', {
      runId: run.id,
      previousOwner: run.leaseOwner,
      detail,
      cause: run.status === 'queued' ? 'reservation_expired' : fence ? 'released' : 'lease_expired',
    });
    const fencedRecorder = fence ? recorder.fenced(fence) : recorder;
    // An attempt left `running` by a dead holder ends as interrupted with its run, in the same
    // transaction and before it in the history, so history never shows it live nor out of order.
    const ends = openAttempts.map((attempt) => ({
      attemptId: attempt.id,
      status: 'failed' as const,
      reasonCode: 'INTERRUPTED',
      finishedAt: at,
      detail: { interrupted: detail },
      event: sessionEvent('run.attempt.finished', {
        runId: run.id,
        attempt: attempt.number,
        agentId: attempt.agentId,
        status: 'interrupted',
        code: 'INTERRUPTED',
        detail,
        durationMs: Math.max(0, Date.parse(at) - Date.parse(attempt.startedAt)),
      }),
    }));
    if (run.status === 'running' && run.cancelRequestedAt !== null) {
      const cancelDetail = `cancelled by ${run.cancelRequestedBy ?? 'request'}; ${detail}`;
      await fencedRecorder.updateRun(
        run.id,
        {
          status: 'cancelled',
          reasonCode: 'CANCELLED',
          reasonDetail: cancelDetail,
          finishedAt: at,
          leaseOwner: null,
          leaseExpiresAt: null,
        },
        [
          interrupted,
          sessionEvent('run.completed', {
            runId: run.id,
            status: 'cancelled',
            reasonCode: 'CANCELLED',
            detail: cancelDetail,
            patchSha256: null,
          }),
        ],
        expect,
        ends,
      );
      return 'cancelled';
    }
    if (
      run.status === 'running' &&
      fence === undefined &&
      run.renewedFencingToken !== run.fencingToken &&
      openAttempts.length === 0 &&
      run.unacknowledgedClaims < MAX_UNACKNOWLEDGED_CLAIMS
    ) {
      // No heartbeat ever came under this claim and no attempt started: its holder most likely
      // never received it (the answer lost on its way), so it is given back like an undelivered
      // claim (giveBack), at once and unspent. A few times only: a run that kills its holder
      // before the first heartbeat must still use up its budget.
      await this.#requeueUnspent(
        recorder,
        run,
        {
          reason: `${detail}; ${run.leaseOwner ?? 'its holder'} never acknowledged the claim (no heartbeat), so it is given back unspent`,
          cause: 'lease_expired',
        },
        expect,
        { unacknowledgedClaims: run.unacknowledgedClaims + 1 },
      );
      return 'requeued';
    }
    if (run.status === 'running' && run.claimCount < run.maxClaims) {
      const notBefore = new Date(
        this.deps.clock.nowMs() +
          retryBackoffMs(run.claimCount, this.settings.retryBackoff, this.settings.random),
      ).toISOString();
      await fencedRecorder.updateRun(
        run.id,
        { status: 'queued', leaseOwner: null, leaseExpiresAt: null, notBefore },
        [
          interrupted,
          sessionEvent('run.requeued', {
            runId: run.id,
            reason: detail,
            notBefore,
            claimsUsed: run.claimCount,
            maxClaims: run.maxClaims,
          }),
        ],
        expect,
        ends,
      );
      return 'requeued';
    }
    await fencedRecorder.updateRun(
      run.id,
      {
        status: 'failed',
        reasonCode: 'INTERRUPTED',
        reasonDetail: detail,
        finishedAt: at,
        leaseOwner: null,
        leaseExpiresAt: null,
      },
      [
        interrupted,
        sessionEvent('run.completed', {
          runId: run.id,
          status: 'failed',
          reasonCode: 'INTERRUPTED',
          detail,
          patchSha256: null,
        }),
      ],
      expect,
      ends,
    );
    return 'ended';
  }

  /**
   * Queues the run again at once with its claim not counted (claim_count − 1), recording why
   * the claim was undone (run.interrupted) and the requeue: a claim its holder never had.
   */
  async #requeueUnspent(
    recorder: SessionRecorder,
    run: RunRecord,
    why: { readonly reason: string; readonly cause: 'released' | 'lease_expired' },
    expect: { status: readonly RunStatus[]; version?: number },
    changes: { readonly unacknowledgedClaims?: number } = {},
  ): Promise<void> {
    const claimsUsed = Math.max(0, run.claimCount - 1);
    await recorder.updateRun(
      run.id,
      {
        ...changes,
        status: 'queued',
        leaseOwner: null,
        leaseExpiresAt: null,
        notBefore: null,
        claimCount: claimsUsed,
      },
      [
        sessionEvent('run.interrupted', {
          runId: run.id,
          previousOwner: run.leaseOwner,
          detail: why.reason,
          cause: why.cause,
        }),
        sessionEvent('run.requeued', {
          runId: run.id,
          reason: why.reason,
          notBefore: this.deps.clock.nowIso(),
          claimsUsed,
          maxClaims: run.maxClaims,
        }),
      ],
      expect,
    );
  }
}
