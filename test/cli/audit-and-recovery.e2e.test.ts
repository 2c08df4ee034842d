import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { collectLeftWorkspaces } from '../../src/app/index.js';
import { ManualClock } from '../../src/kernel/index.js';
import { CLI_PATH, jsonOf, runCli, runJob } from '../helpers/run-cli.js';
import { createTempRepo, makeTempDir, removeDir } from '../helpers/temp-repo.js';
import { openTestRuntime } from '../helpers/test-runtime.js';

const cleanup: string[] = [];
afterAll(() => {
  for (const dir of cleanup) removeDir(dir);
});

async function recordedSession(): Promise<{ home: string; sessionId: string; runId: string }> {
  const home = makeTempDir('aas-home-');
  const repo = createTempRepo({ 'src/a.txt': 'a\n' });
  cleanup.push(home, repo);
  const result = await runJob(home, repo, ['--agent-cmd', 'echo b > src/b.txt', '--json']);
  expect(result.code, result.stderr).toBe(0);
  const { sessionId, runId } = jsonOf<{ sessionId: string; runId: string }>(result);
  return { home, sessionId, runId };
}

function tamper(home: string, statement: string, ...params: unknown[]): void {
  const db = new Database(join(home, 'aas.db'));
  try {
    db.prepare(statement).run(...params);
  } finally {
    db.close();
  }
}

describe('records changed outside AAS (the tables, not the events)', () => {
  it('are refused by approve and promote, naming what disagrees with the events', async () => {
    const { home, sessionId, runId } = await recordedSession();
    // The requester renamed, so that the real one could approve their own run.
    tamper(home, `UPDATE sessions SET requested_by = 'user:alice' WHERE id = ?`, sessionId);
    // The chain holds, and aas audit verify says the table differs from it.
    const audited = await runCli(['audit', 'verify', sessionId], { home });
    expect(audited.code, audited.stderr).toBe(6);
    expect(audited.stdout).toMatch(
      new RegExp(
        `^DIFFERS ${sessionId} {2}the chain holds, but its tables say otherwise: the session's requester is user:alice in its record but user:\\S+ in session\\.created$`,
        'm',
      ),
    );
    expect(audited.stdout).toContain('0 of 1 session(s) verify');
    const approve = await runCli(['approve', runId], { home });
    expect(approve.code, approve.stderr).toBe(6);
    expect(approve.stderr).toContain('[AUDIT_CHAIN_BROKEN]');
    expect(approve.stderr).toMatch(
      /the session's requester is user:alice in its record but user:\S+ in session\.created/,
    );

    // The patch swapped for another one.
    const db = new Database(join(home, 'aas.db'));
    const realRequester = (
      db
        .prepare(`SELECT data FROM events WHERE session_id = ? AND type = 'session.created'`)
        .get(sessionId) as { data: string }
    ).data;
    db.prepare('UPDATE sessions SET requested_by = ? WHERE id = ?').run(
      (JSON.parse(realRequester) as { requestedBy: string }).requestedBy,
      sessionId,
    );
    db.prepare('UPDATE runs SET patch_sha256 = ? WHERE id = ?').run('e'.repeat(64), runId);
    db.close();
    const promote = await runCli(['promote', runId, '--mode', 'patch'], { home });
    expect(promote.code, promote.stderr).toBe(6);
    expect(promote.stdout).toMatch(
      /FAIL history: the run's patch is e{64} in its record but [0-9a-f]{64} in run\.completed/,
    );
    expect(promote.stderr).toContain('[AUDIT_CHAIN_BROKEN]');
  });

  it('an edited event stops approve and promote as `aas audit verify` would', async () => {
    const { home, sessionId, runId } = await recordedSession();
    tamper(
      home,
      `UPDATE events SET data = replace(data, 'src/b.txt', 'src/evil.txt') WHERE session_id = ? AND type = 'patch.computed'`,
      sessionId,
    );
    for (const args of [
      ['approve', runId],
      ['promote', runId, '--mode', 'patch'],
    ]) {
      const refused = await runCli(args, { home });
      expect(refused.code, refused.stderr).toBe(6);
      expect(refused.stderr).toMatch(
        new RegExp(
          `AUDIT_CHAIN_BROKEN\\]: session ${sessionId}'s history does not verify at seq \\d+`,
        ),
      );
    }
  });
});

