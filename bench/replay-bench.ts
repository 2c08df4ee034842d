import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { replaySession, verifyChain } from '../src/sessions/index.js';
import { type NewEvent, openStore, type Store } from '../src/store/index.js';
import { benchPostgresUrl, withThrowawayPostgres } from './postgres.js';
import type { ResultRow, ResultTable } from './report.js';
import {
  agentEvents,
  averageDataBytes,
  BENCH_ACTOR,
  createBenchSession,
} from './session-fixture.js';

export interface ReplayBenchOptions {
  readonly events: number;
  readonly reps: number;
  readonly warmups: number;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly progress: (line: string) => void;
}

const REPLAY_TARGET = { op: '<=' as const, value: 5 };
/** Events around the agent's own: 2 from createSession, 7 before and 11 after the agent events. */
const FRAME_EVENTS = 20;

export async function replayBench(options: ReplayBenchOptions): Promise<ResultTable[]> {
  const dir = await mkdtemp(join(tmpdir(), 'aas-bench-replay-'));
  try {
    const sqlite = await openStore({ sqlitePath: join(dir, 'aas.db') });
    let sqliteTable: ResultTable;
    try {
      sqliteTable = await measureStore(sqlite, options);
    } finally {
      await sqlite.close();
    }
    const tables: ResultTable[] = [
      {
        ...sqliteTable,
        title: `Replay of ${options.events.toLocaleString('en-US')} events, SQLite`,
      },
    ];
    const postgres = await withThrowawayPostgres(benchPostgresUrl(options.env), async (url) => {
      const store = await openStore({ databaseUrl: url, sqlitePath: join(dir, 'unused.db') });
      try {
        return await measureStore(store, options);
      } finally {
        await store.close();
      }
    });
    tables.push(
      postgres.ok
        ? {
            ...postgres.value,
            title: `Replay of ${options.events.toLocaleString('en-US')} events, ${postgres.server}`,
          }
        : {
            title: 'Replay, PostgreSQL',
            rows: [],
            notes: [],
            skipped: postgres.reason,
          },
    );
    return tables;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function measureStore(store: Store, options: ReplayBenchOptions): Promise<ResultTable> {
  const { sessionId, payloadBytes } = await recordSession(store, options.events);
  const read: number[] = [];
  const fold: number[] = [];
  const verify: number[] = [];
  const readFold: number[] = [];
  const readFoldVerify: number[] = [];
  for (let rep = 0; rep < options.warmups + options.reps; rep += 1) {
    const t0 = performance.now();
    const events = await store.readEvents(sessionId);
    const t1 = performance.now();
    const projection = replaySession(events);
    const t2 = performance.now();
    // The chain head comes from the session row: part of what `aas audit verify` reads.
    const session = await store.getSession(sessionId);
    const t3 = performance.now();
    if (session === null) throw new Error(`session ${sessionId} vanished`);
    const verification = verifyChain(session, events);
    const t4 = performance.now();

    if (projection.eventCount !== options.events || projection.status !== 'ready_for_promotion') {
      throw new Error(
        `replay folded ${projection.eventCount} events to status ${projection.status}`,
      );
    }
    if (!verification.ok) {
      throw new Error(`chain did not verify: ${verification.firstProblem?.detail ?? '?'}`);
    }
    if (rep < options.warmups) continue;
    read.push(t1 - t0);
    fold.push(t2 - t1);
    verify.push(t4 - t3);
    readFold.push(t2 - t0);
    readFoldVerify.push(t4 - t0);
  }
  options.progress(`replay: ${store.dialect} done`);
  const rows: ResultRow[] = [
    { metric: 'read (Store.readEvents)', unit: 'ms', samples: read },
    { metric: 'fold (replaySession, in memory)', unit: 'ms', samples: fold },
    { metric: 'read + replaySession', unit: 'ms', samples: readFold, target: REPLAY_TARGET },
    { metric: 'verifyChain (in memory, 1 SHA-256 per event)', unit: 'ms', samples: verify },
    {
      metric: 'read + replaySession + getSession + verifyChain',
      unit: 'ms',
      samples: readFoldVerify,
    },
  ];
  return {
    title: store.dialect,
    rows,
    notes: [
      `one session of ${options.events} events (run lifecycle + ${options.events - FRAME_EVENTS} agent.event, ~${payloadBytes} bytes of data each); ${options.reps} repetitions after ${options.warmups} warm-up`,
      'the target applies to read + replaySession; verifyChain is reported beside it',
    ],
  };
}

/** A complete successful run of `total` events, most of them agent events. */
async function recordSession(
  store: Store,
  total: number,
): Promise<{ sessionId: string; payloadBytes: number }> {
  if (total < FRAME_EVENTS) throw new Error(`a replay session needs ≥ ${FRAME_EVENTS} events`);
  const { sessionId, runId } = await createBenchSession(store);
  const at = new Date().toISOString();
  const event = (type: string, data: unknown): NewEvent => ({ type, at, actor: BENCH_ACTOR, data });
  const baseCommit = 'c0ffee'.padEnd(40, '0');
  const attemptFields = { runId, attempt: 1 };
  const before = [
    event('run.started', { runId, owner: BENCH_ACTOR, leaseExpiresAt: at }),
    event('run.base.resolved', {
      runId,
      repoRoot: '/srv/repos/bench',
      baseRef: 'HEAD',
      baseCommit,
      snapshot: false,
      dirtyPaths: [],
    }),
    event('policy.resolved', {
      runId,
      agentId: 'mock',
      layers: [{ name: 'floor', source: 'built-in' }],
      effective: { paths: { deny: ['.git/**', '**/.env*'] }, limits: { timeoutSec: 3600 } },
    }),
    event('sandbox.selected', { runId, backend: 'plain', isolating: false }),
    event('run.attempt.started', {
      runId,
      attemptId: 'att_000000000000000000000000',
      attempt: 1,
      agentId: 'mock',
      feedback: [],
    }),
    event('workspace.created', {
      ...attemptFields,
      dir: '/tmp/ws',
      baseCommit,
      durationMs: 12,
    }),
    event('agent.started', {
      ...attemptFields,
      agentId: 'mock',
      command: '/usr/bin/node',
      args: ['mock-agent.js'],
      timeoutSec: 3600,
    }),
  ];
  const agent = agentEvents(runId, 0, total - FRAME_EVENTS);
  const gates = ['paths.deny', 'paths.allow', 'limits', 'binary', 'symlinks'].map((gate) =>
    event('gate.passed', {
      ...attemptFields,
      gate,
      code: 'GATES_PASSED',
      detail: '3 path(s) checked',
      durationMs: 0,
    }),
  );
  const after = [
    event('agent.finished', {
      ...attemptFields,
      agentId: 'mock',
      ok: true,
      code: 'GATES_PASSED',
      detail: 'succeeded',
      exitCode: 0,
      signal: null,
      durationMs: 40,
      result: { status: 'succeeded', summary: 'bench', recommendedAction: 'promote' },
      rejectedEvents: 0,
    }),
    event('patch.computed', {
      ...attemptFields,
      sha256: 'ab'.repeat(32),
      stats: { filesChanged: 3, insertions: 4, deletions: 2 },
      files: [{ path: 'src/a.ts', status: 'modified', binary: false }],
      runtimeDropped: [],
      ignoredUntracked: 0,
      durationMs: 8,
    }),
    ...gates,
    event('artifact.stored', {
      runId,
      kind: 'patch',
      sha256: 'ab'.repeat(32),
      path: '/tmp/a.patch',
      bytes: 512,
    }),
    event('workspace.removed', { ...attemptFields, dir: '/tmp/ws' }),
    event('run.attempt.finished', {
      ...attemptFields,
      agentId: 'mock',
      status: 'success',
      code: 'GATES_PASSED',
      detail: 'every gate passed',
      durationMs: 90,
    }),
    event('run.completed', {
      runId,
      status: 'ready_for_promotion',
      reasonCode: 'GATES_PASSED',
      detail: 'every gate passed',
      patchSha256: 'ab'.repeat(32),
    }),
  ];
  const all = [...before, ...agent, ...after];
  for (let offset = 0; offset < all.length; offset += 100) {
    await store.appendEvents(sessionId, all.slice(offset, offset + 100));
  }
  return { sessionId, payloadBytes: averageDataBytes(agent) };
}
