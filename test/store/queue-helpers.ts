import Database from 'better-sqlite3';
import pg from 'pg';
import { expect } from 'vitest';
import { computeEventHash, GENESIS_HASH, isAasError } from '../../src/kernel/index.js';
import type {
  NewEvent,
  RunRecord,
  SessionRecord,
  Store,
  StoredEvent,
  WorkerMatch,
} from '../../src/store/index.js';
import type { StoreFixture } from './dialects.js';

/** Shared vocabulary of the queue suites: fixed clock, hex ids, one-event batches. */

export const T0_MS = Date.parse('2026-01-01T00:00:00.000Z');
export const at = (offsetMs: number) => new Date(T0_MS + offsetMs).toISOString();

export const sessionId = (n: number) => `ses_${n.toString(16).padStart(24, '0')}`;
export const runId = (n: number) => `run_${n.toString(16).padStart(24, '0')}`;
export const attemptId = (n: number) => `att_${n.toString(16).padStart(24, '0')}`;

export function event(type: string, offsetMs: number, data: unknown = {}): NewEvent {
  return { type, at: at(offsetMs), actor: 'tester', data };
}

export interface QueuedRunOptions {
  readonly repo?: string;
  readonly agent?: string;
  readonly requestedBy?: string;
  readonly labels?: readonly string[];
  readonly priority?: number;
  readonly maxClaims?: number;
  /** Default: n seconds after T0. */
  readonly createdAtMs?: number;
  readonly reservedBy?: { leaseOwner: string; leaseExpiresAt: string };
  /** What a worker must offer to claim it (`label:…`, `worker:…`, `agent:…`). */
  readonly requirements?: readonly string[];
}

/** Session n with its queued run n and one `session.created` event. */
export async function createQueuedRun(
  store: Store,
  n: number,
  options: QueuedRunOptions = {},
): Promise<StoredEvent[]> {
  const createdAt = at(options.createdAtMs ?? n * 1_000);
  return store.createSession({
    session: {
      id: sessionId(n),
      createdAt,
      task: `task ${n}`,
      repo: options.repo ?? '/repos/demo',
      agent: options.agent ?? 'mock',
      requestedBy: options.requestedBy ?? 'alice',
      labels: options.labels ?? [],
    },
    run: {
      id: runId(n),
      createdAt,
      jobSpec: { task: `task ${n}` },
      ...(options.priority === undefined ? {} : { priority: options.priority }),
      ...(options.maxClaims === undefined ? {} : { maxClaims: options.maxClaims }),
      ...(options.reservedBy === undefined ? {} : { reservedBy: options.reservedBy }),
      ...(options.requirements === undefined ? {} : { requirements: options.requirements }),
    },
    events: [event('session.created', 0, { n })],
  });
}

/**
 * A claim at `nowMs` (default T0 + 1 h) with a one-minute lease, recording the standard
 * `run.started` (on PostgreSQL, through the batched claim unless it names a run or a limit), or
 * with `ownEvents`, a `run.started` of the caller's own (always through the single claim).
 */
export function claim(
  store: Store,
  owner: string,
  options: {
    nowMs?: number;
    maxRunningPerRepo?: number;
    runId?: string;
    ownEvents?: boolean;
    match?: WorkerMatch;
  } = {},
) {
  const nowMs = options.nowMs ?? 3_600_000;
  return store.claimRun({
    owner,
    nowIso: at(nowMs),
    leaseExpiresAt: at(nowMs + 60_000),
    ...(options.maxRunningPerRepo === undefined
      ? {}
      : { maxRunningPerRepo: options.maxRunningPerRepo }),
    ...(options.runId === undefined ? {} : { runId: options.runId }),
    ...(options.match === undefined ? {} : { match: options.match }),
    ...(options.ownEvents === true
      ? {
          events: (run: RunRecord) => [
            event('run.started', nowMs, { runId: run.id, owner, fencingToken: run.fencingToken }),
          ],
        }
      : {}),
  });
}

/** Ends a claimed run the way a holder does: fenced by owner and token, lease cleared. */
export function finish(store: Store, run: RunRecord, offsetMs = 7_200_000) {
  return store.updateRun({
    runId: run.id,
    expect: {
      status: ['running'],
      leaseOwner: run.leaseOwner ?? '',
      fencingToken: run.fencingToken,
    },
    changes: {
      status: 'ready_for_promotion',
      finishedAt: at(offsetMs),
      leaseOwner: null,
      leaseExpiresAt: null,
    },
    events: [event('run.completed', offsetMs, { runId: run.id })],
  });
}

/** Recomputes the chain from genesis: seq 1..n, each prevHash the previous hash, each hash valid. */
export function expectValidChain(
  chain: readonly StoredEvent[],
  session: SessionRecord | null,
): void {
  let prevHash = GENESIS_HASH;
  chain.forEach((stored, index) => {
    expect(stored.seq).toBe(index + 1);
    expect(stored.prevHash).toBe(prevHash);
    expect(computeEventHash(stored)).toBe(stored.hash);
    prevHash = stored.hash;
  });
  expect(session?.lastSeq).toBe(chain.length);
  expect(session?.lastHash).toBe(prevHash);
}

export async function expectCode(promise: Promise<unknown>, code: string): Promise<unknown> {
  const outcome = await promise.then(
    () => new Error(`expected ${code}, but the call succeeded`),
    (error: unknown) => error,
  );
  expect(isAasError(outcome) ? outcome.code : outcome).toBe(code);
  return outcome;
}

/**
 * Counts running runs per repo on a connection of its own, outside every store: one statement,
 * so each answer is one consistent snapshot of committed state.
 */
export interface RunningCounter {
  running(repo: string): Promise<number>;
  runningByRepo(): Promise<Map<string, number>>;
  close(): Promise<void>;
}

const RUNNING_BY_REPO =
  "SELECT repo, count(*) AS running FROM runs WHERE status = 'running' GROUP BY repo";

export function openRunningCounter(fixture: StoreFixture): RunningCounter {
  const toMap = (rows: readonly { repo: string; running: unknown }[]) =>
    new Map(rows.map((row) => [row.repo, Number(row.running)]));
  if (fixture.databaseUrl !== undefined) {
    const pool = new pg.Pool({ connectionString: fixture.databaseUrl, max: 2 });
    // The fixture drops its database WITH (FORCE) at the end, which terminates this pool's idle
    // connections (57P01); unheard, the pool's 'error' event would crash the test run.
    pool.on('error', () => undefined);
    return {
      async running(repo) {
        const { rows } = await pool.query<{ running: string }>(
          "SELECT count(*) AS running FROM runs WHERE repo = $1 AND status = 'running'",
          [repo],
        );
        return Number(rows[0]?.running ?? 0);
      },
      async runningByRepo() {
        return toMap((await pool.query<{ repo: string; running: string }>(RUNNING_BY_REPO)).rows);
      },
      close: () => pool.end(),
    };
  }
  const db = new Database(fixture.sqlitePath, { readonly: true });
  const one = db.prepare<[string], { running: number }>(
    "SELECT count(*) AS running FROM runs WHERE repo = ? AND status = 'running'",
  );
  const all = db.prepare<[], { repo: string; running: number }>(RUNNING_BY_REPO);
  return {
    running: async (repo) => one.get(repo)?.running ?? 0,
    runningByRepo: async () => toMap(all.all()),
    close: async () => {
      db.close();
    },
  };
}
