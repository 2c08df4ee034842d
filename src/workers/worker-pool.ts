import { type Logger, normaliseError } from '../kernel/index.js';
import type { ClaimedRun, RunQueue } from '../queue/index.js';
import { executeClaimedRun, type RunnerDeps } from '../runner/index.js';
import type { WorkerMatch } from '../store/index.js';

export type WorkerState = 'idle' | 'busy' | 'draining' | 'stopped';

export interface EmbeddedWorkerStatus {
  readonly id: string;
  readonly state: WorkerState;
  readonly runId: string | null;
  readonly fencingToken: number | null;
  readonly leaseExpiresAt: string | null;
  readonly lastHeartbeatAt: string | null;
  readonly labels: readonly string[];
}

export interface WorkerPoolSettings {
  /** Number of concurrent worker loops. */
  readonly workers: number;
  /** Identity prefix; worker `i` is `<idPrefix>:<i>`. */
  readonly idPrefix: string;
  /** How long an idle worker waits before asking the queue again (a submit wakes it sooner). */
  readonly idlePollMs: number;
  /** Pause after a failed claim (the database is away): no tight loop against a dead store. */
  readonly errorBackoffMs: number;
  /** Labels every loop offers (`AAS_WORKER_LABELS`); a run requiring others is left alone. */
  readonly labels?: readonly string[];
}

interface WorkerSlot {
  id: string;
  state: WorkerState;
  claimed: ClaimedRun | null;
  leaseExpiresAt: string | null;
  lastHeartbeatAt: string | null;
  wake: (() => void) | null;
}

/**
 * Embedded workers: each loop claims a run from the durable queue, executes it under its claim
 * (heartbeats renew the lease and carry cancel orders) and asks for the next. `drain` stops
 * claiming, lets running attempts finish within a grace period, then stops the rest and gives
 * their runs back to the queue, so a restart picks them up instead of waiting for leases to lapse.
 */
export class WorkerPool {
  readonly #slots: WorkerSlot[];
  readonly #loops: Promise<void>[] = [];
  readonly #stop = new AbortController();
  #draining = false;

  constructor(
    private readonly deps: {
      readonly queue: RunQueue;
      readonly runnerDeps: RunnerDeps;
      readonly log: Logger;
    },
    private readonly settings: WorkerPoolSettings,
  ) {
    this.#slots = Array.from({ length: settings.workers }, (_, index) => ({
      id: `${settings.idPrefix}:${index + 1}`,
      state: 'idle' as WorkerState,
      claimed: null,
      leaseExpiresAt: null,
      lastHeartbeatAt: null,
      wake: null,
    }));
  }

  start(): void {
    for (const slot of this.#slots) this.#loops.push(this.#loop(slot));
  }

  /** Something was queued, or a run stopped running: idle workers ask now, not at their next poll. */
  wake(): void {
    for (const slot of this.#slots) slot.wake?.();
  }

  status(): EmbeddedWorkerStatus[] {
    return this.#slots.map((slot) => ({
      id: slot.id,
      state: slot.state,
      runId: slot.claimed?.run.id ?? null,
      fencingToken: slot.claimed?.fence.fencingToken ?? null,
      leaseExpiresAt: slot.leaseExpiresAt,
      lastHeartbeatAt: slot.lastHeartbeatAt,
      labels: this.settings.labels ?? [],
    }));
  }

  /** What each loop offers a claim; none once the pool drains. */
  matches(): WorkerMatch[] {
    return this.#draining ? [] : this.#slots.map((slot) => this.#match(slot));
  }

  get draining(): boolean {
    return this.#draining;
  }

  /**
   * Stops claiming; waits up to `graceMs` for running attempts; then stops their sandboxes and
   * gives their runs back (requeued or ended per the job). Resolves when every loop has ended.
   */
  async drain(graceMs: number): Promise<void> {
    this.#draining = true;
    for (const slot of this.#slots) {
      if (slot.state === 'idle') slot.state = 'draining';
      slot.wake?.();
    }
    const all = Promise.all(this.#loops);
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<'grace over'>((resolve) => {
      timer = setTimeout(() => resolve('grace over'), graceMs);
    });
    const first = await Promise.race([all.then(() => 'done' as const), graceOver]);
    clearTimeout(timer);
    if (first === 'grace over') {
      this.deps.log.warn(
        { running: this.status().filter((s) => s.runId !== null) },
        'grace period over: stopping running attempts and giving their runs back',
      );
      this.#stop.abort();
      await all;
    }
  }

  async #loop(slot: WorkerSlot): Promise<void> {
    const log = this.deps.log.child({ worker: slot.id });
    while (!this.#draining) {
      let claimed: ClaimedRun | null;
      try {
        claimed = await this.deps.queue.claim(slot.id, { match: this.#match(slot) });
      } catch (thrown) {
        log.error({ err: normaliseError(thrown).message }, 'claim failed');
        await this.#sleep(slot, this.settings.errorBackoffMs);
        continue;
      }
      if (claimed === null) {
        await this.#sleep(slot, this.settings.idlePollMs);
        continue;
      }
      await this.#execute(slot, claimed, log);
    }
    slot.state = 'stopped';
  }

  /**
   * What an embedded loop offers: the configured labels and its own id (a job may pin it). Any
   * agent: the server's registry refused jobs naming agents it does not have at submission.
   */
  #match(slot: WorkerSlot): WorkerMatch {
    return {
      offers: [
        ...(this.settings.labels ?? []).map((label) => `label:${label}`),
        `worker:${slot.id}`,
      ],
      anyAgent: true,
    };
  }

  async #execute(slot: WorkerSlot, claimed: ClaimedRun, log: Logger): Promise<void> {
    slot.state = 'busy';
    slot.claimed = claimed;
    slot.leaseExpiresAt = claimed.run.leaseExpiresAt;
    const { queue } = this.deps;
    try {
      const outcome = await executeClaimedRun(
        { ...this.deps.runnerDeps, owner: slot.id },
        claimed,
        {
          stop: this.#stop.signal,
          renewLease: () => queue.heartbeat(claimed.fence),
          onHeartbeat: (renewal) => {
            slot.lastHeartbeatAt = this.deps.runnerDeps.clock.nowIso();
            if (renewal.held) slot.leaseExpiresAt = queue.leaseExpiresAt();
          },
        },
      );
      if ('stopped' in outcome) {
        const given = await queue.release(claimed.fence, 'the worker shut down');
        log.warn({ runId: claimed.run.id, result: given }, 'run given back on shutdown');
      } else {
        log.info(
          { runId: outcome.runId, status: outcome.status, reasonCode: outcome.reasonCode },
          'run finished',
        );
      }
    } catch (thrown) {
      // The runner records its own failures; what reaches here is the store going away
      // mid-run. The lease then lapses and the sweep requeues or ends the run.
      log.error({ err: normaliseError(thrown).message, runId: claimed.run.id }, 'run aborted');
    } finally {
      slot.claimed = null;
      slot.leaseExpiresAt = null;
      slot.state = this.#draining ? 'draining' : 'idle';
    }
  }

  #sleep(slot: WorkerSlot, ms: number): Promise<void> {
    if (this.#draining) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        slot.wake = null;
        resolve();
      }
      slot.wake = done;
    });
  }
}
