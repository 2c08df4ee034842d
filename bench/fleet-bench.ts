import { EventEmitter } from 'node:events';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import type { Logger, Runner, WorkerEvents } from 'graphile-worker';
import pg from 'pg';
import { IdPrefix, newId, silentLogger, systemClock } from '../src/kernel/index.js';
import { type ClaimedRun, type QueueSettings, RunQueue } from '../src/queue/index.js';
import { EventBus, SessionRecorder, sessionEvent } from '../src/sessions/index.js';
import {
  openStore,
  RUN_STATUSES,
  RunStatus,
  type Store,
  type WorkerMatch,
} from '../src/store/index.js';
import { type CpuSpent, cpuMark, cpuSince } from './machine-cpu.js';
import { benchPostgresUrl, withThrowawayPostgres } from './postgres.js';
import type { ResultRow, ResultTable } from './report.js';
import { median } from './stats.js';

export interface FleetBenchOptions {
  /** Runs (and graphile-worker jobs) queued before each round and drained by it. */
  readonly runs: number;
  readonly rounds: number;
  readonly warmups: number;
  /** Concurrent claimer loops (ours) and graphile-worker `concurrency`. */
  readonly claimers: number;
  /** Lease-expiry → reclaim samples, after one warm-up. */
  readonly reclaimSamples: number;
  /** Lease of the claimer that dies in the reclaim measurement. */
  readonly leaseMs: number;
  /** Poll period of the rescuer's sweep + claim loop, and graphile-worker's `pollInterval`. */
  readonly pollMs: number;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly progress: (line: string) => void;
}

type GraphileWorker = typeof import('graphile-worker');

const TASK = 'bench_noop';
/** graphile-worker's default; its docs advise max(10, concurrency + 2), which is 10 for 8. */
const GRAPHILE_POOL_SIZE = 10;
/**
 * The server's default AAS_MAX_RUNNING_PER_REPO (config): the queued runs spread over 8 repos,
 * so with 8 claimers the limit rarely binds, and the row measures mostly what checking it costs.
 */
const DEFAULT_PER_REPO_LIMIT = 2;
/** A claimer that finds nothing this often in a row while runs remain means the queue is stuck. */
const MAX_IDLE_TURNS = 1_000_000;
/**
 * The throughput runs never requeue, so this only has to be valid; the reclaim rescuer uses 0
 * (see measureReclaim).
 */
const UNUSED_BACKOFF = { baseMs: 5_000, maxMs: 300_000 };
/** openStore wants an SQLite path even for PostgreSQL; with a postgres:// URL it is never opened. */
const UNUSED_SQLITE = join(tmpdir(), 'aas-bench-fleet-unused.db');

/** One claimer: an owner and a queue over a store (shared by the throughput loops). */
interface Claimer {
  readonly owner: string;
  /** What the loop offers: none claims any run; the server's worker slots offer their pin. */
  readonly match?: WorkerMatch;
  readonly store: Store;
  readonly queue: RunQueue;
  readonly deps: {
    readonly store: Store;
    readonly clock: typeof systemClock;
    readonly bus: EventBus;
  };
}

interface Measured {
  readonly rows: ResultRow[];
  readonly notes: string[];
}

/**
 * The queue as a fleet of workers uses it, on PostgreSQL: throughput of claim → heartbeat →
 * complete with several concurrent claimers, side by side with graphile-worker on the same
 * server and in the same rounds, and how long a run whose holder died waits after its lease
 * expired until another process claims it again.
 */
