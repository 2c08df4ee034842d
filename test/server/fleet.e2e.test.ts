import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunRecord, StoredEvent } from '../../src/store/index.js';
import {
  newBootstrapToken,
  outputTail,
  type ServerProcess,
  startServerProcess,
  waitFor,
} from '../helpers/server-process.js';
import { createTempRepo, makeTempDir, removeDir } from '../helpers/temp-repo.js';
import { startWorkerProcess, type WorkerProcess } from '../helpers/worker-process.js';
import { POSTGRES_REQUIRED, type StoreFixture, storeDialects } from '../store/dialects.js';

/**
 * The fleet: two `aas start` replicas on one PostgreSQL database, no embedded workers, and three
 * `aas worker` processes (two on one replica, one on the other), all real processes on loopback.
 * 200 runs go through it while a worker is killed mid-run and then the replica that leads the
 * lease sweep is killed: every run still completes exactly once, promotes at most once when
 * both replicas are asked at the same moment, a run whose labels no worker carries is never
 * handed out, the dead worker's late report is fenced, and its revoked credential is refused.
 * Nothing asserts a duration: waits end on what the servers report.
 */

const postgres = (await storeDialects()).find((dialect) => dialect.name === 'postgres');
const skip = !postgres?.available && !POSTGRES_REQUIRED;

const RUNS = Number(process.env.FLEET_RUNS ?? 200);
const LEADING = 'leading the lease sweep';

const cleanup: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await step();
});

function killOnExit(process: { child: WorkerProcess['child']; exited: Promise<unknown> }): void {
  cleanup.push(async () => {
    if (process.child.exitCode === null && process.child.signalCode === null) {
      process.child.kill('SIGKILL');
      await process.exited;
    }
  });
}

async function json<T>(server: ServerProcess, path: string, init?: RequestInit): Promise<T> {
  const response = await server.api(path, init);
  const text = await response.text();
  if (!response.ok) throw new Error(`${init?.method ?? 'GET'} ${path}: ${response.status} ${text}`);
  return JSON.parse(text) as T;
}

