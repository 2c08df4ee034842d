import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SessionListItem } from '../../src/store/index.js';
import { openSse } from '../api/sse-client.js';
import {
  newBootstrapToken,
  type ServerProcess,
  startServerProcess,
  waitFor,
} from '../helpers/server-process.js';
import { createTempRepo, makeTempDir, removeDir } from '../helpers/temp-repo.js';
import { startWorkerProcess, type WorkerProcess } from '../helpers/worker-process.js';
import { POSTGRES_REQUIRED, type StoreFixture, storeDialects } from '../store/dialects.js';

/**
 * Two real `aas start` replicas on one PostgreSQL database (and, as the README asks, one data
 * directory). Replica A runs the job; replica B has no workers. B's session list feed follows
 * only B's bus and never polls the store, so every frame it sends about A's run came through
 * the relay. Nothing asserts a duration: waits end on what arrives.
 */

const postgres = (await storeDialects()).find((dialect) => dialect.name === 'postgres');
const skip = !postgres?.available && !POSTGRES_REQUIRED;

const cleanup: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await step();
});

function stopOnExit(server: ServerProcess): void {
  cleanup.push(async () => {
    if (server.child.exitCode === null && server.child.signalCode === null) {
      server.child.kill('SIGKILL');
      await server.exited;
    }
  });
}

const LEADING = 'leading the lease sweep';