export async function fleetBench(options: FleetBenchOptions): Promise<ResultTable[]> {
  const adminUrl = benchPostgresUrl(options.env);
  // Two throwaway databases on one server: neither queue's tables, autovacuum or statistics
  // get in the other's way, and both pay the same server, disk and network.
  const outer = await withThrowawayPostgres(adminUrl, (oursUrl) =>
    withThrowawayPostgres(adminUrl, async (graphileUrl) => ({
      throughput: await measureThroughput(oursUrl, graphileUrl, options),
      reclaim: await measureReclaim(oursUrl, options),
    })),
  );
  const throughputTitle = `Fleet: ${options.claimers} claimers, claim + heartbeat + complete vs graphile-worker`;
  const reclaimTitle = 'Fleet: lease expiry → reclaim by another process';
  const skipped = (reason: string): ResultTable[] => [
    { title: `${throughputTitle}, PostgreSQL`, rows: [], notes: [], skipped: reason },
    { title: `${reclaimTitle}, PostgreSQL`, rows: [], notes: [], skipped: reason },
  ];
  if (!outer.ok) return skipped(outer.reason);
  if (!outer.value.ok) return skipped(outer.value.reason);
  const { throughput, reclaim } = outer.value.value;
  return [
    { title: `${throughputTitle}, ${outer.server}`, ...throughput },
    { title: `${reclaimTitle}, ${outer.server}`, ...reclaim },
  ];
}

