import { existsSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../../src/app/index.js';
import { parseConfig } from '../../src/config/index.js';
import { jsonOf, runCli } from '../helpers/run-cli.js';
import { waitFor } from '../helpers/server-process.js';
import { createTempRepo, makeTempDir, removeDir } from '../helpers/temp-repo.js';

/**
 * The built `aas` binary as a client of a real AAS server (API, queue and an embedded worker)
 * running in this process: the same job, the same progress lines and exit codes as a local run.
 */

const TOKEN = `aas_${'e2e0123456789abcdefghijklmnopqrstuvwxyzAB'}`;

const cleanup: string[] = [];
let server: RunningServer;
let serverHome: string;
let clientHome: string;
let repo: string;

beforeAll(async () => {
  serverHome = makeTempDir('aas-server-home-');
  clientHome = makeTempDir('aas-client-home-');
  repo = createTempRepo({ 'README.md': '# demo\n', 'src/app.js': 'export const answer = 41;\n' });
  cleanup.push(serverHome, clientHome, repo);
  const config = parseConfig({
    env: { AAS_HOME: serverHome, AAS_BOOTSTRAP_TOKEN: TOKEN, AAS_LOG_LEVEL: 'error' },
    cwd: serverHome,
    overrides: { port: 0, workers: 1 },
  });
  server = await startServer(config, { hostEnv: process.env, nodePath: process.execPath });
});

afterAll(async () => {
  await server?.close();
  for (const dir of cleanup) removeDir(dir);
});

/** The CLI with its own (empty) data directory, so nothing can come from a local store. */
function client(args: readonly string[], env: NodeJS.ProcessEnv = { AAS_TOKEN: TOKEN }) {
  return runCli(['--server', server.url, ...args], { home: clientHome, env });
}

const FIX = "sed -i 's/answer = 41/answer = 42/' src/app.js";

describe('aas as a client of a server', () => {
  let sessionId = '';
  let runId = '';

  it('aas run --server: live progress, ready_for_promotion, exit 0', async () => {
    const result = await client(['run', '--repo', repo, '--task', 'answer 42', '--agent-cmd', FIX]);
    expect(result.code, result.stderr + result.stdout).toBe(0);
    const out = result.stdout;
    const session = /^session (ses_[0-9a-f]{24}) \(requested by admin\)$/m.exec(out);
    const run = /^run (run_[0-9a-f]{24}) started$/m.exec(out);
    expect(session, out).not.toBeNull();
    expect(run, out).not.toBeNull();
    sessionId = session?.[1] ?? '';
    runId = run?.[1] ?? '';
    expect(out).toContain(`queued on ${server.url}\n`);
    for (const phase of ['base', 'policy', 'sandbox', 'workspace', 'agent', 'patch', 'gate']) {
      expect(out).toMatch(new RegExp(`^ {2}${phase} +\\S`, 'm'));
    }
    expect(out).toContain('attempt 1 · agent command\n');
    expect(out).toMatch(/^decision {2}ready_for_promotion \(GATES_PASSED\)/m);
    expect(out).toContain(`patch     ${server.url}/api/v1/runs/${runId}/patch\n`);
    expect(out).toContain(' src/app.js | 2 +-\n');
    expect(out).toContain(`details   aas sessions show ${sessionId} --server ${server.url}\n`);
    expect(out).not.toContain(TOKEN);
    expect(result.stderr).not.toContain(TOKEN);
    // The client opened no store of its own.
    expect(existsSync(join(clientHome, 'aas.db'))).toBe(false);

    const patch = await fetch(`${server.url}/api/v1/runs/${runId}/patch`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(patch.status).toBe(200);
    expect(await patch.text()).toContain('+export const answer = 42;');
  });

  it('aas sessions list / show / events read the run from the server', async () => {
    const list = await client(['sessions', 'list']);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(
      new RegExp(`^${sessionId} +ready_for_promotion +GATES_PASSED +command `, 'm'),
    );

    const filtered = await client([
      'sessions',
      'list',
      '--json',
      '--repo',
      repo,
      '--agent',
      'command',
    ]);
    expect(filtered.code, filtered.stderr).toBe(0);
    const rows = JSON.parse(filtered.stdout) as { id: string; requestedBy: string }[];
    expect(rows.map((row) => row.id)).toContain(sessionId);
    expect(rows.every((row) => row.requestedBy === 'admin')).toBe(true);

    const show = await client(['sessions', 'show', sessionId]);
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toContain(`session   ${sessionId}\n`);
    expect(show.stdout).toContain(`run       ${runId}  ready_for_promotion (GATES_PASSED)\n`);
    expect(show.stdout).toMatch(/^attempt 1 · command · success \(GATES_PASSED\)$/m);
    expect(show.stdout).toMatch(/requested by admin/);

    const events = await client(['sessions', 'events', sessionId, '--json']);
    expect(events.code, events.stderr).toBe(0);
    const types = events.stdout
      .trim()
      .split('\n')
      .map((line) => (JSON.parse(line) as { type: string }).type);
    expect(types[0]).toBe('session.created');
    expect(types).toContain('run.completed');
  });

  it('aas run --server --json prints one result object; a blocked run exits 3', async () => {
    const result = await client([
      'run',
      '--repo',
      repo,
      '--task',
      'x',
      '--agent-cmd',
      FIX,
      '--validate',
      'false',
      '--json',
    ]);
    expect(result.code, result.stderr + result.stdout).toBe(3);
    const outcome = jsonOf<Record<string, unknown>>(result);
    expect(outcome).toMatchObject({
      ok: false,
      status: 'blocked',
      reasonCode: 'GATE_FAILED',
      exitCode: 3,
      server: server.url,
      patch: null,
    });
    expect(result.stdout.trim().split('\n')).toHaveLength(1);
  });

  it('aas run --server warns when no worker can take the run, and follows it all the same', async () => {
    const jobFile = join(clientHome, 'gpu-job.json');
    writeFileSync(jobFile, JSON.stringify({ requireLabels: ['gpu'] }));
    const task = 'needs a gpu this server lacks';
    const pending = client([
      'run',
      '--job',
      jobFile,
      '--repo',
      repo,
      '--task',
      task,
      '--agent-cmd',
      'true',
    ]);
    const api = (path: string, init: RequestInit = {}) =>
      fetch(`${server.url}/api/v1${path}`, {
        ...init,
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      });
    // It waits queued: cancelled here, so that the client's follow ends.
    const runId = await waitFor('the gpu run to be queued', async () => {
      const page = (await (await api('/sessions?status=queued')).json()) as {
        items: { task: string; runId: string | null }[];
      };
      return page.items.find((item) => item.task === task)?.runId ?? undefined;
    });
    expect((await api(`/runs/${runId}/cancel`, { method: 'POST', body: '{}' })).status).toBe(202);
    const result = await pending;
    expect(result.stderr).toContain(
      'warning: requireLabels: no worker known to this server offers all this run needs (label:gpu, agent:command): it waits, queued, until one that does claims it\n  hint: aas workers shows what each worker offers',
    );
    expect(result.stdout).toMatch(/^decision {2}cancelled \(CANCELLED\)/m);
    expect(result.code).toBe(130);
  });

  it('a wrong token: exit 2 and a clear message, the token never shown', async () => {
    const wrong = `aas_${'wrong0123456789abcdefghijklmnopqrstuvwxyz'}`;
    const result = await client(['sessions', 'list'], { AAS_TOKEN: wrong });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^error \[UNAUTHENTICATED\]: /);
    expect(result.stderr).toMatch(/hint: set AAS_TOKEN \(or --token\)/);
    expect(result.stderr + result.stdout).not.toContain(wrong);

    const missing = await client(['run', '--repo', repo, '--task', 'x', '--agent-cmd', FIX], {
      AAS_TOKEN: '',
    });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/UNAUTHENTICATED.*no token for the AAS server/);
  });

  it('aas token create / list / revoke --server work through the API as the admin', async () => {
    const created = await client(['token', 'create', '--name', 'ci-viewer', '--role', 'viewer']);
    expect(created.code, created.stderr).toBe(0);
    const secret = /^secret \(shown once\): (aas_\S+)$/m.exec(created.stdout)?.[1] ?? '';
    expect(secret).not.toBe('');
    // The token lives in the server's database, not in the client's empty home.
    const asViewer = await client(['sessions', 'list', '--json'], { AAS_TOKEN: secret });
    expect(asViewer.code, asViewer.stderr).toBe(0);
    const denied = await client(['token', 'list'], { AAS_TOKEN: secret });
    expect(denied.code).toBe(2);
    expect(denied.stderr).toMatch(/^error \[FORBIDDEN\]/);

    const listed = jsonOf<{ name: string; role: string; createdBy: string }[]>(
      await client(['token', 'list', '--json']),
    );
    expect(listed).toContainEqual(
      expect.objectContaining({ name: 'ci-viewer', role: 'viewer', createdBy: 'admin' }),
    );
    expect(JSON.stringify(listed)).not.toContain(secret);

    const revoked = await client(['token', 'revoke', 'ci-viewer']);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(revoked.stdout).toMatch(/^revoked ci-viewer \(tok_/);
    const after = await client(['sessions', 'list'], { AAS_TOKEN: secret });
    expect(after.code).toBe(2);
    expect(after.stderr).toMatch(/UNAUTHENTICATED/);

    const unknown = await client(['token', 'revoke', 'nobody']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^error \[NOT_FOUND\]/);
  });

  it('aas worker enrol / workers / worker drain, resume, revoke --server', async () => {
    const enrolled = await client([
      'worker',
      'enrol',
      '--name',
      'gpu-box',
      '--labels',
      'linux,gpu',
    ]);
    expect(enrolled.code, enrolled.stderr).toBe(0);
    const secret = /^secret \(shown once, usable once\): (aase_\S+)$/m.exec(enrolled.stdout)?.[1];
    expect(secret).toBeDefined();
    // The worker side of the exchange (its CLI loop is the next increment): plain HTTP.
    const registered = await fetch(`${server.url}/api/v1/workers/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        enrolmentSecret: secret,
        capabilities: { agents: ['mock'], sandbox: ['plain'] },
      }),
    });
    expect(registered.status).toBe(201);

    const listed = await client(['workers']);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(/^gpu-box\s+remote\s+online\s+linux,gpu\s/m);
    expect(listed.stdout).toMatch(/^worker:\S+\s+embedded\s+(online|busy)\s/m);

    const drained = await client(['worker', 'drain', 'gpu-box']);
    expect(drained.code, drained.stderr).toBe(0);
    expect(drained.stdout).toMatch(/^draining worker gpu-box \(wrk_\S+\): it gets no new runs/);
    const whileDrained = jsonOf<{ name: string; state: string; drainRequested?: boolean }[]>(
      await client(['workers', '--json']),
    );
    expect(whileDrained).toContainEqual(
      expect.objectContaining({ name: 'gpu-box', state: 'draining', drainRequested: true }),
    );
    const resumed = jsonOf<{ name: string; draining: boolean }>(
      await client(['worker', 'resume', 'gpu-box', '--json']),
    );
    expect(resumed).toMatchObject({ name: 'gpu-box', draining: false });
    const unknownDrain = await client(['worker', 'drain', 'no-such-box']);
    expect(unknownDrain.code).toBe(2);
    expect(unknownDrain.stderr).toMatch(/^error \[NOT_FOUND\]/);

    const revoked = await client(['worker', 'revoke', 'gpu-box']);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(revoked.stdout).toMatch(/^revoked worker gpu-box \(wrk_/);
    const after = jsonOf<{ name: string; state: string }[]>(await client(['workers', '--json']));
    expect(after).toContainEqual(expect.objectContaining({ name: 'gpu-box', state: 'offline' }));

    const bad = await client(['worker', 'enrol', '--name', 'x', '--labels', 'Not-Lower']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^error \[REQUEST_INVALID\]/);
  });

  it('aas cancel: a queued run ends cancelled, through the server or on its database', async () => {
    const api = (path: string, body: unknown) =>
      fetch(`${server.url}/api/v1${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      }).then((response) => response.json() as Promise<{ runId: string }>);
    // Labels no worker has: both wait, queued.
    const job = { task: 'wait', repo, agent: 'command', agentInput: { command: 'true' } };
    const first = await api('/sessions', { ...job, requireLabels: ['nowhere'] });
    const second = await api('/sessions', { ...job, requireLabels: ['nowhere'] });

    const remote = await client(['cancel', first.runId, '--json']);
    expect(remote.code, remote.stderr).toBe(0);
    expect(jsonOf(remote)).toEqual({
      runId: first.runId,
      outcome: 'cancelled',
      status: 'cancelled',
    });
    const again = await client(['cancel', first.runId]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(
      `error [CONFLICT]: run ${first.runId} has already finished as cancelled`,
    );

    // Without --server: the server's own database, as its operator on that host.
    const local = await runCli(['cancel', second.runId], { home: serverHome });
    expect(local.code, local.stderr).toBe(0);
    expect(local.stdout).toBe(`cancelled ${second.runId}\n`);
    const bad = await client(['cancel', 'nope']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('"nope" is not a run id');
  });

  it("aas audit verify --server checks the server's chains, not this host's empty database", async () => {
    const all = await client(['audit', 'verify']);
    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout).toContain(`ok      ${sessionId}  `);
    expect(all.stdout).toMatch(/^(\d+) of \1 session\(s\) verify$/m);
    expect(existsSync(join(clientHome, 'aas.db'))).toBe(false);
    const unknown = await client(['audit', 'verify', 'ses_0123456789abcdef01234567']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^error \[NOT_FOUND\]/);
    // An event edited in the server's database: the server's recomputation finds it.
    const db = new Database(join(serverHome, 'aas.db'));
    try {
      db.prepare(
        `UPDATE events SET data = replace(data, 'answer', 'ANSWER') WHERE session_id = ? AND type = 'session.created'`,
      ).run(sessionId);
    } finally {
      db.close();
    }
    const broken = await client(['audit', 'verify', sessionId, '--json']);
    expect(broken.code).toBe(6);
    expect(jsonOf(broken)).toMatchObject({
      ok: false,
      sessions: [{ sessionId, ok: false, firstProblem: { seq: 1, kind: 'hash-mismatch' } }],
    });
  });

  it('an unreachable server: exit 1 and SERVER_UNAVAILABLE', async () => {
    const port = await freePort();
    const result = await runCli(
      [
        'run',
        '--server',
        `http://127.0.0.1:${port}`,
        '--repo',
        repo,
        '--task',
        'x',
        '--agent-cmd',
        FIX,
      ],
      { home: clientHome, env: { AAS_TOKEN: TOKEN } },
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      `error [SERVER_UNAVAILABLE]: cannot reach the AAS server at http://127.0.0.1:${port}: connection refused`,
    );
    expect(result.stderr).not.toContain(TOKEN);
  });
});

/** A port nothing listens on: bound once by the OS, then released. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}