describe('aas audit verify', () => {
  it('verifies an untouched chain', async () => {
    const { home, sessionId } = await recordedSession();
    const result = await runCli(['audit', 'verify', sessionId], { home });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`ok      ${sessionId}`);
    expect((await runCli(['audit', 'verify'], { home })).code).toBe(0);
  });

  it('names the seq of an edited event', async () => {
    const { home, sessionId } = await recordedSession();
    tamper(
      home,
      `UPDATE events SET data = replace(data, 'src/b.txt', 'src/evil.txt') WHERE session_id = ? AND type = 'patch.computed'`,
      sessionId,
    );
    const seq = (
      new Database(join(home, 'aas.db'), { readonly: true })
        .prepare(`SELECT seq FROM events WHERE session_id = ? AND type = 'patch.computed'`)
        .get(sessionId) as { seq: number }
    ).seq;
    const result = await runCli(['audit', 'verify', sessionId, '--json'], { home });
    expect(result.code).toBe(6);
    const report = jsonOf<{
      ok: boolean;
      sessions: { firstProblem: { seq: number; kind: string } }[];
    }>(result);
    expect(report.ok).toBe(false);
    expect(report.sessions[0]?.firstProblem).toMatchObject({ seq, kind: 'hash-mismatch' });
  });

  it('names the seq of a removed event, a reordering, and a truncated tail', async () => {
    const removed = await recordedSession();
    tamper(removed.home, 'DELETE FROM events WHERE session_id = ? AND seq = 5', removed.sessionId);
    const gap = await runCli(['audit', 'verify', removed.sessionId], { home: removed.home });
    expect(gap.code).toBe(6);
    expect(gap.stdout).toContain('at seq 5: gap');

    const swapped = await recordedSession();
    // Swap the payloads of two events: each row keeps its seq but no longer matches its hash.
    const db = new Database(join(swapped.home, 'aas.db'));
    const rows = db
      .prepare(
        'SELECT seq, type, data FROM events WHERE session_id = ? AND seq IN (3, 4) ORDER BY seq',
      )
      .all(swapped.sessionId) as { seq: number; type: string; data: string }[];
    const update = db.prepare(
      'UPDATE events SET type = ?, data = ? WHERE session_id = ? AND seq = ?',
    );
    update.run(rows[1]?.type, rows[1]?.data, swapped.sessionId, 3);
    update.run(rows[0]?.type, rows[0]?.data, swapped.sessionId, 4);
    db.close();
    const reordered = await runCli(['audit', 'verify', swapped.sessionId], { home: swapped.home });
    expect(reordered.code).toBe(6);
    expect(reordered.stdout).toContain('at seq 3');

    const truncated = await recordedSession();
    tamper(
      truncated.home,
      'DELETE FROM events WHERE session_id = ? AND seq = (SELECT max(seq) FROM events WHERE session_id = ?)',
      truncated.sessionId,
      truncated.sessionId,
    );
    const tail = await runCli(['audit', 'verify', truncated.sessionId], { home: truncated.home });
    expect(tail.code).toBe(6);
    expect(tail.stdout).toContain('head-mismatch');
  });
});