async function measureThroughput(
  oursUrl: string,
  graphileUrl: string,
  options: FleetBenchOptions,
): Promise<Measured> {
  const gw: GraphileWorker = await import('graphile-worker');
  const logger = new gw.Logger(() => () => undefined);
  const oursClient = new pg.Client({ connectionString: oursUrl });
  const graphileClient = new pg.Client({ connectionString: graphileUrl });
  const utils = await gw.makeWorkerUtils({ connectionString: graphileUrl, logger });
  // Queues runs as `aas submit` does, through a store of its own (the API server's).
  const submitter = await openStore({ databaseUrl: oursUrl, sqlitePath: UNUSED_SQLITE });
  try {
    await oursClient.connect();
    await graphileClient.connect();
    await utils.migrate();

    const ours: number[] = [];
    const limited: number[] = [];
    const graphile: number[] = [];
    const ratios: number[] = [];
    const oursWal: number[] = [];
    const graphileWal: number[] = [];
    const oursCpu: CpuSpent[] = [];
    const graphileCpu: CpuSpent[] = [];
    let graphileVersion = '?';
    const steps: StepTimes = { claim: 0, heartbeat: 0, complete: 0 };
    for (let round = 0; round < options.warmups + options.rounds; round += 1) {
      // Interleaved rounds, ours then graphile-worker's: load on the machine drifts, and both
      // see the same drift.
      await enqueueRuns(submitter, options.runs);
      await oursClient.query('ANALYZE runs, sessions, events');
      const oursFrom = await walPosition(oursClient);
      const oursCpuFrom = cpuMark();
      const drainedOurs = await drainFreshClaimers(oursUrl, options);
      const oursCpuSpent = cpuSince(oursCpuFrom);
      const oursWalBytes = await walBytesSince(oursClient, oursFrom);
      const oursMs = drainedOurs.ms;
      await verifyOurs(submitter, oursClient, options.runs * (2 * round + 1));

      for (let i = 0; i < options.runs; i += 1) await utils.addJob(TASK, {});
      await graphileClient.query('ANALYZE graphile_worker._private_jobs');
      const graphileFrom = await walPosition(graphileClient);
      const graphileCpuFrom = cpuMark();
      const drained = await drainGraphile(gw, graphileUrl, graphileClient, options, logger);
      const graphileCpuSpent = cpuSince(graphileCpuFrom);
      const graphileWalBytes = await walBytesSince(graphileClient, graphileFrom);
      const graphileMs = drained.ms;
      graphileVersion = drained.version;

      // The server's default: every claim under a per-repository limit (its own statements).
      await enqueueRuns(submitter, options.runs);
      await oursClient.query('ANALYZE runs, sessions, events');
      const drainedLimited = await drainFreshClaimers(oursUrl, options, {
        maxRunningPerRepo: DEFAULT_PER_REPO_LIMIT,
        asWorkerSlots: true,
      });
      await verifyOurs(submitter, oursClient, options.runs * (2 * round + 2));

      const oursRate = (options.runs / oursMs) * 1_000;
      const graphileRate = (options.runs / graphileMs) * 1_000;
      const limitedRate = (options.runs / drainedLimited.ms) * 1_000;
      options.progress(
        `fleet: round ${round + 1}${round < options.warmups ? ' (warm-up)' : ''}: ours ${Math.round(oursRate)} runs/s (worker slots: ${Math.round(limitedRate)}), graphile-worker ${Math.round(graphileRate)} jobs/s`,
      );
      if (round < options.warmups) continue;
      ours.push(oursRate);
      limited.push(limitedRate);
      steps.claim += drainedOurs.steps.claim;
      steps.heartbeat += drainedOurs.steps.heartbeat;
      steps.complete += drainedOurs.steps.complete;
      graphile.push(graphileRate);
      ratios.push(oursRate / graphileRate);
      oursWal.push(oursWalBytes / options.runs);
      graphileWal.push(graphileWalBytes / options.runs);
      if (oursCpuSpent !== undefined) oursCpu.push(oursCpuSpent);
      if (graphileCpuSpent !== undefined) graphileCpu.push(graphileCpuSpent);
    }
    const graphileMedian = median(graphile);
    const perRun = (sum: number) => (sum / (options.runs * options.rounds)).toFixed(2);
    return {
      rows: [
        {
          metric: `AAS RunQueue, ${options.claimers} claimers: claim + heartbeat + complete`,
          unit: 'runs/s',
          samples: ours,
          // The bar is graphile-worker as measured in this very run, not a remembered figure.
          target: { op: '>=', value: graphileMedian },
        },
        {
          metric: `graphile-worker ${graphileVersion} run(), concurrency ${options.claimers}, unbatched: no-op jobs`,
          unit: 'jobs/s',
          samples: graphile,
        },
        { metric: 'ratio AAS / graphile-worker (paired rounds)', unit: 'ratio', samples: ratios },
        {
          metric: `AAS RunQueue, ${options.claimers} worker slots, per-repo limit ${DEFAULT_PER_REPO_LIMIT} (the server's defaults)`,
          unit: 'runs/s',
          samples: limited,
        },
      ],
      notes: [
        `each round queues ${options.runs.toLocaleString('en-US')} no-op runs and ${options.runs.toLocaleString('en-US')} no-op jobs (not timed, then ANALYZE) and times draining each; ${options.rounds} rounds after ${options.warmups} warm-up, ours and graphile-worker's alternating`,
        `AAS: ${options.claimers} loops sharing one Store (one pg pool of 10), opened for the round: RunQueue.claim (lease, fencing token, run.started), one RunQueue.heartbeat, completion fenced by owner and token (run.completed); every run checked claimed once and completed once; timed from the first claim until the last completion committed`,
        `graphile-worker: one run() per round with concurrency ${options.claimers}, pool ${GRAPHILE_POOL_SIZE}, pollInterval ${options.pollMs} ms, localQueue off (size -1), completeJobBatchDelay and failJobBatchDelay -1; timed from pool:create until the jobs table is empty (its completions are not awaited by the worker)`,
        `per item, AAS: a claim, a heartbeat and a completion, each one prepared statement and one commit shared by every concurrent caller of the store (natural batching, no timer: up to 16 claims, 64 heartbeats, 32 completions of distinct sessions per statement; the claim chains run.started in SQL, the completion chains run.completed after the head the store last wrote); graphile-worker: 2 prepared statements, 2 commits per job (get_job, then the DELETE), and it keeps no history`,
        `WAL written per item at the median (the measure of what each commit has to flush): AAS ${Math.round(median(oursWal)).toLocaleString('en-US')} B, graphile-worker ${Math.round(median(graphileWal)).toLocaleString('en-US')} B; synchronous_commit as each side's connections see it: AAS ${await settingOf(oursClient, 'synchronous_commit')}, graphile-worker ${await settingOf(graphileClient, 'synchronous_commit')} (the server's default), except that AAS's lease renewals commit without waiting for the flush (renew-run-lease.ts explains why that is safe)`,
        `worker-slots row: the same loops claiming as the server's worker slots do, each offering its own name (a job may pin a slot) and any agent, under RunQueue's maxRunningPerRepo ${DEFAULT_PER_REPO_LIMIT} (AAS_MAX_RUNNING_PER_REPO's default); runs spread over 8 repos, queued and drained after graphile-worker's in each round. Claims of slots that differ only by their names share one transaction of two statements per batch (the pick, which takes the repos' claim locks, then the claim, which counts each repo's running runs afresh and hands a pinned run only to its slot)`,
        ...cpuNote(oursCpu, graphileCpu, options.runs),
        `wall time per item at the median: AAS ${(1_000 / median(ours)).toFixed(2)} ms, graphile-worker ${(1_000 / graphileMedian).toFixed(2)} ms`,
        `AAS, mean latency per run with ${options.claimers} in flight: claim ${perRun(steps.claim)} ms, heartbeat ${perRun(steps.heartbeat)} ms, complete ${perRun(steps.complete)} ms`,
      ],
    };
  } finally {
    await submitter.close();
    await utils.release();
    await oursClient.end().catch(() => undefined);
    await graphileClient.end().catch(() => undefined);
  }
}

