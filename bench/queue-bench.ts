import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setImmediate as nextTurn } from 'node:timers/promises';
import pg from 'pg';
import { IdPrefix, newId } from '../src/kernel/index.js';
import { openStore, type RunRecord, type Store } from '../src/store/index.js';
import { benchPostgresUrl, withThrowawayPostgres } from './postgres.js';
import type { ResultRow, ResultTable } from './report.js';
import { BENCH_ACTOR } from './session-fixture.js';
import { median } from './stats.js';

export interface QueueBenchOptions {
  /** Runs queued before each round and drained by it. */
  readonly runs: number;
  readonly rounds: number;
  readonly warmups: number;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly progress: (line: string) => void;
}

/** Claims + completes per second on SQLite with one worker loop. */
const SQLITE_TARGET = { op: '>=' as const, value: 2_000 };
const REPOS = 8;
/** A loop that finds nothing this often in a row while runs remain means the queue is stuck. */
const MAX_IDLE_TURNS = 1_000_000;

interface Mode {
  readonly label: string;
  readonly loops: number;
  readonly maxRunningPerRepo?: number;
}

const MODES: readonly Mode[] = [
  { label: '1 loop', loops: 1 },
  { label: '4 concurrent loops', loops: 4 },
  {
    label: `4 concurrent loops, maxRunningPerRepo 2 (${REPOS} repos)`,
    loops: 4,
    maxRunningPerRepo: 2,
  },
];

/**
 * Queue throughput: how fast worker loops drain a queue, one run at a time, each run claimed
 * (Store.claimRun: choose, lease, fencing token, `run.started`) and then completed
 * (Store.updateRun fenced by owner and token: terminal status, lease cleared, `run.completed`).
 * Each loop has a store of its own, as separate worker processes would; every round queues
 * `runs` fresh runs into the same database, so the tables grow as a real queue's history does.
 */