describe.skipIf(skip)('aas start replicas on one PostgreSQL', () => {
  let fixture: StoreFixture;
  let home: string;
  let repo: string;
  let a: ServerProcess;
  let b: ServerProcess;

  beforeAll(async () => {
    if (!postgres) throw new Error('unreachable');
    fixture = await postgres.open();
    cleanup.push(() => fixture.cleanup());
    home = makeTempDir('aas-replicas-');
    repo = createTempRepo({ 'README.md': 'hello\n' });
    cleanup.push(
      () => removeDir(home),
      () => removeDir(repo),
    );
    const token = newBootstrapToken();
    const env = {
      AAS_DATABASE_URL: fixture.databaseUrl ?? '',
      AAS_RUN_LEASE_MS: '3000',
      AAS_LOG_LEVEL: 'info',
    };
    // Started together on the empty database: both migrate it (one waits on the other's lock),
    // and the later one finds the bootstrap token stored, or loses the race to store it, and
    // starts all the same (that branch, which timing rarely reaches here: bootstrap-admin.test).
    const started = await Promise.allSettled([
      startServerProcess({ home, token, env: { ...env, AAS_WORKERS: '1' } }),
      startServerProcess({ home, token, env: { ...env, AAS_WORKERS: '0' } }),
    ]);
    for (const outcome of started) if (outcome.status === 'fulfilled') stopOnExit(outcome.value);
    const [first, second] = started;
    if (first?.status !== 'fulfilled') throw first?.reason;
    if (second?.status !== 'fulfilled') throw second?.reason;
    a = first.value;
    b = second.value;
  });

  it("streams a run submitted and executed on one replica from the other's list feed", async () => {
    const feed = await openSse(`${b.url}/api/v1/stream`, { authorization: `Bearer ${b.token}` });
    try {
      expect(feed.status).toBe(200);
      const response = await a.api('/api/v1/sessions', {
        method: 'POST',
        body: JSON.stringify({
          task: 'edit',
          repo,
          agent: 'command',
          agentInput: { command: 'echo changed > README.md' },
        }),
      });
      expect(response.status, await response.clone().text()).toBe(201);
      const { sessionId } = (await response.json()) as { sessionId: string };

      const statuses: string[] = [];
      for (;;) {
        const [frame] = await feed.take(1);
        const item = JSON.parse(frame?.data ?? '{}') as SessionListItem;
        if (item.id !== sessionId) continue;
        statuses.push(item.status);
        if (item.status !== 'queued' && item.status !== 'running') break;
      }
      expect(statuses.at(-1)).toBe('ready_for_promotion');
      // The per-session stream on B carries the whole history in seq order, once each.
      const events = await openSse(`${b.url}/api/v1/sessions/${sessionId}/events/stream`, {
        authorization: `Bearer ${b.token}`,
      });
      try {
        const frames: { seq: number; type: string }[] = [];
        while (frames.at(-1)?.type !== 'run.completed') {
          const [frame] = await events.take(1);
          frames.push(JSON.parse(frame?.data ?? '{}') as { seq: number; type: string });
        }
        expect(frames.map((frame) => frame.seq)).toEqual(frames.map((_, index) => index + 1));
      } finally {
        events.close();
      }
    } finally {
      feed.close();
    }
  });

  it('moves a worker to another replica only when asked (--rebind)', async () => {
    const enrolled = (await (
      await a.api('/api/v1/workers/enrolments', {
        method: 'POST',
        body: JSON.stringify({ name: 'mover', labels: [] }),
      })
    ).json()) as { secret: string };
    const workerHome = makeTempDir('aas-replicas-worker-');
    cleanup.push(() => removeDir(workerHome));
    const first = await startWorkerProcess({
      server: a.url,
      home: workerHome,
      secret: enrolled.secret,
    });
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    const outcome = (started: Promise<WorkerProcess>) =>
      started.then(
        async (worker) => {
          worker.child.kill('SIGTERM');
          await worker.exited;
          return `started\n${worker.output().stderr}`;
        },
        (error: unknown) => (error instanceof Error ? error.message : String(error)),
      );
    // Another address: refused unless asked, and the way is named.
    const refused = await outcome(startWorkerProcess({ server: b.url, home: workerHome }));
    expect(refused).toMatch(/CONFIG_INVALID.*this host is registered with http/);
    expect(refused).toMatch(/add --rebind/);
    // Asked: B knows the credential (one database), so the worker moves there and stays.
    const moved = await outcome(
      startWorkerProcess({ server: b.url, home: workerHome, args: ['--rebind'] }),
    );
    expect(moved).toMatch(/^started\n/);
    expect(moved).toContain(`worker mover now talks to ${b.url}`);
    const stored = JSON.parse(
      readFileSync(join(workerHome, 'worker', 'credential.json'), 'utf8'),
    ) as { server: string; installationKeyId?: string };
    expect(stored.server).toBe(b.url);
    // What B had to publish before the credential was sent there.
    const keys = (await (await fetch(`${b.url}/api/v1/keys`)).json()) as {
      keys: { keyId: string }[];
    };
    expect(stored.installationKeyId).toBe(keys.keys[0]?.keyId);
    expect(await outcome(startWorkerProcess({ server: b.url, home: workerHome }))).toMatch(
      /^started\n/,
    );
  });

  it('sweeps on one replica at a time, and on the other once the leader is gone', async () => {
    const leaders = () => [a, b].filter((server) => server.output().stderr.includes(LEADING));
    // Both replicas ticked once they both hold a leadership connection; one of them holds the lock.
    const database = new URL(fixture.databaseUrl ?? '').pathname.slice(1);
    await waitFor('both replicas to contend and one to lead', async () => {
      const [row] = (await fixture.rawQuery(
        `SELECT
           (SELECT count(*) FROM pg_stat_activity
             WHERE datname = '${database}' AND application_name = 'aas-leadership')::int AS contenders,
           (SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database
             WHERE l.locktype = 'advisory' AND l.granted AND d.datname = '${database}')::int AS held`,
      )) as { contenders: number; held: number }[];
      return row?.contenders === 2 && row.held === 1 && leaders().length === 1 ? true : undefined;
    });
    const [leader] = leaders();
    const follower = leader === a ? b : a;
    if (leader === undefined) throw new Error('unreachable');
    expect(follower.output().stderr).not.toContain(LEADING);

    // A crash, not a shutdown: the lead passes on because the leader's session ends with it.
    leader.child.kill('SIGKILL');
    await leader.exited;
    await waitFor('the other replica to take the lead', async () =>
      follower.output().stderr.includes(LEADING) ? true : undefined,
    );
    const response = await follower.api('/api/v1/health');
    expect(response.status).toBeLessThan(500);
  });

  it('refuses to start a replica whose home holds another signing key', async () => {
    const otherHome = makeTempDir('aas-replicas-other-');
    cleanup.push(() => removeDir(otherHome));
    const started = startServerProcess({
      home: otherHome,
      token: a.token,
      env: { AAS_DATABASE_URL: fixture.databaseUrl ?? '', AAS_WORKERS: '0' },
    });
    const failure = await started.then(
      (server) => {
        stopOnExit(server);
        return 'it started';
      },
      (error: unknown) => (error instanceof Error ? error.message : String(error)),
    );
    expect(failure).toMatch(/aas start exited with 2/);
    expect(failure).toMatch(/CONFIG_INVALID.*AAS_HOME.*is not this installation's/);
    expect(failure).toMatch(/servers and commands sharing a database share one AAS_HOME/);
    // The replica that shares the home (the other was stopped above) still serves.
    const alive = [a, b].filter((server) => server.child.exitCode === null && !server.child.killed);
    expect(alive.length).toBeGreaterThan(0);
    for (const server of alive) expect((await server.api('/api/v1/health')).status).toBe(200);
  });
});