function makeClaimer(
  store: Store,
  owner: string,
  settings: Pick<QueueSettings, 'leaseMs' | 'retryBackoff' | 'maxRunningPerRepo'>,
  match?: WorkerMatch,
): Claimer {
  const bus = new EventBus();
  const queue = new RunQueue({ store, clock: systemClock, log: silentLogger, bus }, settings);
  return {
    owner,
    store,
    queue,
    deps: { store, clock: systemClock, bus },
    ...(match === undefined ? {} : { match }),
  };
}

/** No-op runs as `aas submit` records them: a session, its queued run, `run.queued`. */
async function enqueueRuns(
  store: Store,
  runs: number,
  options: { maxClaims?: number; reservedFor?: string } = {},
): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < runs; i += 1) {
    const nowMs = Date.now();
    const at = new Date(nowMs).toISOString();
    const runId = newId(IdPrefix.run, nowMs);
    const repo = `/srv/repos/bench-fleet-${i % 8}`;
    const jobSpec = { task: 'bench: no-op run', repo, agent: 'mock', retries: 0 };
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
      run: {
        id: runId,
        createdAt: at,
        jobSpec,
        ...(options.maxClaims === undefined ? {} : { maxClaims: options.maxClaims }),
        ...(options.reservedFor === undefined
          ? {}
          : {
              reservedBy: {
                leaseOwner: options.reservedFor,
                leaseExpiresAt: new Date(nowMs + 60_000).toISOString(),
              },
            }),
      },
      events: [{ type: 'run.queued', at, actor: 'user:bench', data: { runId, jobSpec } }],
    });
    ids.push(runId);
  }
  return ids;
}

/**
 * Opens one store, drains the queue with `options.claimers` loops on it, closes it. One store,
 * as a control-plane process answers every worker's claims, heartbeats and reports through its
 * own, and as graphile-worker's runner shares one pool among its workers. Fresh every round,
 * like graphile-worker's runner: each side starts its round with its pool just opened (one
 * connection, from the open's migration check) and prepares its statements again, inside the
 * timed part, instead of ours alone keeping warm connections from round to round.
 *
 * `asWorkerSlots`: each loop claims as one of the server's worker slots does, offering its own
 * name (a job may pin a slot) and any agent, which is what WorkerPool offers with no labels.
 */
async function drainFreshClaimers(
  url: string,
  options: FleetBenchOptions,
  settings: { maxRunningPerRepo?: number; asWorkerSlots?: boolean } = {},
): Promise<{ ms: number; steps: StepTimes }> {
  const store = await openStore({ databaseUrl: url, sqlitePath: UNUSED_SQLITE });
  const { maxRunningPerRepo, asWorkerSlots = false } = settings;
  try {
    const claimers = Array.from({ length: options.claimers }, (_, i) => {
      const owner = `runner:bench-fleet:${i}`;
      return makeClaimer(
        store,
        owner,
        {
          leaseMs: 60_000,
          retryBackoff: UNUSED_BACKOFF,
          ...(maxRunningPerRepo === undefined ? {} : { maxRunningPerRepo }),
        },
        asWorkerSlots ? { offers: [`worker:${owner}`], anyAgent: true } : undefined,
      );
    });
    return await drainOurs(claimers, options.runs);
  } finally {
    await store.close();
  }
}

