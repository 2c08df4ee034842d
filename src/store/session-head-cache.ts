import type { StoredEvent } from './records.js';

/** A session's chain head as this process last wrote or read it: a guess, never an authority. */
export interface KnownHead {
  readonly sessionId: string;
  readonly lastSeq: number;
  readonly lastHash: string;
}

/**
 * Sessions' chain heads as this store's own writes left them, and which session each run it
 * claimed or created belongs to, so that a write can chain its events before it reaches the
 * database and check the guess there (see postgres-run-update-batch.ts) instead of reading the head
 * under a lock first. Any other writer makes a guess stale; a stale guess only costs a retry
 * through the locking path. Least recently used entries go first beyond `capacity`.
 */
export class SessionHeadCache {
  readonly #heads = new Map<string, KnownHead>();
  readonly #sessionOfRun = new Map<string, string>();

  constructor(private readonly capacity = 4_096) {}

  /** The head after `events` (one session's, as committed), unless an even newer one is known. */
  remember(events: readonly StoredEvent[]): void {
    const last = events.at(-1);
    if (last === undefined) return;
    const known = this.#heads.get(last.sessionId);
    // Two writes of one session may report in either order; seqs only grow.
    if (known !== undefined && known.lastSeq >= last.seq) return;
    this.#heads.delete(last.sessionId);
    this.#heads.set(last.sessionId, {
      sessionId: last.sessionId,
      lastSeq: last.seq,
      lastHash: last.hash,
    });
    evictBeyond(this.#heads, this.capacity);
  }

  rememberRun(runId: string, sessionId: string): void {
    this.#sessionOfRun.delete(runId);
    this.#sessionOfRun.set(runId, sessionId);
    evictBeyond(this.#sessionOfRun, this.capacity);
  }

  /** The head last known for the session of `runId`, if both are known. */
  headOfRun(runId: string): KnownHead | undefined {
    const sessionId = this.#sessionOfRun.get(runId);
    return sessionId === undefined ? undefined : this.#heads.get(sessionId);
  }

  /** Drops a guess found stale, so the next write does not try it again. */
  forget(sessionId: string): void {
    this.#heads.delete(sessionId);
  }
}

function evictBeyond(map: Map<string, unknown>, capacity: number): void {
  for (const key of map.keys()) {
    if (map.size <= capacity) return;
    map.delete(key);
  }
}