export async function queueBench(options: QueueBenchOptions): Promise<ResultTable[]> {
  const dir = await mkdtemp(join(tmpdir(), 'aas-bench-queue-'));
  try {
    const sqlitePath = join(dir, 'aas.db');
    const sqlite = await measureDialect(() => openStore({ sqlitePath }), options, {
      target: SQLITE_TARGET,
    });
    const tables: ResultTable[] = [
      {
        ...sqlite,
        title: `Queue claim + complete, SQLite (file in ${tmpdir()}, WAL, synchronous=NORMAL)`,
        notes: [
          ...sqlite.notes,
          'SQLite loops share one process: their transactions interleave, they do not overlap',
        ],
      },
    ];
    const postgres = await withThrowawayPostgres(benchPostgresUrl(options.env), (url) =>
      measureDialect(
        () => openStore({ databaseUrl: url, sqlitePath: join(dir, 'unused.db') }),
        options,
        { afterEnqueue: () => analyze(url) },
      ),
    );
    tables.push(
      postgres.ok
        ? {
            ...postgres.value,
            title: `Queue claim + complete, ${postgres.server}`,
            notes: [
              ...postgres.value.notes,
              'ANALYZE after queueing, as autovacuum does in a running database: a fresh one without statistics plans the claim as a sort of every queued run until autovacuum first analyzes runs',
            ],
          }
        : {
            title: 'Queue claim + complete, PostgreSQL',
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

async function measureDialect(
  open: () => Promise<Store>,
  options: QueueBenchOptions,
  setup: { target?: typeof SQLITE_TARGET; afterEnqueue?: () => Promise<void> },
): Promise<ResultTable> {
  const { target } = setup;
  const stores: Store[] = [];
  try {
    for (let i = 0; i < Math.max(...MODES.map((mode) => mode.loops)); i += 1) {
      stores.push(await open());
    }
    const [first] = stores;
    if (first === undefined) throw new Error('no store opened');
    const rows: ResultRow[] = [];
    const perRun: string[] = [];
    for (const mode of MODES) {
      const runsPerSecond: number[] = [];
      for (let round = 0; round < options.warmups + options.rounds; round += 1) {
        await enqueue(first, options.runs);
        await setup.afterEnqueue?.();
        const started = performance.now();
        const drained = await drain(stores.slice(0, mode.loops), options.runs, mode);
        const elapsed = performance.now() - started;
        if (drained !== options.runs) {
          throw new Error(`${mode.label}: drained ${drained} of ${options.runs} runs`);
        }
        if (round >= options.warmups) runsPerSecond.push((options.runs / elapsed) * 1_000);
      }
      const perRunMs = (1_000 / median(runsPerSecond)).toFixed(2);
      options.progress(
        `queue: ${first.dialect} ${mode.label}: ~${Math.round(median(runsPerSecond))} runs/s`,
      );
      perRun.push(`${mode.label}: ${perRunMs} ms`);
      rows.push({
        metric: `claim + complete, ${mode.label}`,
        unit: 'runs/s',
        samples: runsPerSecond,
        ...(target !== undefined && mode.loops === 1 ? { target } : {}),
      });
    }
    return {
      title: first.dialect,
      rows,
      notes: [
        `each round queues ${options.runs.toLocaleString('en-US')} runs (${REPOS} repos, 3 priorities; not timed) and times draining them; ${options.rounds} rounds after ${options.warmups} warm-up per mode`,
        `per run at the median: ${perRun.join('; ')}`,
      ],
    };
  } finally {
    await Promise.all(stores.map((store) => store.close()));
  }
}

async function enqueue(store: Store, runs: number): Promise<void> {
  for (let i = 0; i < runs; i += 1) {
    const nowMs = Date.now();
    const at = new Date(nowMs).toISOString();
    const runId = newId(IdPrefix.run, nowMs);
    const repo = `/srv/repos/bench-${i % REPOS}`;
    const jobSpec = { task: 'bench: queue throughput', repo, agent: 'mock', retries: 0 };
    await store.createSession({
      session: {
        id: newId(IdPrefix.session, nowMs),
        createdAt: at,
        task: jobSpec.task,
        repo,
        agent: 'mock',
        requestedBy: 'user:bench',
        labels: ['bench'],
      },
      run: { id: runId, createdAt: at, jobSpec, priority: i % 3 },
      events: [{ type: 'run.queued', at, actor: 'user:bench', data: { runId, jobSpec } }],
    });
  }
}

/** Worker loops, one per store, until `total` runs were completed; returns how many were. */
async function drain(stores: readonly Store[], total: number, mode: Mode): Promise<number> {
  let completed = 0;
  let claimed = 0;
  await Promise.all(
    stores.map(async (store, loop) => {
      const owner = `${BENCH_ACTOR}:${loop}`;
      let idleTurns = 0;
      while (claimed < total) {
        const result = await claimOne(store, owner, mode);
        if (result === null) {
          // Nothing claimable until another loop completes a run (per-repo limit), or the
          // last runs are in other loops' hands.
          idleTurns += 1;
          if (idleTurns > MAX_IDLE_TURNS) throw new Error(`${owner}: the queue stalled`);
          await nextTurn();
          continue;
        }
        idleTurns = 0;
        claimed += 1;
        await complete(store, result);
        completed += 1;
      }
    }),
  );
  return completed;
}

function claimOne(store: Store, owner: string, mode: Mode) {
  const nowMs = Date.now();
  const nowIso = new Date(nowMs).toISOString();
  const leaseExpiresAt = new Date(nowMs + 60_000).toISOString();
  return store
    .claimRun({
      owner,
      nowIso,
      leaseExpiresAt,
      ...(mode.maxRunningPerRepo === undefined
        ? {}
        : { maxRunningPerRepo: mode.maxRunningPerRepo }),
    })
    .then((claimed) => claimed?.run ?? null);
}

function complete(store: Store, run: RunRecord) {
  const at = new Date().toISOString();
  return store.updateRun({
    runId: run.id,
    expect: {
      status: ['running'],
      leaseOwner: run.leaseOwner ?? '',
      fencingToken: run.fencingToken,
    },
    changes: {
      status: 'ready_for_promotion',
      reasonCode: 'GATES_PASSED',
      finishedAt: at,
      leaseOwner: null,
      leaseExpiresAt: null,
    },
    events: [
      {
        type: 'run.completed',
        at,
        actor: run.leaseOwner ?? BENCH_ACTOR,
        data: { runId: run.id, status: 'ready_for_promotion', reasonCode: 'GATES_PASSED' },
      },
    ],
  });
}

/** Refreshes the planner statistics of the queue tables. */
async function analyze(databaseUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query('ANALYZE runs, sessions, events');
  } finally {
    await client.end();
  }
}