/** Time spent in each step, summed over every run of a round (steps of several loops overlap). */
interface StepTimes {
  claim: number;
  heartbeat: number;
  complete: number;
}

/** Claimer loops until `total` runs were claimed, heartbeaten and completed. */
async function drainOurs(
  claimers: readonly Claimer[],
  total: number,
): Promise<{ ms: number; steps: StepTimes }> {
  const seen = new Set<string>();
  const steps: StepTimes = { claim: 0, heartbeat: 0, complete: 0 };
  const started = performance.now();
  await Promise.all(
    claimers.map(async (claimer) => {
      let idleTurns = 0;
      while (seen.size < total) {
        const claimStarted = performance.now();
        const claimed = await claimer.queue.claim(
          claimer.owner,
          claimer.match === undefined ? {} : { match: claimer.match },
        );
        if (claimed === null) {
          // The last runs are being claimed by other loops right now.
          idleTurns += 1;
          if (idleTurns > MAX_IDLE_TURNS) throw new Error(`${claimer.owner}: the queue stalled`);
          await nextTurn();
          continue;
        }
        idleTurns = 0;
        if (seen.has(claimed.run.id)) {
          throw new Error(`run ${claimed.run.id} was claimed twice (now by ${claimer.owner})`);
        }
        seen.add(claimed.run.id);
        const heartbeatStarted = performance.now();
        const renewal = await claimer.queue.heartbeat(claimed.fence);
        if (!renewal.held) throw new Error(`${claimer.owner} lost run ${claimed.run.id}`);
        const completeStarted = performance.now();
        await complete(claimer, claimed);
        steps.claim += heartbeatStarted - claimStarted;
        steps.heartbeat += completeStarted - heartbeatStarted;
        steps.complete += performance.now() - completeStarted;
      }
    }),
  );
  return { ms: performance.now() - started, steps };
}

/** Completion as execute-run records it: fenced by owner and token, lease cleared. */
function complete(claimer: Claimer, claimed: ClaimedRun) {
  const recorder = new SessionRecorder(claimer.deps, claimed.run.sessionId, claimer.owner).fenced(
    claimed.fence,
  );
  return recorder.updateRun(
    claimed.run.id,
    {
      status: RunStatus.readyForPromotion,
      reasonCode: 'GATES_PASSED',
      reasonDetail: 'bench: no-op run',
      finishedAt: systemClock.nowIso(),
      leaseOwner: null,
      leaseExpiresAt: null,
    },
    [
      sessionEvent('run.completed', {
        runId: claimed.run.id,
        status: RunStatus.readyForPromotion,
        reasonCode: 'GATES_PASSED',
        detail: 'bench: no-op run',
        patchSha256: null,
      }),
    ],
    { status: [RunStatus.running] },
  );
}

/**
 * Every run ever queued is completed, each claimed exactly once (claim_count is incremented by
 * every claim, so a second claim of any run shows there even if it came from elsewhere), with
 * one run.started and one run.completed each.
 */
async function verifyOurs(store: Store, client: pg.Client, expected: number): Promise<void> {
  const counts = await store.countRunsByStatus();
  const wrong = RUN_STATUSES.filter(
    (status) => counts[status] !== (status === RunStatus.readyForPromotion ? expected : 0),
  );
  if (wrong.length > 0) {
    throw new Error(
      `expected ${expected} runs ready_for_promotion and none elsewhere, got ${JSON.stringify(counts)}`,
    );
  }
  const claims = await client.query<{ runs: number; once: number }>(
    'SELECT count(*)::int AS runs, count(*) FILTER (WHERE claim_count = 1)::int AS once FROM runs',
  );
  const events = await client.query<{ started: number; completed: number }>(
    `SELECT count(*) FILTER (WHERE type = 'run.started')::int AS started,
            count(*) FILTER (WHERE type = 'run.completed')::int AS completed
       FROM events WHERE type IN ('run.started', 'run.completed')`,
  );
  const claimRow = claims.rows[0];
  const eventRow = events.rows[0];
  if (
    claimRow?.runs !== expected ||
    claimRow.once !== expected ||
    eventRow?.started !== expected ||
    eventRow.completed !== expected
  ) {
    throw new Error(
      `runs not completed exactly once: ${JSON.stringify({ expected, ...claimRow, ...eventRow })}`,
    );
  }
}

