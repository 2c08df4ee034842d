import { type ChildProcess, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunRecord, StoredEvent } from '../../src/store/index.js';
import {
  newBootstrapToken,
  type ServerProcess,
  startServerProcess,
  waitFor,
} from '../helpers/server-process.js';
import { createTempRepo, headCommit, makeTempDir, removeDir } from '../helpers/temp-repo.js';
import { startWorkerProcess, type WorkerProcess } from '../helpers/worker-process.js';

/**
 * Remote workers as real processes on loopback: `aas start` with no embedded worker, and
 * `aas worker` processes with their own data directories that register with one-time secrets,
 * fetch bases as git packs, run in the sandbox and send history, patch and logs back under the
 * lease. Nothing asserts a duration: waits end on what the server reports.
 */

const cleanup: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await step();
});

function killOnExit(process: { child: ChildProcess; exited: Promise<unknown> }): void {
  cleanup.push(async () => {
    if (process.child.exitCode === null && process.child.signalCode === null) {
      process.child.kill('SIGKILL');
      await process.exited;
    }
  });
}

describe('remote workers over HTTP', () => {
  let server: ServerProcess;
  let repo: string;
  const homes: string[] = [];
  /** Worker processes by name, so a test can find the one holding a run. */
  const processes = new Map<string, WorkerProcess>();

  function newHome(prefix: string): string {
    const home = makeTempDir(prefix);
    homes.push(home);
    return home;
  }

  async function json<T>(path: string, init?: RequestInit): Promise<T> {
    const response = await server.api(path, init);
    const text = await response.text();
    if (!response.ok)
      throw new Error(`${init?.method ?? 'GET'} ${path}: ${response.status} ${text}`);
    return JSON.parse(text) as T;
  }

  async function enrol(name: string, labels: readonly string[]): Promise<string> {
    const body = await json<{ secret: string }>('/api/v1/workers/enrolments', {
      method: 'POST',
      body: JSON.stringify({ name, labels }),
    });
    return body.secret;
  }

  async function worker(
    name: string,
    labels: readonly string[],
    args: readonly string[] = [],
  ): Promise<WorkerProcess> {
    const started = await startWorkerProcess({
      server: server.url,
      home: newHome(`aas-worker-${name}-`),
      secret: await enrol(name, labels),
      args,
    });
    killOnExit(started);
    processes.set(name, started);
    return started;
  }

  async function submit(job: Record<string, unknown>): Promise<{
    sessionId: string;
    runId: string;
    warnings: { field: string; message: string }[];
  }> {
    return json('/api/v1/sessions', {
      method: 'POST',
      body: JSON.stringify({ task: 'edit', repo, agent: 'command', ...job }),
    });
  }

  async function workerState(name: string): Promise<{ state: string; drainRequested: boolean }> {
    const { items } = await json<{
      items: { name: string; state: string; drainRequested: boolean }[];
    }>('/api/v1/workers');
    const found = items.find((item) => item.name === name);
    if (found === undefined) throw new Error(`no worker ${name}`);
    return found;
  }

  const run = async (runId: string) =>
    await json<{ run: RunRecord; logs: string[] }>(`/api/v1/runs/${runId}`);

  async function settled(runId: string): Promise<RunRecord> {
    return waitFor(`run ${runId} to end`, async () => {
      const { run: current } = await run(runId);
      return current.status === 'queued' || current.status === 'running' ? undefined : current;
    });
  }

  async function events(sessionId: string): Promise<StoredEvent[]> {
    return (await json<{ items: StoredEvent[] }>(`/api/v1/sessions/${sessionId}/events?limit=1000`))
      .items;
  }

  beforeAll(async () => {
    const home = newHome('aas-control-plane-');
    repo = createTempRepo({ 'a.txt': 'hello\n' });
    cleanup.push(() => {
      for (const dir of [...homes, repo]) removeDir(dir);
    });
    server = await startServerProcess({
      home,
      token: newBootstrapToken(),
      env: { AAS_WORKERS: '0', AAS_RUN_LEASE_MS: '3000' },
    });
    killOnExit(server);
  });

  it('runs a job on a worker that has only the control plane: patch, logs and history come back', async () => {
    const linux = await worker('linux-1', ['linux']);
    const { sessionId, runId } = await submit({
      requireLabels: ['linux'],
      agentInput: { command: 'echo changed >> a.txt' },
      validators: [{ command: 'grep changed a.txt' }],
    });
    const done = await settled(runId);
    expect(done.status).toBe('ready_for_promotion');

    const history = await events(sessionId);
    const started = history.find((event) => event.type === 'run.started');
    const workerId = (started?.data as { owner?: string } | undefined)?.owner;
    expect(workerId).toMatch(/^wrk_/);
    // Everything after the claim was recorded by the worker, from its own cache of the base.
    const base = history.find((event) => event.type === 'run.base.resolved');
    expect(base?.actor).toBe(workerId);
    // Recorded as the job named it (the control plane's path and ref), though the worker ran
    // it from its own cache of the base.
    expect(base?.data).toMatchObject({ repoRoot: repo, baseRef: 'HEAD' });
    expect(done.baseRef).toBe('HEAD');
    expect(readdirSync(join(linux.home, 'worker', 'repos'))).toHaveLength(1);
    // What the worker keeps (patches, base checkouts, workspaces, caches) is its user's alone,
    // under worker/, none of it where a server on the same home keeps its own.
    for (const dir of ['artifacts', 'checkouts', 'runs', 'repos']) {
      expect(statSync(join(linux.home, 'worker', dir)).mode & 0o777, dir).toBe(0o700);
    }
    expect(existsSync(join(linux.home, 'artifacts'))).toBe(false);
    // Once the control plane accepted the result, what the run left on the worker (its patch,
    // logs, private git dir) is gone: the control plane holds the patch and the log tails.
    await waitFor('the worker to delete the run directories', async () =>
      existsSync(join(linux.home, 'worker', 'runs', runId)) ||
      existsSync(join(linux.home, 'worker', 'artifacts', runId))
        ? undefined
        : true,
    );
    expect(readdirSync(join(linux.home, 'worker', 'artifacts'))).toEqual([]);
    expect(history.filter((event) => event.type === 'run.completed')).toHaveLength(1);

    // The control plane never ran the attempt: patch and logs come from what was uploaded.
    const patch = await (await server.api(`/api/v1/runs/${runId}/patch`)).text();
    expect(patch).toContain('+changed');
    const { logs } = await run(runId);
    expect(logs).toEqual(expect.arrayContaining(['1.stdout.log', '1.validator-1.stdout.log']));
    const validatorLog = await (
      await server.api(`/api/v1/runs/${runId}/logs/1.validator-1.stdout.log`)
    ).text();
    expect(validatorLog).toBe('changed\n');

    // Promotion stays on the control plane, from the uploaded patch.
    const approver = await json<{ secret: string }>('/api/v1/tokens', {
      method: 'POST',
      body: JSON.stringify({ name: 'approver', role: 'approver' }),
    });
    const approval = await fetch(`${server.url}/api/v1/runs/${runId}/approvals`, {
      method: 'POST',
      headers: { authorization: `Bearer ${approver.secret}`, 'content-type': 'application/json' },
      body: JSON.stringify({ decision: 'approved' }),
    });
    expect(approval.status).toBe(201);
    const promoted = await server.api(`/api/v1/runs/${runId}/promote`, {
      method: 'POST',
      body: JSON.stringify({ mode: 'patch' }),
    });
    expect(promoted.status).toBe(200);
    expect((await run(runId)).run.status).toBe('promoted');
  });

  it('never hands a run to a worker whose labels do not match', async () => {
    const gpu = await submit({ requireLabels: ['gpu'], agentInput: { command: 'true' } });
    // Queued all the same, with a word on why it may wait.
    expect(gpu.warnings).toEqual([
      expect.objectContaining({
        field: 'requireLabels',
        message: expect.stringContaining(
          'no worker known to this server offers all this run needs (label:gpu, agent:command)',
        ),
      }),
    ]);
    // A run the linux worker can take, submitted after: once it is done, the worker has asked.
    const after = await submit({
      requireLabels: ['linux'],
      agentInput: { command: 'echo more >> a.txt' },
    });
    expect(after.warnings).toEqual([]);
    expect((await settled(after.runId)).status).toBe('ready_for_promotion');
    const { run: waiting } = await run(gpu.runId);
    expect(waiting.status).toBe('queued');
    expect((await events(gpu.sessionId)).some((event) => event.type === 'run.started')).toBe(false);
    await json(`/api/v1/runs/${gpu.runId}/cancel`, { method: 'POST', body: '{}' });
  });

  it("runs a job whose repository is a URL from the worker's own fetch, not a base pack", async () => {
    const fetcher = await worker('fetcher', ['url']);
    const source = createTempRepo({ 'b.txt': 'from the url\n' });
    cleanup.push(() => removeDir(source));
    const url = `file://${source}`;
    const { sessionId, runId } = await submit({
      repo: url,
      requireLabels: ['url'],
      agentInput: { command: 'echo fetched >> b.txt' },
    });
    expect((await settled(runId)).status).toBe('ready_for_promotion');
    const base = (await events(sessionId)).find((event) => event.type === 'run.base.resolved');
    expect(base?.actor).toMatch(/^wrk_/);
    expect(base?.data).toMatchObject({ repoRoot: url, baseCommit: headCommit(source) });
    // The worker's cache holds the URL's repository and nothing the control plane packed.
    const key = createHash('sha256').update(url).digest('hex');
    expect(readdirSync(join(fetcher.home, 'worker', 'repos'))).toEqual([key]);
    expect(await (await server.api(`/api/v1/runs/${runId}/patch`)).text()).toContain('+fetched');
  });

  it('re-leases the run of a killed worker; its late report is fenced', async () => {
    const { sessionId, runId } = await submit({
      requireLabels: ['linux'],
      agentInput: { command: 'sleep 4; echo survived >> a.txt' },
    });
    // Killed once its attempt started, so that its workspace is there (see the end).
    const first = await waitFor('the attempt to start', async () => {
      const current = (await run(runId)).run;
      if (current.status !== 'running') return undefined;
      const started = (await events(sessionId)).some(
        (event) => event.type === 'run.attempt.started',
      );
      return started ? current : undefined;
    });
    const holder = first.leaseOwner;
    const listed = await json<{ items: { id: string; name: string }[] }>('/api/v1/workers');
    const victim = processes.get(listed.items.find((item) => item.id === holder)?.name ?? '');
    if (victim === undefined) throw new Error(`no process of ours holds ${runId} (${holder})`);
    // The attempt's event is streamed before its sandbox starts; its logs appear with the
    // sandbox, and the end of this test expects them to outlive the workspace.
    const victimAttempt = join(victim.home, 'worker', 'runs', runId, 'attempt-1');
    await waitFor('the agent to start writing its logs', async () =>
      existsSync(join(victimAttempt, 'stdout.log')) ? true : undefined,
    );
    victim.child.kill('SIGKILL');
    await victim.exited;
    const rescuer = await worker('linux-2', ['linux']);
    const done = await settled(runId);
    expect(done.status).toBe('ready_for_promotion');
    expect(done.claimCount).toBe(2);
    expect(done.leaseOwner).toBeNull();
    const history = await events(sessionId);
    const claims = history.filter((event) => event.type === 'run.started');
    expect(claims.map((event) => (event.data as { owner: string }).owner)).toEqual([
      holder,
      expect.not.stringMatching(holder ?? ''),
    ]);

    // The dead worker's final report, sent now with its saved credential and its old claim.
    const saved = JSON.parse(
      readFileSync(join(victim.home, 'worker', 'credential.json'), 'utf8'),
    ) as { credential: string };
    const late = await fetch(`${server.url}/api/v1/workers/runs/${runId}/ops`, {
      method: 'POST',
      headers: { authorization: `Bearer ${saved.credential}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        fencingToken: first.fencingToken,
        operation: {
          op: 'updateRun',
          writeSeq: 99,
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
    expect((await run(runId)).run.status).toBe('ready_for_promotion');
    expect(rescuer.child.exitCode).toBeNull();
    // The rescuer's result was accepted: it keeps nothing of the run.
    await waitFor('the rescuer to delete the run directories', async () =>
      existsSync(join(rescuer.home, 'worker', 'runs', runId)) ? undefined : true,
    );

    // What the killed worker left in its home (its workspace, mounted when it is an overlay)
    // goes when a worker starts on that home again; the logs stay until the worker's sweep
    // finds them a day old. A workspace of another
    // process on the same home (a server's, under runs/) is not the worker's to remove.
    const attemptDir = victimAttempt;
    expect(readdirSync(attemptDir)).toContain('workspace');
    const othersAttempt = join(victim.home, 'runs', runId, 'attempt-1');
    mkdirSync(join(othersAttempt, 'workspace'), { recursive: true });
    writeFileSync(join(othersAttempt, 'base.index'), '');
    const restarted = await startWorkerProcess({ server: server.url, home: victim.home });
    killOnExit(restarted);
    expect(readdirSync(attemptDir)).not.toContain('workspace');
    expect(readdirSync(attemptDir).some((name) => name.endsWith('.log'))).toBe(true);
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(victim.home);
    expect(restarted.output().stderr).toContain('removed the workspaces a previous worker');
    expect(readdirSync(othersAttempt)).toContain('workspace');
    restarted.child.kill('SIGTERM');
    expect(await restarted.exited).toBe(0);
  });

  it('drains on SIGTERM (shown, not kept across a restart); an admin drain holds until resumed', async () => {
    const drainer = await worker('drainer', ['drain']);
    const { runId } = await submit({
      requireLabels: ['drain'],
      agentInput: { command: 'sleep 2; echo drained >> a.txt' },
    });
    await waitFor('the run to start', async () =>
      (await run(runId)).run.status === 'running' ? true : undefined,
    );
    drainer.child.kill('SIGTERM');
    const queuedAfter = await submit({
      requireLabels: ['drain'],
      agentInput: { command: 'echo after >> a.txt' },
    });
    // The worker says it is draining: shown so while it finishes, and after it left.
    await waitFor('the worker to be shown draining', async () =>
      (await workerState('drainer')).state === 'draining' ? true : undefined,
    );
    expect(await drainer.exited).toBe(0);
    expect((await run(runId)).run.status).toBe('ready_for_promotion');
    expect((await run(queuedAfter.runId)).run.status).toBe('queued');
    expect(drainer.output().stderr).toContain('draining');
    expect(await workerState('drainer')).toMatchObject({
      state: 'draining',
      drainRequested: false,
    });

    // Its own drain was not kept: started again, it takes the run that waited.
    const restarted = await startWorkerProcess({ server: server.url, home: drainer.home });
    killOnExit(restarted);
    expect((await settled(queuedAfter.runId)).status).toBe('ready_for_promotion');

    // An administrator's drain is kept: the worker keeps running and gets nothing until resumed.
    await json('/api/v1/workers/drainer/drain', { method: 'POST' });
    const held = await submit({
      requireLabels: ['drain'],
      agentInput: { command: 'echo resumed >> a.txt' },
    });
    await waitFor('the drained worker to be seen again', async () => {
      const seen = await workerState('drainer');
      return seen.state === 'draining' && seen.drainRequested ? true : undefined;
    });
    expect((await run(held.runId)).run).toMatchObject({ status: 'queued', claimCount: 0 });
    await json('/api/v1/workers/drainer/resume', { method: 'POST' });
    expect((await settled(held.runId)).status).toBe('ready_for_promotion');
    expect(restarted.child.exitCode).toBeNull();
    restarted.child.kill('SIGTERM');
    expect(await restarted.exited).toBe(0);
  });

  it('stops a run whose lease lapsed while the control plane was unreachable, reports nothing and keeps its logs', async () => {
    const cutOff = await worker('cut-off', ['lapse'], ['--concurrency', '1']);
    // No second claim: the control plane ends the run itself once the lease is past.
    const { sessionId, runId } = await submit({
      requireLabels: ['lapse'],
      interruptRetries: 0,
      agentInput: { command: 'echo begun; sleep 617' },
    });
    const attemptDir = join(cutOff.home, 'worker', 'runs', runId, 'attempt-1');
    const context = { context: () => cutOff.output().stderr.slice(-3000), deadlineMs: 60_000 };
    await waitFor(
      'the sandboxed command to run',
      async () =>
        sleeping('617').length > 0 && existsSync(join(attemptDir, 'stdout.log')) ? true : undefined,
      context,
    );
    // Frozen, the control plane holds every connection open and answers nothing: the worker's
    // beats hang instead of failing, and only its own reckoning of the deadline stops the run.
    server.child.kill('SIGSTOP');
    try {
      await waitFor(
        'the worker to stop the run at its lease deadline',
        async () =>
          cutOff.output().stderr.includes('lease lapsed while the control plane was unreachable')
            ? true
            : undefined,
        context,
      );
      await waitFor(
        'the sandboxed command to be gone',
        async () => (sleeping('617').length === 0 ? true : undefined),
        context,
      );
    } finally {
      server.child.kill('SIGCONT');
    }
    const ended = await settled(runId);
    expect(ended).toMatchObject({ status: 'failed', reasonCode: 'INTERRUPTED', claimCount: 1 });
    await waitFor(
      'the worker to finish with the run',
      async () =>
        cutOff.output().stderr.includes('stopped before the run ended') ? true : undefined,
      { ...context, deadlineMs: 20_000 },
    );
    // The only end in the history is the control plane's: the worker reported no result.
    const history = await events(sessionId);
    const completions = history.filter((event) => event.type === 'run.completed');
    expect(completions).toHaveLength(1);
    expect(completions[0]?.actor).not.toMatch(/^wrk_/);
    expect((await run(runId)).logs).toEqual([]);
    // What the control plane may never have received stays on the worker's disk (a day, by the
    // worker's sweep), and the worker goes on claiming: once it has finished another run, the
    // lapsed run's logs are still there.
    expect(readFileSync(join(attemptDir, 'stdout.log'), 'utf8')).toBe('begun\n');
    const next = await submit({
      requireLabels: ['lapse'],
      agentInput: { command: 'echo after-lapse >> a.txt' },
    });
    expect((await settled(next.runId)).status).toBe('ready_for_promotion');
    expect(existsSync(join(attemptDir, 'stdout.log'))).toBe(true);
    expect(cutOff.child.exitCode).toBeNull();
    // Refused records of a stopped run are expected, not warned about.
    expect(cutOff.output().stderr).not.toContain('could not record workspace disposal');
  });

  it('stops the sandboxes of a worker revoked while it runs, at its first refused heartbeat', async () => {
    // One slot, busy with the run: no claim of another slot meets the refusal first.
    const busy = await worker('revoked-busy', ['revoke-mid'], ['--concurrency', '1']);
    // A command nothing else here runs, so that its process can be looked for by name.
    const { runId } = await submit({
      requireLabels: ['revoke-mid'],
      agentInput: { command: 'sleep 613' },
    });
    await waitFor('the sandboxed command to run', async () =>
      (await run(runId)).run.status === 'running' && sleeping().length > 0 ? true : undefined,
    );
    await json('/api/v1/workers/revoked-busy', { method: 'DELETE' });
    // Before, the worker let the run go on until its lease lapsed (a server's default lease is
    // 30 s) or the run ended; now the first refused heartbeat stops it.
    expect(await busy.exited).not.toBe(0);
    const { stderr } = busy.output();
    expect(stderr, stderr).toContain('the control plane refused this worker: stopping its runs');
    expect(stderr, stderr).not.toContain('lease lapsed');
    await waitFor('the sandboxed command to be gone', async () =>
      sleeping().length === 0 ? true : undefined,
    );
  });

  it('stops a worker whose credential was revoked', async () => {
    const revoked = await worker('revoked', ['linux']);
    await json('/api/v1/workers/revoked', { method: 'DELETE' });
    const code = await revoked.exited;
    expect(code).not.toBe(0);
    expect(revoked.output().stderr).toContain('UNAUTHENTICATED');
    // Starting it again with its stored credential is refused the same way.
    const again = await startWorkerProcess({ server: server.url, home: revoked.home }).then(
      async (restarted) => {
        killOnExit(restarted);
        const exitCode = await restarted.exited;
        return `exit ${exitCode}\n${restarted.output().stderr}`;
      },
      (error: unknown) => String(error),
    );
    expect(again).not.toMatch(/^exit 0\n/);
    expect(again).toContain('UNAUTHENTICATED');
    // A new secret does not overwrite the credential its home holds.
    const replaced = await startWorkerProcess({
      server: server.url,
      home: revoked.home,
      secret: await enrol('revoked-anew', ['linux']),
    }).then(
      async (restarted) => {
        killOnExit(restarted);
        const exitCode = await restarted.exited;
        return `exit ${exitCode}\n${restarted.output().stderr}`;
      },
      (error: unknown) => String(error),
    );
    expect(replaced).toContain('this home is registered already, as worker revoked');
    expect(
      (await json<{ items: { name: string }[] }>('/api/v1/workers/enrolments')).items.map(
        (item) => item.name,
      ),
    ).toContain('revoked-anew');
  });

  it('refuses to rebind a worker to a server of another installation, and keeps its credential', async () => {
    const moving = await worker('not-moving', ['nowhere']);
    moving.child.kill('SIGTERM');
    expect(await moving.exited).toBe(0);
    const credentialPath = join(moving.home, 'worker', 'credential.json');
    const before = readFileSync(credentialPath, 'utf8');
    const foreign = await startServerProcess({
      home: newHome('aas-other-installation-'),
      token: newBootstrapToken(),
      env: { AAS_WORKERS: '0' },
    });
    killOnExit(foreign);
    const refused = await startWorkerProcess({
      server: foreign.url,
      home: moving.home,
      args: ['--rebind'],
    }).then(
      async (started) => {
        killOnExit(started);
        return `started\n${started.output().stderr}`;
      },
      (error: unknown) => String(error),
    );
    // Told apart by the signing key it publishes, before the credential is sent anywhere.
    expect(refused).toMatch(/CONFIG_INVALID/);
    expect(refused).toContain('is not the installation this worker registered with');
    expect(refused).toContain('the credential was not sent');
    expect(readFileSync(credentialPath, 'utf8')).toBe(before);
    foreign.child.kill('SIGTERM');
    await foreign.exited;
  });

  it('refuses a second worker on a home in use, and takes the home once its worker stopped', async () => {
    const owner = await worker('home-owner', ['linux']);
    const second = await startWorkerProcess({ server: server.url, home: owner.home }).then(
      async (started) => {
        killOnExit(started);
        return `started\n${started.output().stderr}`;
      },
      (error: unknown) => String(error),
    );
    expect(second).toContain('aas worker exited with 2');
    // It waited for a holder that might have died a moment ago, then gave up.
    expect(second).toContain(`another aas worker holds ${owner.home}; waiting up to 15 s`);
    expect(second).toContain(
      `another aas worker is running on ${owner.home}: its lock stayed taken for 15 s`,
    );
    // The first one was not disturbed: it still runs what is pinned to it.
    const pinned = await submit({
      worker: 'home-owner',
      agentInput: { command: 'echo pinned >> a.txt' },
    });
    expect((await settled(pinned.runId)).status).toBe('ready_for_promotion');
    owner.child.kill('SIGTERM');
    expect(await owner.exited).toBe(0);
    const next = await startWorkerProcess({ server: server.url, home: owner.home });
    killOnExit(next);
    expect(next.output().stderr).toContain('"worker started"');
    // Its lock taken from under it (here removed; as by another process): it drains and fails,
    // so that a supervisor restarts it rather than count a clean stop.
    rmSync(join(owner.home, 'worker', 'lock'), { recursive: true });
    expect(await next.exited).toBe(1);
    expect(next.output().stderr).toContain('worker lost the lock of its home; draining');
    expect(next.output().stderr).toContain(
      `INTERRUPTED]: --home: the worker stopped after losing the lock of ${owner.home}`,
    );
  });
});

/** Processes running the revoked worker's command, found by their command line. */
/** The processes of `sleep <seconds>`: each test sleeps for a length nothing else here uses. */
function sleeping(seconds = '613'): string[] {
  const found = spawnSync('pgrep', ['-f', `^sleep ${seconds}$`], { encoding: 'utf8' });
  return found.stdout.split('\n').filter((line) => line.trim() !== '');
}