describe('crash recovery', () => {
  it("a server collects a workspace whose run ended with no one to remove it, once its run's end has settled", async () => {
    const { home, sessionId } = await recordedSession();
    const db = new Database(join(home, 'aas.db'), { readonly: true });
    const run = db
      .prepare('SELECT id, finished_at FROM runs WHERE session_id = ?')
      .get(sessionId) as { id: string; finished_at: string };
    db.close();
    // What a killed process leaves: an attempt directory whose workspace no runner removed.
    const left = join(home, 'runs', run.id, 'attempt-9');
    mkdirSync(join(left, 'workspace'), { recursive: true });
    writeFileSync(join(left, 'base.index'), 'x');
    const clock = new ManualClock(Date.parse(run.finished_at) + 11 * 60_000);
    const runtime = await openTestRuntime(home, { clock });
    try {
      // Ready for promotion: a promotion may still re-validate in overlays under the run.
      expect(await collectLeftWorkspaces(runtime, { settledForMs: 600_000 })).toEqual([]);
      expect(existsSync(join(left, 'workspace'))).toBe(true);
    } finally {
      await runtime.close();
    }
    // As a run cancelled while requeued ends: nothing will happen to it any more.
    tamper(home, `UPDATE runs SET status = 'cancelled' WHERE id = ?`, run.id);
    clock.advance(-10 * 60_000);
    const later = await openTestRuntime(home, { clock });
    try {
      // Ended a minute ago: its own runner could still be at it.
      expect(await collectLeftWorkspaces(later, { settledForMs: 600_000 })).toEqual([]);
      expect(existsSync(join(left, 'workspace'))).toBe(true);
      clock.advance(600_000);
      expect(await collectLeftWorkspaces(later, { settledForMs: 600_000 })).toEqual([left]);
      expect(existsSync(join(left, 'workspace'))).toBe(false);
    } finally {
      await later.close();
    }
  });

  it('a run whose process died ends failed/INTERRUPTED with an explanation, and its workspace is collected', async () => {
    const home = makeTempDir('aas-home-');
    const repo = createTempRepo({ 'src/a.txt': 'a\n' });
    cleanup.push(home, repo);
    const input = join(home, 'hang.json');
    writeFileSync(input, JSON.stringify({ mock: { misbehave: 'hang' } }));
    const env = { ...process.env, AAS_HOME: home, AAS_RUN_LEASE_MS: '1000' };
    const child = spawn(
      process.execPath,
      [CLI_PATH, 'run', '--repo', repo, '--task', 'x', '--agent', 'mock', '--agent-input', input],
      {
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    // Kill the CLI only once the agent is running: its log file exists.
    await waitFor(() => stdout.includes('attempt 1') && agentLogExists(home), 30_000);
    const sessionId = /session (ses_[0-9a-f]{24})/.exec(stdout)?.[1] ?? '';
    child.kill('SIGKILL');
    await new Promise((resolve) => child.on('close', resolve));
    killAgentsUnder(home);

    // Wait past the lease, then any command recovers.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const show = await runCli(['sessions', 'show', sessionId], {
      home,
      env: { AAS_RUN_LEASE_MS: '1000' },
    });
    expect(show.code).toBe(0);
    expect(show.stdout).toContain('failed (INTERRUPTED)');
    expect(show.stdout).toMatch(/lease held by runner:.* expired/);
    // Said to the person at the terminal as a line of text, not as a log collector's JSON.
    expect(show.stderr).toContain(
      'warning: runs whose lease expired were recovered (requeued: none, ended: run_',
    );
    expect(show.stderr).not.toContain('{');
    // The workspace is gone; the attempt's logs stay as evidence.
    for (const run of readdirSync(join(home, 'runs'))) {
      for (const attempt of readdirSync(join(home, 'runs', run)).filter((name) =>
        name.startsWith('attempt-'),
      )) {
        const left = readdirSync(join(home, 'runs', run, attempt));
        expect(left).not.toContain('workspace');
        expect(left).toContain('stdout.log');
      }
    }
    const verify = await runCli(['audit', 'verify', sessionId], { home });
    expect(verify.code).toBe(0);
  });
});

function agentLogExists(home: string): boolean {
  try {
    return readdirSync(join(home, 'runs')).some((run) =>
      existsSync(join(home, 'runs', run, 'attempt-1', 'stdout.log')),
    );
  } catch {
    return false;
  }
}

/** The plain backend cannot tie the agent's life to a killed parent; the OS sandbox will. */
function killAgentsUnder(home: string): void {
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      if (readFileSync(`/proc/${pid}/environ`, 'utf8').includes(`AEP_RUN_DIR=${home}`))
        process.kill(Number(pid), 'SIGKILL');
    } catch {
      // Gone already, or not ours to read.
    }
  }
}

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