/**
 * One graphile-worker runner over the queued jobs, stopped once they are all done; returns the
 * ms from its pool's creation (connection and migration check done, workers about to fetch) until
 * the last job's row is deleted.
 */
async function drainGraphile(
  gw: GraphileWorker,
  url: string,
  client: pg.Client,
  options: FleetBenchOptions,
  logger: Logger,
): Promise<{ ms: number; version: string }> {
  const total = await countJobs(client);
  if (total !== options.runs)
    throw new Error(`graphile-worker: ${total} jobs queued, expected ${options.runs}`);
  const events = new EventEmitter() as WorkerEvents;
  let startedAt: number | undefined;
  let version = '?';
  const succeeded = new Set<string>();
  let failure: string | undefined;
  let settle: () => void = () => undefined;
  const allRan = new Promise<void>((resolve) => {
    settle = resolve;
  });
  events.on('pool:create', ({ ctx }) => {
    startedAt ??= performance.now();
    version = ctx.version;
  });
  events.on('job:success', ({ job }) => {
    if (succeeded.has(job.id) || job.attempts !== 1) {
      failure ??= `job ${job.id} ran more than once (attempt ${job.attempts})`;
    }
    succeeded.add(job.id);
    if (succeeded.size === total || failure !== undefined) settle();
  });
  events.on('job:error', ({ job, error }) => {
    failure ??= `job ${job.id} failed: ${String(error)}`;
    settle();
  });
  const runner: Runner = await gw.run({
    connectionString: url,
    concurrency: options.claimers,
    maxPoolSize: GRAPHILE_POOL_SIZE,
    pollInterval: options.pollMs,
    noHandleSignals: true,
    logger,
    events,
    taskList: { [TASK]: async () => undefined },
    // No crontab: without this, run() looks for ./crontab.
    parsedCronItems: [],
    // Unbatched, and said so explicitly: these are 0.18's batching switches (all off by default).
    preset: {
      worker: { localQueue: { size: -1 }, completeJobBatchDelay: -1, failJobBatchDelay: -1 },
    },
  });
  // A runner that dies is reported through `failure`, not as an unhandled rejection.
  const exited = runner.promise.then(
    () => 'exited',
    (error: unknown) => `exited with ${String(error)}`,
  );
  try {
    const deadlineMs = 60_000 + total * 20;
    const outcome = await Promise.race([
      allRan.then(() => 'ran'),
      exited,
      sleep(deadlineMs).then(() => `not done after ${deadlineMs} ms`),
    ]);
    if (failure !== undefined) throw new Error(`graphile-worker: ${failure}`);
    if (outcome !== 'ran') throw new Error(`graphile-worker: ${outcome}`);
    // 0.18 fires completeJob without awaiting it and fetches the next job: the last DELETEs
    // may still be in flight here. Done means the table is empty.
    let remaining = await countJobs(client);
    while (remaining !== 0) {
      if (performance.now() - (startedAt ?? 0) > deadlineMs) {
        throw new Error(`graphile-worker: ${remaining} jobs left after every one succeeded`);
      }
      remaining = await countJobs(client);
    }
    const endedAt = performance.now();
    if (startedAt === undefined) throw new Error('graphile-worker: no pool:create event');
    return { ms: endedAt - startedAt, version };
  } finally {
    await runner.stop();
  }
}

/** The server's current WAL position: a drain's WAL is the difference (one server, both sides). */
/**
 * What the machine's CPUs did while each side drained, from /proc/stat (every process: the
 * database server's backends, this process, anything else running). Nothing where there is no
 * /proc/stat.
 */