describe.skipIf(skip)('a fleet: two replicas, three remote workers, one PostgreSQL', () => {
  let fixture: StoreFixture;
  let home: string;
  let repo: string;
  let leader: ServerProcess;
  let follower: ServerProcess;
  const workers = new Map<string, WorkerProcess>();
  const homes: string[] = [];

  async function startWorker(name: string, server: ServerProcess): Promise<WorkerProcess> {
    const { secret } = await json<{ secret: string }>(server, '/api/v1/workers/enrolments', {
      method: 'POST',
      body: JSON.stringify({ name, labels: ['linux'] }),
    });
    const workerHome = makeTempDir(`aas-fleet-${name}-`);
    homes.push(workerHome);
    const started = await startWorkerProcess({
      server: server.url,
      home: workerHome,
      secret,
      args: ['--concurrency', '2'],
    });
    killOnExit(started);
    workers.set(name, started);
    return started;
  }

  /** The workers as the follower lists them and what every process wrote, for a failed wait. */
  async function fleetState(): Promise<string> {
    const listed = await json<unknown>(follower, '/api/v1/workers').then(
      (body) => JSON.stringify(body),
      (error: unknown) => `(not listed: ${error instanceof Error ? error.message : String(error)})`,
    );
    return [
      `workers: ${listed}`,
      ...[...workers].map(([name, worker]) => outputTail(`worker ${name}`, worker.output())),
      outputTail('leader', leader.output()),
      outputTail('follower', follower.output()),
    ].join('\n');
  }

  beforeAll(async () => {
    if (!postgres) throw new Error('unreachable');
    fixture = await postgres.open();
    cleanup.push(() => fixture.cleanup());
    home = makeTempDir('aas-fleet-');
    repo = createTempRepo({ 'a.txt': 'hello\n' });
    cleanup.push(() => {
      for (const dir of [home, repo, ...homes]) removeDir(dir);
    });
    const token = newBootstrapToken();
    const env = {
      AAS_DATABASE_URL: fixture.databaseUrl ?? '',
      AAS_RUN_LEASE_MS: '3000',
      AAS_WORKERS: '0',
      AAS_LOG_LEVEL: 'info',
    };
    const a = await startServerProcess({ home, token, env });
    killOnExit(a);
    const b = await startServerProcess({ home, token, env });
    killOnExit(b);
    await waitFor('one replica to lead the sweep', async () => {
      const leading = [a, b].filter((server) => server.output().stderr.includes(LEADING));
      return leading.length === 1 ? leading : undefined;
    });
    leader = a.output().stderr.includes(LEADING) ? a : b;
    follower = leader === a ? b : a;
    await startWorker('w1', leader);
    await startWorker('w2', leader);
    await startWorker('w3', follower);
  });

  it('completes 200 runs exactly once through a killed worker and a killed replica', async () => {
    const submit = (server: ServerProcess, job: Record<string, unknown>) =>
      json<{ sessionId: string; runId: string }>(server, '/api/v1/sessions', {
        method: 'POST',
        body: JSON.stringify({ task: 'edit', repo, agent: 'command', ...job }),
      });
    const gpu = await submit(follower, { requireLabels: ['gpu'], agentInput: { command: 'true' } });
    const submitted: { sessionId: string; runId: string }[] = [];
    for (let n = 0; n < RUNS; n += 1) {
      submitted.push(
        await submit(n % 2 === 0 ? leader : follower, {
          requireLabels: ['linux'],
          // Each run takes a moment, so kills land while runs are held.
          agentInput: { command: `sleep 0.3; echo ${n} >> a.txt` },
          interruptRetries: 3,
        }),
      );
    }

    // Kill a worker while it holds a run; what it held is read after the kill (its leases stay
    // on record until they lapse), so the claim remembered for its late report is one it held.
    type Listed = {
      items: { id: string; name: string; runIds: string[]; fencingToken: number | null }[];
    };
    let held: { runId: string; fencingToken: number } | undefined;
    let w1: WorkerProcess | undefined = workers.get('w1');
    for (let round = 1; held === undefined; round += 1) {
      if (round > 5) throw new Error('no killed worker held a run');
      const name = round === 1 ? 'w1' : `w1-${round}`;
      w1 = round === 1 ? workers.get('w1') : await startWorker(name, leader);
      await waitFor(
        `${name} to hold a run`,
        async () => {
          const listed = await json<Listed>(follower, '/api/v1/workers');
          return (listed.items.find((item) => item.name === name)?.runIds.length ?? 0) > 0
            ? true
            : undefined;
        },
        { context: fleetState },
      );
      w1?.child.kill('SIGKILL');
      await w1?.exited;
      const after = await json<Listed>(follower, '/api/v1/workers');
      const victim = after.items.find((item) => item.name === name);
      const runId = victim?.runIds[0];
      if (runId !== undefined && victim?.fencingToken != null) {
        held = { runId, fencingToken: victim.fencingToken };
      }
    }

    // Then the replica that leads the sweep, while its worker w2 still holds runs.
    const status = async (server: ServerProcess, runId: string) =>
      (await json<{ run: RunRecord }>(server, `/api/v1/runs/${runId}`)).run;
    await waitFor(
      'a third of the runs to finish',
      async () => {
        let finished = 0;
        for (const { runId } of submitted) {
          const { status: current } = await status(follower, runId);
          if (current !== 'queued' && current !== 'running') finished += 1;
          if (finished >= RUNS / 3) return true;
        }
        return undefined;
      },
      { context: fleetState },
    );
    leader.child.kill('SIGKILL');
    await leader.exited;
    await waitFor(
      'the other replica to lead the sweep',
      async () => (follower.output().stderr.includes(LEADING) ? true : undefined),
      { context: fleetState },
    );

    // The follower serves and sweeps alone; w3 finishes everything, w2's lapsed leases included.
    const finals = new Map<string, RunRecord>();
    await waitFor(
      'every run to end',
      async () => {
        for (const { runId } of submitted) {
          if (finals.has(runId)) continue;
          const current = await status(follower, runId);
          if (current.status === 'queued' || current.status === 'running') return undefined;
          finals.set(runId, current);
        }
        return true;
      },
      { deadlineMs: 900_000, everyMs: 500, context: fleetState },
    );
    const reclaimed = [...finals.values()].filter((run) => run.claimCount > 1);
    expect(reclaimed.length).toBeGreaterThan(0);
    expect(reclaimed.some((run) => run.id === held.runId)).toBe(true);
    for (const { sessionId, runId } of submitted) {
      const run = finals.get(runId);
      expect(run?.status, `${runId}: ${run?.reasonCode} ${run?.reasonDetail}`).toBe(
        'ready_for_promotion',
      );
      const events = (
        await json<{ items: StoredEvent[] }>(
          follower,
          `/api/v1/sessions/${sessionId}/events?limit=1000`,
        )
      ).items;
      expect(events.filter((event) => event.type === 'run.completed')).toHaveLength(1);
      expect(events.filter((event) => event.type === 'run.started')).toHaveLength(
        run?.claimCount ?? -1,
      );
      // Seqs are gap-free: no write of a dead holder slipped in after the fact.
      expect(events.map((event) => event.seq)).toEqual(events.map((_, index) => index + 1));
    }

    // No worker carries `gpu`: that run was never handed out.
    const gpuRun = await status(follower, gpu.runId);
    expect(gpuRun.status).toBe('queued');
    expect(gpuRun.claimCount).toBe(0);

    // The dead worker's late final report, from its saved credential and claim, is fenced.
    const saved = JSON.parse(
      readFileSync(join(w1?.home ?? '', 'worker', 'credential.json'), 'utf8'),
    ) as { credential: string };
    const late = await fetch(`${follower.url}/api/v1/workers/runs/${held.runId}/ops`, {
      method: 'POST',
      headers: { authorization: `Bearer ${saved.credential}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        fencingToken: held.fencingToken,
        operation: {
          op: 'updateRun',
          writeSeq: 1_000,
          changes: {
            status: 'failed',
            reasonCode: 'AGENT_FAILED',
            leaseOwner: null,
            leaseExpiresAt: null,
          },
          events: [],
        },
      }),
    });
    expect(late.status).toBe(409);
    expect(((await late.json()) as { code: string }).code).toBe('LEASE_FENCED');
    expect((await status(follower, held.runId)).status).toBe('ready_for_promotion');

    // Revoked, its credential is refused outright.
    const victimName = [...workers.entries()].find(([, process]) => process === w1)?.[0] ?? 'w1';
    await json(follower, `/api/v1/workers/${victimName}`, { method: 'DELETE' });
    const refused = await fetch(`${follower.url}/api/v1/workers/claim`, {
      method: 'POST',
      headers: { authorization: `Bearer ${saved.credential}`, 'content-type': 'application/json' },
      body: JSON.stringify({ waitSec: 0 }),
    });
    expect(refused.status).toBe(401);
    await json(follower, `/api/v1/runs/${gpu.runId}/cancel`, { method: 'POST', body: '{}' });
  }, 1_200_000);

  it('promotes each run at most once when both replicas are asked at the same moment', async () => {
    // The killed replica comes back on the same database and data directory.
    const revived = await startServerProcess({
      home,
      token: follower.token,
      env: {
        AAS_DATABASE_URL: fixture.databaseUrl ?? '',
        AAS_RUN_LEASE_MS: '3000',
        AAS_WORKERS: '0',
      },
    });
    killOnExit(revived);
    const approver = await json<{ secret: string }>(follower, '/api/v1/tokens', {
      method: 'POST',
      body: JSON.stringify({ name: 'fleet-approver', role: 'approver' }),
    });
    const page = await json<{ items: { id: string; status: string }[] }>(
      follower,
      '/api/v1/sessions?status=ready_for_promotion&limit=200',
    );
    const sessions = page.items.slice(0, Math.min(40, RUNS));
    expect(sessions.length).toBe(Math.min(40, RUNS));
    let promotedAnswers = 0;
    for (const session of sessions) {
      const { runs } = await json<{ runs: RunRecord[] }>(
        follower,
        `/api/v1/sessions/${session.id}`,
      );
      const runId = runs[0]?.id ?? '';
      const approval = await fetch(`${follower.url}/api/v1/runs/${runId}/approvals`, {
        method: 'POST',
        headers: { authorization: `Bearer ${approver.secret}`, 'content-type': 'application/json' },
        body: JSON.stringify({ decision: 'approved' }),
      });
      expect(approval.status).toBe(201);
      const answers = await Promise.all(
        [follower, revived].map((server) =>
          server.api(`/api/v1/runs/${runId}/promote`, {
            method: 'POST',
            body: JSON.stringify({ mode: 'patch' }),
          }),
        ),
      );
      for (const answer of answers) {
        const why = `${await answer.clone().text()}\n${follower.output().stderr.slice(-3000)}\n${revived.output().stderr.slice(-3000)}`;
        expect(answer.status, why).toBeLessThan(500);
      }
      promotedAnswers += answers.filter((answer) => answer.status === 200).length;
      const events = (
        await json<{ items: StoredEvent[] }>(
          follower,
          `/api/v1/sessions/${session.id}/events?limit=1000`,
        )
      ).items;
      expect(events.filter((event) => event.type === 'promotion.completed')).toHaveLength(1);
      expect(
        runs[0]?.status === 'promoted' ||
          (await json<{ run: RunRecord }>(follower, `/api/v1/runs/${runId}`)).run.status ===
            'promoted',
      ).toBe(true);
    }
    expect(promotedAnswers).toBeGreaterThanOrEqual(sessions.length);
  }, 600_000);
});