function cpuNote(
  ours: readonly CpuSpent[],
  graphile: readonly CpuSpent[],
  items: number,
): string[] {
  if (ours.length === 0 || graphile.length === 0) return [];
  const perItem = (spent: readonly CpuSpent[]) =>
    median(spent.map((one) => one.busyMs / items)).toFixed(2);
  const busy = (spent: readonly CpuSpent[]) =>
    `${Math.round(median(spent.map((one) => one.busyShare)) * 100)}%`;
  return [
    `CPU time per item, all processes, at the median: AAS ${perItem(ours)} ms, graphile-worker ${perItem(graphile)} ms; share of the machine's ${availableParallelism()} CPUs busy while draining: AAS ${busy(ours)}, graphile-worker ${busy(graphile)}`,
  ];
}

async function walPosition(client: pg.Client): Promise<string> {
  const result = await client.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
  return result.rows[0]?.lsn ?? '0/0';
}

async function walBytesSince(client: pg.Client, from: string): Promise<number> {
  const result = await client.query<{ bytes: number }>(
    'SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::float8 AS bytes',
    [from],
  );
  return result.rows[0]?.bytes ?? 0;
}

async function settingOf(client: pg.Client, name: string): Promise<string> {
  const result = await client.query<{ value: string }>('SELECT current_setting($1) AS value', [
    name,
  ]);
  return result.rows[0]?.value ?? '?';
}

async function countJobs(client: pg.Client): Promise<number> {
  const result = await client.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM graphile_worker._private_jobs',
  );
  return result.rows[0]?.n ?? 0;
}

interface ReclaimSample {
  expiresAtMs: number;
  requeuedAtMs?: number;
  claimedAtMs?: number;
  reclaimed: () => void;
}

/**
 * A claimer ("dying", its own store) takes a run with a short lease and never heartbeats again.
 * A rescuer in another store, as another server's sweeper and worker would, loops every pollMs:
 * RunQueue.sweep (requeues runs whose lease expired) then RunQueue.claim. Latency: from the
 * lease's expiry (the timestamp the claim wrote) to the rescuer's claim committing.
 */
async function measureReclaim(url: string, options: FleetBenchOptions): Promise<Measured> {
  const dying = makeClaimer(
    await openStore({ databaseUrl: url, sqlitePath: UNUSED_SQLITE }),
    'runner:bench-fleet:dying',
    { leaseMs: options.leaseMs, retryBackoff: UNUSED_BACKOFF },
  );
  // Backoff 0: the requeued run is claimable at once, so the figure is the queue's own delay.
  // The server's backoff (create-runtime.ts: 5 s base, jittered to 2.5–5 s on the first
  // requeue) is a deliberate wait that would add to it; see bench/README.md.
  const rescuer = makeClaimer(
    await openStore({ databaseUrl: url, sqlitePath: UNUSED_SQLITE }),
    'runner:bench-fleet:rescuer',
    { leaseMs: 60_000, retryBackoff: { baseMs: 0, maxMs: 0 } },
  );
  const watched = new Map<string, ReclaimSample>();
  let stopping = false;
  const loop = (async () => {
    let nextAt = performance.now();
    while (!stopping) {
      const swept = await rescuer.queue.sweep('system:sweeper:bench-fleet');
      const sweptAt = Date.now();
      for (const runId of swept.requeued) {
        const sample = watched.get(runId);
        if (sample !== undefined) sample.requeuedAtMs ??= sweptAt;
      }
      const claimed = await rescuer.queue.claim(rescuer.owner);
      if (claimed !== null) {
        const claimedAt = Date.now();
        const sample = watched.get(claimed.run.id);
        if (sample === undefined)
          throw new Error(`rescuer claimed unexpected run ${claimed.run.id}`);
        sample.claimedAtMs = claimedAt;
        await complete(rescuer, claimed);
        sample.reclaimed();
      }
      // A fixed period, as setInterval gives the server's sweeper; an overrun restarts it.
      nextAt += options.pollMs;
      const wait = nextAt - performance.now();
      if (wait > 0) await sleep(wait);
      else nextAt = performance.now();
    }
  })();
  const loopFailed = loop.then(
    () => new Promise<never>(() => undefined),
    (error: unknown) => {
      throw error;
    },
  );
  // Handled here too: a loop that fails after the last sample must not crash the process.
  loopFailed.catch(() => undefined);
  const requeued: number[] = [];
  const reclaimed: number[] = [];
  try {
    const warmups = 1;
    for (let i = 0; i < warmups + options.reclaimSamples; i += 1) {
      // A random phase against the rescuer's poll: a claim made right after one of its ticks
      // would otherwise expire on a tick every time (the lease is a multiple of the period).
      await sleep(Math.random() * options.pollMs);
      // Reserved for the dying claimer, so the rescuer cannot take it before it is claimed;
      // two claims allowed, so the sweep requeues it instead of ending it.
      const [runId] = await enqueueRuns(dying.store, 1, {
        maxClaims: 2,
        reservedFor: dying.owner,
      });
      if (runId === undefined) throw new Error('no run queued');
      let reclaimedRun: () => void = () => undefined;
      const done = new Promise<void>((resolve) => {
        reclaimedRun = resolve;
      });
      const sample: ReclaimSample = { expiresAtMs: Number.NaN, reclaimed: () => reclaimedRun() };
      watched.set(runId, sample);
      const claimed = await dying.queue.claim(dying.owner, { runId });
      if (claimed === null || claimed.run.leaseExpiresAt === null) {
        throw new Error(`the dying claimer could not claim ${runId}`);
      }
      // One heartbeat, so the claim counts as received (an unacknowledged one is given back
      // unspent: RunQueue.sweep), which also sets the expiry measured from…
      if (!(await dying.queue.heartbeat(claimed.fence)).held) {
        throw new Error(`the dying claimer lost ${runId} at once`);
      }
      const renewed = (await dying.store.getRun(runId))?.leaseExpiresAt;
      if (renewed === null || renewed === undefined) throw new Error(`${runId} has no lease`);
      sample.expiresAtMs = Date.parse(renewed);
      // …and it dies: no more heartbeats, no completion.
      const limitMs = options.leaseMs + 10_000;
      await Promise.race([
        done,
        loopFailed,
        sleep(limitMs).then(() => {
          throw new Error(`run ${runId} not reclaimed ${limitMs} ms after its claim`);
        }),
      ]);
      // The dead holder is fenced off: its next heartbeat must find the lease gone.
      const late = await dying.queue.heartbeat(claimed.fence);
      if (late.held) throw new Error(`the dying claimer still holds ${runId} after the reclaim`);
      const run = await dying.store.getRun(runId);
      if (run?.status !== RunStatus.readyForPromotion || run.claimCount !== 2) {
        throw new Error(`run ${runId} ended ${run?.status} after ${run?.claimCount} claims`);
      }
      if (i < warmups) continue;
      if (sample.requeuedAtMs !== undefined)
        requeued.push(sample.requeuedAtMs - sample.expiresAtMs);
      if (sample.claimedAtMs !== undefined) reclaimed.push(sample.claimedAtMs - sample.expiresAtMs);
    }
  } finally {
    stopping = true;
    await loop.catch(() => undefined);
    await Promise.all([dying.store.close(), rescuer.store.close()]);
  }
  options.progress(`fleet: reclaim ~${Math.round(median(reclaimed))} ms after lease expiry`);
  return {
    rows: [
      {
        metric: 'lease expiry → requeued by the sweep',
        unit: 'ms',
        samples: requeued,
      },
      {
        metric: 'lease expiry → claimed by the other process',
        unit: 'ms',
        samples: reclaimed,
      },
    ],
    notes: [
      `dying claimer: lease ${options.leaseMs} ms, one heartbeat right after its claim, then none; rescuer (own store): sweep + claim every ${options.pollMs} ms; ${options.reclaimSamples} samples after 1 warm-up, at a random phase against the poll`,
      `retry backoff 0 for the bench: the server's (2.5–5 s on the first requeue) and its sweep period (max(1 s, lease/2)) would add to this; every sample checks the run completed on its second claim and the dead holder is fenced`,
      `timestamps are wall-clock ms (the lease's expiry is one); expected ≈ pollMs/2 of waiting plus one sweep and one claim`,
    ],
  };
}
