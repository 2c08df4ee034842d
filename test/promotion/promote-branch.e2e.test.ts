import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isAasError, ManualClock } from '../../src/kernel/index.js';
import {
  attestationPath,
  loadOrCreateSigningKey,
  promoteRun,
  recordDecision,
  verifyAttestation,
} from '../../src/promotion/index.js';
import { verifyChain } from '../../src/sessions/index.js';
import { commitAll, git } from '../helpers/temp-repo.js';
import { createPromotionFixture, FIX, type PromotionFixture } from './promotion-fixture.js';

/**
 * Promotion against real repositories: a bare repository is the remote, approvals come from
 * identities that did not request the run, and every step is checked in git and in history.
 */

async function codeOf(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    () => 'resolved',
    (error: unknown) => (isAasError(error) ? error.code : String(error)),
  );
}

describe('promotion to a branch', () => {
  let fixture: PromotionFixture;
  beforeEach(async () => {
    fixture = await createPromotionFixture();
  });
  afterEach(async () => {
    await fixture.cleanup();
  });

  const approve = (runId: string, name: string, decision: 'approved' | 'rejected' = 'approved') =>
    recordDecision(fixture.runtime.promotion.approvals, {
      runId,
      decider: { name, tokenId: null },
      decision,
      note: `${decision} by ${name}`,
    });
  const promote = (runId: string, by = 'alice', mode?: 'patch' | 'branch' | 'draft_pr') =>
    promoteRun(fixture.runtime.promotion.promotion, { runId, by, ...(mode ? { mode } : {}) });

  it('separation of duties, then one commit on the target head pushed as aas/<id>, attested', async () => {
    const { runId, sessionId, status } = await fixture.runJob(FIX, {
      promotion: { mode: 'branch', targetBranch: 'main' },
    });
    expect(status).toBe('ready_for_promotion');
    const mainBefore = fixture.remoteBranches().main;

    // No approval yet: refused, nothing written, the run now awaits approval.
    expect(await codeOf(promote(runId))).toBe('APPROVAL_REQUIRED');
    expect((await fixture.runtime.store.getRun(runId))?.status).toBe('awaiting_approval');
    expect(Object.keys(fixture.remoteBranches())).toEqual(['main']);

    // The requester and the runner that produced the patch can never approve.
    expect(await codeOf(approve(runId, 'alice'))).toBe('APPROVAL_SELF');
    expect(await codeOf(approve(runId, fixture.runtime.owner))).toBe('APPROVAL_SELF');
    const approved = await approve(runId, 'bob');
    expect(approved.approval).toMatchObject({ decidedBy: 'bob', targetBranch: 'main' });
    expect(await codeOf(approve(runId, 'bob'))).toBe('CONFLICT');

    const result = await promote(runId);
    expect(result).toMatchObject({ status: 'promoted', mode: 'branch', prError: null });
    const branch = `aas/${sessionId.slice(-12)}`;
    expect(result.branch).toBe(branch);
    const branches = fixture.remoteBranches();
    expect(branches[branch]).toBe(result.commitSha);
    // The target branch itself is untouched; the new commit sits right on top of it.
    expect(branches.main).toBe(mainBefore);
    expect(git(fixture.repo, ['--git-dir', fixture.remote, 'rev-parse', `${branch}^`]).trim()).toBe(
      mainBefore,
    );
    expect(git(fixture.repo, ['--git-dir', fixture.remote, 'show', `${branch}:src/app.js`])).toBe(
      'export const answer = 42;\n',
    );
    const message = git(fixture.repo, [
      '--git-dir',
      fixture.remote,
      'log',
      '-1',
      '--format=%B%n--%an <%ae>',
      branch,
    ]);
    expect(message).toContain(`AAS-Session: ${sessionId}`);
    expect(message).toContain(`AAS-Run: ${runId}`);
    expect(message).toMatch(/AAS-Attestation: sha256:[0-9a-f]{64}/);
    expect(message).toContain('--AAS <aas@localhost>');
    // The user's checkout gained no branch and no change.
    expect(git(fixture.repo, ['branch', '--list']).trim()).toBe('* main');
    expect(git(fixture.repo, ['status', '--porcelain'])).toBe('');

    // The attestation verifies offline, names the patch and the commit, and links the chain.
    const envelope = JSON.parse(
      readFileSync(
        attestationPath(join(fixture.home, 'artifacts'), result.attestationSha256),
        'utf8',
      ),
    );
    const key = await loadOrCreateSigningKey(join(fixture.home, 'keys'));
    const run = await fixture.runtime.store.getRun(runId);
    const patch = readFileSync(join(fixture.home, 'artifacts', `${run?.patchSha256}.patch`));
    const events = await fixture.runtime.store.readEvents(sessionId);
    const verdict = verifyAttestation({ envelope, publicKeys: [key], patch, events });
    expect(verdict.ok, JSON.stringify(verdict.checks)).toBe(true);
    expect(verdict.checks.every((check) => !check.skipped)).toBe(true);
    expect(verdict.statement?.subject).toContainEqual({
      name: 'commit',
      digest: { gitCommit: result.commitSha },
    });
    expect(verdict.statement?.predicate.approvers.map((a) => a.name)).toEqual(['bob']);
    expect(verdict.statement?.predicate.requestedBy).toBe('alice');

    // History: every step is an event and the chain verifies.
    const types = events.map((event) => event.type);
    for (const type of [
      'promotion.preflight',
      'approval.recorded',
      'promotion.lease.acquired',
      'promotion.committed',
      'promotion.pushed',
      'promotion.attested',
      'promotion.completed',
    ]) {
      expect(types).toContain(type);
    }
    const session = await fixture.runtime.store.getSession(sessionId);
    if (session === null) throw new Error('no session');
    expect(verifyChain(session, events).ok).toBe(true);

    // Promoting again changes nothing and answers the same.
    const again = await promote(runId);
    expect(again).toMatchObject({ commitSha: result.commitSha, branch, status: 'promoted' });
    expect((await fixture.runtime.store.readEvents(sessionId)).length).toBe(events.length);
  });

  it('a rejection is final; an approval bound to the run does not count for another target', async () => {
    const first = await fixture.runJob(FIX, {
      promotion: { mode: 'branch', targetBranch: 'main' },
    });
    await approve(first.runId, 'carol', 'rejected');
    expect(await fixture.runtime.store.getRun(first.runId)).toMatchObject({
      status: 'blocked',
      reasonCode: 'APPROVAL_REJECTED',
    });
    expect(await codeOf(approve(first.runId, 'dave'))).toBe('CONFLICT');
    const refused = await promote(first.runId).then(
      () => null,
      (thrown: unknown) => (isAasError(thrown) ? thrown : null),
    );
    expect(refused?.code).toBe('APPROVAL_REJECTED');
    // The gates passed before the rejection: the checks say what stops it, not the gates.
    const checks = refused?.details.checks as { name: string; ok: boolean }[] | undefined;
    expect(checks?.find((check) => check.name === 'gates.passed')?.ok).toBe(true);
    expect(checks?.find((check) => check.name === 'run.status')?.ok).toBe(false);
  });

  it('an approval is voided by a new attempt and never counts for the patch that attempt made', async () => {
    const { runId, sessionId } = await fixture.runJob(FIX, {
      promotion: { mode: 'branch', targetBranch: 'main' },
    });
    await approve(runId, 'bob');
    const store = fixture.runtime.store;
    const before = await store.getRun(runId);
    // The run is worked on again (attempt 2) and ends with a different patch.
    await store.updateRun({
      runId,
      changes: { status: 'running' },
      events: [
        {
          type: 'run.started',
          at: new Date().toISOString(),
          actor: 'runner:again',
          data: { runId, owner: 'runner:again', leaseExpiresAt: new Date().toISOString() },
        },
      ],
    });
    await store.createAttempt({
      attempt: {
        id: `att_${'f'.repeat(24)}`,
        runId,
        number: 2,
        agentId: 'command',
        startedAt: new Date().toISOString(),
      },
      events: [
        {
          type: 'run.attempt.started',
          at: new Date().toISOString(),
          actor: 'runner:again',
          data: { runId, attempt: 2 },
        },
      ],
    });
    await store.updateRun({
      runId,
      changes: { status: 'ready_for_promotion', patchSha256: before?.patchSha256 ?? null },
      events: [
        {
          type: 'gate.passed',
          at: new Date().toISOString(),
          actor: 'runner:again',
          data: {
            runId,
            attempt: 2,
            gate: 'patch.applies',
            code: 'GATES_PASSED',
            detail: '',
            durationMs: 1,
          },
        },
      ],
    });
    const listed = await fixture.runtime.promotion.service.approvalsOf(runId);
    expect(listed).toMatchObject({ counted: 0, required: 1 });
    expect(listed.items[0]).toMatchObject({ decidedBy: 'bob', state: 'voided', counts: false });
    expect(await codeOf(promote(runId))).toBe('APPROVAL_REQUIRED');
    const types = (await store.readEvents(sessionId)).map((event) => event.type);
    expect(types).toContain('approval.voided');
    // The producer of attempt 2 cannot approve it either; someone else can.
    expect(await codeOf(approve(runId, 'runner:again'))).toBe('APPROVAL_SELF');
    expect(await codeOf(approve(runId, 'bob'))).toBe('resolved');
  });

  it('a tampered patch file is refused with PATCH_DIGEST_MISMATCH and nothing is pushed', async () => {
    const { runId } = await fixture.runJob(FIX, {
      promotion: { mode: 'branch', targetBranch: 'main' },
    });
    await approve(runId, 'bob');
    const run = await fixture.runtime.store.getRun(runId);
    const patchFile = join(fixture.home, 'artifacts', `${run?.patchSha256}.patch`);
    writeFileSync(patchFile, readFileSync(patchFile, 'utf8').replace('answer = 42', 'answer = 43'));
    expect(await codeOf(promote(runId))).toBe('PATCH_DIGEST_MISMATCH');
    expect(Object.keys(fixture.remoteBranches())).toEqual(['main']);
    expect((await fixture.runtime.store.getRun(runId))?.status).toBe('ready_for_promotion');
    const preflight = (await fixture.runtime.store.readEvents(run?.sessionId ?? '')).filter(
      (event) => event.type === 'promotion.preflight',
    );
    expect(preflight.at(-1)?.data).toMatchObject({
      ok: false,
      checks: expect.arrayContaining([
        expect.objectContaining({ name: 'patch.digest', ok: false }),
      ]),
    });
  });

  it('a moved base: block refuses with BASE_MOVED; revalidate (no validators) promotes onto the new head', async () => {
    const blocked = await fixture.runJob(FIX, {
      promotion: { mode: 'branch', targetBranch: 'main' },
      policy: { promotion: { onBaseMoved: 'block' } },
    });
    const open = await fixture.runJob(FIX, { promotion: { mode: 'branch', targetBranch: 'main' } });
    await approve(blocked.runId, 'bob');
    await approve(open.runId, 'bob');
    // Someone pushes an unrelated change to main on the remote.
    writeFileSync(join(fixture.repo, 'NOTES.md'), 'notes\n');
    const moved = commitAll(fixture.repo, 'notes');
    git(fixture.repo, ['push', '-q', 'origin', 'main']);

    expect(await codeOf(promote(blocked.runId))).toBe('BASE_MOVED');
    const result = await promote(open.runId);
    expect(result.status).toBe('promoted');
    expect(
      git(fixture.repo, ['--git-dir', fixture.remote, 'rev-parse', `${result.branch}^`]).trim(),
    ).toBe(moved);
    expect(result.checks.find((check) => check.name === 'base')?.detail).toMatch(
      /^the target is at [0-9a-f]{40}, not at the run's base [0-9a-f]{40}; re-validated there/,
    );
  });

  it("the target branch's own policy applies, whatever base the submitter chose", async () => {
    // A base from a branch without the policy main has since committed: it asks 1 approval,
    // main asks 2.
    git(fixture.repo, ['branch', 'weak']);
    mkdirSync(join(fixture.repo, '.aas'));
    writeFileSync(
      join(fixture.repo, '.aas', 'policy.yaml'),
      'promotion:\n  approvals: 2\n  onBaseMoved: revalidate\n',
    );
    commitAll(fixture.repo, 'two approvals for main');
    git(fixture.repo, ['push', '-q', 'origin', 'main']);
    const { runId, status } = await fixture.runJob(FIX, {
      baseRef: 'weak',
      promotion: { mode: 'branch', targetBranch: 'main' },
    });
    expect(status).toBe('ready_for_promotion');
    await approve(runId, 'bob');
    const refused = await promote(runId).then(
      () => null,
      (error: unknown) => error,
    );
    expect(refused).toMatchObject({ code: 'APPROVAL_REQUIRED' });
    const checks = (
      refused as { details: { checks: { name: string; ok: boolean; detail: string }[] } }
    ).details.checks;
    expect(checks.find((check) => check.name === 'approvals')).toMatchObject({ ok: true });
    expect(checks.find((check) => check.name === 'target.policy')).toMatchObject({
      ok: false,
      detail:
        "the target's .aas/policy.yaml asks 2 approvals; 1 counted (the run's base asked fewer)",
    });
    expect(Object.keys(fixture.remoteBranches())).toEqual(['main']);

    await approve(runId, 'carol');
    const result = await promote(runId);
    expect(result.status).toBe('promoted');
    expect(result.checks.find((check) => check.name === 'target.policy')?.detail).toBe(
      "main's .aas/policy.yaml asks 2 approvals (the run's base asked 1): met",
    );
  });

  it("the target's onBaseMoved: block and protected branches hold, and its invalid policy refuses", async () => {
    const job = { promotion: { mode: 'branch' as const, targetBranch: 'main' } };
    const blocked = await fixture.runJob(FIX, job);
    const guarded = await fixture.runJob(FIX, job);
    const unreadable = await fixture.runJob(FIX, job);
    for (const run of [blocked, guarded, unreadable]) await approve(run.runId, 'bob');
    const guardedBranch = `aas/${guarded.sessionId.slice(-12)}`;
    mkdirSync(join(fixture.repo, '.aas'));
    writeFileSync(
      join(fixture.repo, '.aas', 'policy.yaml'),
      `promotion:\n  onBaseMoved: block\n  protectedBranches: [${guardedBranch}]\n`,
    );
    commitAll(fixture.repo, 'main blocks moved bases');
    git(fixture.repo, ['push', '-q', 'origin', 'main']);
    const refusal = async (runId: string) => {
      const error = await promote(runId).then(
        () => null,
        (thrown: unknown) => thrown,
      );
      const checks = (
        error as { details: { checks: { name: string; ok: boolean; detail: string }[] } }
      ).details.checks;
      return { error, check: (name: string) => checks.find((check) => check.name === name) };
    };

    // The run's own policy said revalidate; main's says block, and the stricter holds.
    const first = await refusal(blocked.runId);
    expect(first.error).toMatchObject({ code: 'BASE_MOVED' });
    expect(first.check('target.policy')).toMatchObject({ ok: true });
    expect(first.check('target.policy')?.detail).toContain('onBaseMoved: block');
    expect(first.check('base')?.detail).toContain('the policy says onBaseMoved: block');

    const second = await refusal(guarded.runId);
    expect(second.error).toMatchObject({ code: 'PREFLIGHT_FAILED' });
    expect(second.check('target.policy')).toMatchObject({
      ok: false,
      detail: `the promotion branch ${guardedBranch} is protected by the target's .aas/policy.yaml`,
    });

    writeFileSync(join(fixture.repo, '.aas', 'policy.yaml'), 'promotion: [\n');
    commitAll(fixture.repo, 'a broken policy');
    git(fixture.repo, ['push', '-q', 'origin', 'main']);
    const third = await refusal(unreadable.runId);
    expect(third.error).toMatchObject({ code: 'POLICY_INVALID' });
    expect(third.check('target.policy')?.detail).toMatch(
      /^the target's \.aas\/policy\.yaml at [0-9a-f]{40} is invalid, so the promotion rules it sets are unknown/,
    );
    expect(Object.keys(fixture.remoteBranches())).toEqual(['main']);
  });

  it('revalidate runs the gates and validators again on the moved target: pass, and fail', async () => {
    const validators = [{ name: 'answer', command: "grep -q 'answer = 42' src/app.js" }];
    const passes = await fixture.runJob(FIX, {
      promotion: { mode: 'branch', targetBranch: 'main' },
      validators,
    });
    const fails = await fixture.runJob(FIX, {
      promotion: { mode: 'branch', targetBranch: 'main' },
      validators: [...validators, { name: 'no-notes', command: 'test ! -e NOTES.md' }],
    });
    expect([passes.status, fails.status]).toEqual(['ready_for_promotion', 'ready_for_promotion']);
    await approve(passes.runId, 'bob');
    await approve(fails.runId, 'bob');
    writeFileSync(join(fixture.repo, 'NOTES.md'), 'notes\n');
    const moved = commitAll(fixture.repo, 'notes');
    git(fixture.repo, ['push', '-q', 'origin', 'main']);

    const result = await promote(passes.runId);
    expect(result.status).toBe('promoted');
    expect(result.checks.find((check) => check.name === 'base')?.detail).toMatch(
      /re-validated there: \d+ gates passed on/,
    );
    expect(
      git(fixture.repo, ['--git-dir', fixture.remote, 'rev-parse', `${result.branch}^`]).trim(),
    ).toBe(moved);

    expect(await codeOf(promote(fails.runId))).toBe('BASE_MOVED');
    const run = await fixture.runtime.store.getRun(fails.runId);
    const preflight = (await fixture.runtime.store.readEvents(run?.sessionId ?? '')).filter(
      (event) => event.type === 'promotion.preflight',
    );
    expect(JSON.stringify(preflight.at(-1)?.data), JSON.stringify(preflight.at(-1)?.data)).toMatch(
      /re-validated there: failed on [0-9a-f]{12}: validator:no-notes \(GATE_FAILED\)/,
    );
  });

  it('a patch that no longer applies to the moved target is BASE_MOVED under either policy', async () => {
    const { runId } = await fixture.runJob(FIX, {
      promotion: { mode: 'branch', targetBranch: 'main' },
    });
    await approve(runId, 'bob');
    writeFileSync(join(fixture.repo, 'src/app.js'), 'export const answer = 7;\n');
    commitAll(fixture.repo, 'conflict');
    git(fixture.repo, ['push', '-q', 'origin', 'main']);
    expect(await codeOf(promote(runId))).toBe('BASE_MOVED');
    expect(Object.keys(fixture.remoteBranches())).toEqual(['main']);
  });

  it('patch mode writes no git state; a missing remote falls back to patch and says why', async () => {
    const { runId } = await fixture.runJob(FIX);
    await approve(runId, 'bob');
    const patchOnly = await promote(runId);
    expect(patchOnly).toMatchObject({
      status: 'promoted',
      mode: 'patch',
      branch: null,
      commitSha: null,
    });
    expect(Object.keys(fixture.remoteBranches())).toEqual(['main']);
    // A run is promoted once: a branch asked for now cannot be had, and is not pretended.
    await expect(promote(runId, 'alice', 'branch')).rejects.toMatchObject({
      code: 'PREFLIGHT_FAILED',
      details: { field: '--mode' },
    });
    expect(await promote(runId, 'alice', 'patch')).toMatchObject({ alreadyPromoted: true });
    expect(Object.keys(fixture.remoteBranches())).toEqual(['main']);

    git(fixture.repo, ['remote', 'remove', 'origin']);
    const second = await fixture.runJob(FIX, {
      promotion: { mode: 'branch', targetBranch: 'main' },
    });
    await approve(second.runId, 'bob');
    const fellBack = await promote(second.runId);
    expect(fellBack).toMatchObject({ status: 'promoted', mode: 'patch', requestedMode: 'branch' });
    expect(fellBack.fallbacks).toEqual([
      expect.objectContaining({
        from: 'branch',
        to: 'patch',
        reason: expect.stringMatching(/no remote named origin/),
      }),
    ]);

    // Asked for by name, a mode that cannot be had is refused, and nothing is recorded: the
    // run may be promoted as something else.
    const third = await fixture.runJob(FIX);
    await approve(third.runId, 'bob');
    const refused = await promote(third.runId, 'alice', 'branch').then(
      () => null,
      (thrown: unknown) => (isAasError(thrown) ? thrown : null),
    );
    expect(refused?.code).toBe('PREFLIGHT_FAILED');
    expect(refused?.message).toBe(
      'branch was asked for, but the repository has no remote named origin',
    );
    expect(refused?.details.hint).toBe(
      'settle that and promote again, or promote with --mode patch',
    );
    expect(await fixture.runtime.store.getPromotion(third.runId)).toBeNull();
    expect(await promote(third.runId, 'alice', 'patch')).toMatchObject({ mode: 'patch' });
  });

  it('an approver whose approval expired may approve the same patch again; a standing one may not', async () => {
    await fixture.cleanup();
    const clock = new ManualClock(Date.now());
    fixture = await createPromotionFixture({ clock });
    const { runId } = await fixture.runJob(FIX, {
      promotion: { mode: 'branch', targetBranch: 'main' },
    });
    await approve(runId, 'bob');
    expect(await codeOf(approve(runId, 'bob'))).toBe('CONFLICT');
    // Past its expiry (AAS_APPROVAL_TTL_SEC, 7 days by default).
    clock.advance(8 * 86_400_000);
    expect(await codeOf(promote(runId))).toBe('APPROVAL_REQUIRED');
    await approve(runId, 'bob');
    expect((await promote(runId)).status).toBe('promoted');
  });

  it('a promotion stopped after its commit finishes later even if its approvals expired meanwhile', async () => {
    await fixture.cleanup();
    const clock = new ManualClock(Date.now());
    fixture = await createPromotionFixture({ clock });
    const { runId } = await fixture.runJob(FIX, {
      promotion: { mode: 'branch', targetBranch: 'main' },
    });
    await approve(runId, 'bob');
    const done = await promote(runId);
    // Rewind the records to "committed, not pushed yet" as a crash right after the commit
    // leaves them, and let the approval expire.
    const db = new Database(join(fixture.home, 'aas.db'));
    try {
      db.prepare(
        "update promotions set state = 'committed', attestation_sha256 = null where run_id = ?",
      ).run(runId);
      db.prepare("update runs set status = 'promoting' where id = ?").run(runId);
    } finally {
      db.close();
    }
    clock.advance(8 * 86_400_000);
    const again = await promote(runId);
    expect(again).toMatchObject({
      status: 'promoted',
      commitSha: done.commitSha,
      branch: done.branch,
    });
    expect(again.checks.find((check) => check.name === 'approvals')?.detail).toMatch(
      /granted when this promotion started \(bob\)/,
    );
    expect(
      git(fixture.repo, [
        '--git-dir',
        fixture.remote,
        'rev-list',
        '--count',
        `main..${done.branch}`,
      ]).trim(),
    ).toBe('1');
  });

  it('a pass over abandoned promotions starts none once told to stop, and the next pass goes on', async () => {
    const runs: string[] = [];
    for (const _ of [1, 2]) {
      const { runId } = await fixture.runJob(FIX, {
        promotion: { mode: 'branch', targetBranch: 'main' },
      });
      await approve(runId, 'bob');
      await promote(runId);
      runs.push(runId);
    }
    // Both as a crash right after their commits leaves them.
    const db = new Database(join(fixture.home, 'aas.db'));
    try {
      for (const runId of runs) {
        db.prepare(
          "update promotions set state = 'committed', attestation_sha256 = null where run_id = ?",
        ).run(runId);
        db.prepare("update runs set status = 'promoting' where id = ?").run(runId);
      }
    } finally {
      db.close();
    }
    const service = fixture.runtime.promotion.service;
    // The server begins closing while the first one is being finished.
    const closing = new AbortController();
    const off = fixture.runtime.bus.on('promotion.completed', () => closing.abort());
    const first = await service.resumeAbandoned({ signal: closing.signal });
    off();
    expect(first).toHaveLength(1);
    const [left] = runs.filter((runId) => !first.includes(runId));
    expect((await fixture.runtime.store.getRun(left ?? ''))?.status).toBe('promoting');
    expect(await service.resumeAbandoned()).toEqual([left]);
    for (const runId of runs) {
      expect((await fixture.runtime.store.getRun(runId))?.status).toBe('promoted');
    }
  });

  it('an unsupported or unreachable remote is an error, never a quiet downgrade to patch', async () => {
    const first = await fixture.runJob(FIX, {
      promotion: { mode: 'branch', targetBranch: 'main' },
    });
    const second = await fixture.runJob(FIX, {
      promotion: { mode: 'branch', targetBranch: 'main' },
    });
    await approve(first.runId, 'bob');
    await approve(second.runId, 'bob');
    git(fixture.repo, ['remote', 'set-url', 'origin', 'git@github.com:acme/widgets.git']);
    expect(await codeOf(promote(first.runId))).toBe('PREFLIGHT_FAILED');
    git(fixture.repo, ['remote', 'set-url', 'origin', join(fixture.home, 'no-such-remote.git')]);
    expect(await codeOf(promote(second.runId))).toBe('PROVIDER_ERROR');
    for (const runId of [first.runId, second.runId]) {
      expect((await fixture.runtime.store.getRun(runId))?.status).toBe('ready_for_promotion');
    }
  });

  it('an existing branch of that name is never overwritten', async () => {
    const { runId, sessionId } = await fixture.runJob(FIX, {
      promotion: { mode: 'branch', targetBranch: 'main' },
    });
    await approve(runId, 'bob');
    const branch = `aas/${sessionId.slice(-12)}`;
    git(fixture.repo, ['push', '-q', 'origin', `main:refs/heads/${branch}`]);
    const before = fixture.remoteBranches()[branch];
    const refused = await promote(runId).then(
      () => null,
      (error: unknown) => error,
    );
    expect(refused).toMatchObject({ code: 'BRANCH_EXISTS' });
    expect(fixture.remoteBranches()[branch]).toBe(before);
    // Found by the preflight, before any commit: nothing is under way, nothing was recorded.
    const checks = (refused as { details: { checks: { name: string; ok: boolean }[] } }).details
      .checks;
    expect(checks.find((check) => check.name === 'branch.free')?.ok).toBe(false);
    expect((await fixture.runtime.store.getRun(runId))?.status).toBe('ready_for_promotion');
    expect(await fixture.runtime.store.getPromotion(runId)).toBeNull();
    // Once that branch is gone, the promotion goes through.
    git(fixture.repo, ['push', '-q', 'origin', `:refs/heads/${branch}`]);
    expect(await promote(runId)).toMatchObject({ status: 'promoted', branch });
  });

  it("a push the remote refuses says the remote's reason; once settled there, a retry pushes the same commit", async () => {
    const { runId } = await fixture.runJob(FIX, {
      promotion: { mode: 'branch', targetBranch: 'main' },
    });
    await approve(runId, 'bob');
    const hook = join(fixture.remote, 'hooks', 'pre-receive');
    writeFileSync(hook, '#!/bin/sh\necho "policy: pushes to aas/* need a ticket" >&2\nexit 1\n', {
      mode: 0o755,
    });
    const refused = await promote(runId).then(
      () => null,
      (thrown: unknown) => (isAasError(thrown) ? thrown : null),
    );
    expect(refused?.code).toBe('PROVIDER_ERROR');
    expect(refused?.message).toMatch(
      /^the remote refused the push of aas\/[0-9a-f]{12}: \[remote rejected\] \(pre-receive hook declined\); policy: pushes to aas\/\* need a ticket$/,
    );
    expect(refused?.details.hint).toMatch(/then promote the run again/);
    // The record says where it stopped and why, for `sessions show`, the API and the panel.
    const stopped = await fixture.runtime.store.getPromotion(runId);
    expect(stopped?.state).toBe('committed');
    expect(stopped?.detail).toMatchObject({
      lastFailure: {
        step: 'committed',
        code: 'PROVIDER_ERROR',
        message: refused?.message,
        hint: refused?.details.hint,
      },
    });
    expect((await fixture.runtime.store.getRun(runId))?.status).toBe('promoting');
    rmSync(hook);
    const result = await promote(runId);
    expect(result).toMatchObject({ status: 'promoted', mode: 'branch' });
    const finished = (await fixture.runtime.store.getPromotion(runId))?.detail as {
      lastFailure?: unknown;
    } | null;
    expect(finished?.lastFailure ?? null).toBeNull();
    expect(result.commitSha).toBe(stopped?.commitSha);
    expect(fixture.remoteBranches()[result.branch ?? '']).toBe(result.commitSha);
  });

  it('never validates again unconfined on a host without a sandbox, unless the operator said off', async () => {
    // This host has no bubblewrap: the run itself degrades (`preferred`), with a warning.
    const bare = await createPromotionFixture({ env: { AAS_BWRAP: '/nonexistent/bwrap' } });
    try {
      const { runId, status } = await bare.runJob(FIX, {
        promotion: { mode: 'branch', targetBranch: 'main' },
        validators: [{ name: 'answer', command: "grep -q 'answer = 42' src/app.js" }],
      });
      expect(status).toBe('ready_for_promotion');
      await recordDecision(bare.runtime.promotion.approvals, {
        runId,
        decider: { name: 'bob', tokenId: null },
        decision: 'approved',
        note: null,
      });
      writeFileSync(join(bare.repo, 'NOTES.md'), 'notes\n');
      commitAll(bare.repo, 'notes');
      git(bare.repo, ['push', '-q', 'origin', 'main']);
      const refused = await promoteRun(bare.runtime.promotion.promotion, {
        runId,
        by: 'alice',
      }).then(
        () => null,
        (error: unknown) => error,
      );
      expect(refused).toMatchObject({ code: 'BASE_MOVED' });
      const checks = (refused as { details: { checks: { name: string; detail: string }[] } })
        .details.checks;
      expect(checks.find((check) => check.name === 'base')?.detail).toContain(
        'validating again on this host needs a sandbox',
      );
      expect(Object.keys(bare.remoteBranches())).toEqual(['main']);
    } finally {
      await bare.cleanup();
    }
  });

  it('keeps the branch the checkout was on when the run was asked for, wherever it moves after', async () => {
    const { runId, status } = await fixture.runJob(FIX, { promotion: { mode: 'branch' } });
    expect(status).toBe('ready_for_promotion');
    const run = await fixture.runtime.store.getRun(runId);
    expect(run?.jobSpec).toMatchObject({ promotion: { targetBranch: 'main' } });
    // The user goes on working on another branch: the run's target and approvals stay.
    git(fixture.repo, ['checkout', '-q', '-b', 'elsewhere']);
    const approved = await approve(runId, 'bob');
    expect(approved.approval.targetBranch).toBe('main');
    const result = await promote(runId);
    expect(result).toMatchObject({ status: 'promoted', mode: 'branch' });
    expect(
      git(fixture.repo, ['--git-dir', fixture.remote, 'rev-parse', `${result.branch}^`]).trim(),
    ).toBe(fixture.remoteBranches().main);
  });

  it('a run asked for on a detached HEAD is approved and promoted as a patch, never as a branch', async () => {
    git(fixture.repo, ['checkout', '-q', '--detach', 'HEAD']);
    const { runId, status } = await fixture.runJob(FIX);
    expect(status).toBe('ready_for_promotion');
    const run = await fixture.runtime.store.getRun(runId);
    expect(run?.jobSpec).toMatchObject({ promotion: { targetBranch: 'HEAD' } });
    const approved = await approve(runId, 'bob');
    expect(approved.approval.targetBranch).toBe('HEAD');
    // Back on a branch, the run still has none: neither its target nor its approval moves.
    git(fixture.repo, ['checkout', '-q', 'main']);
    const refused = await promote(runId, 'alice', 'branch').catch((error: unknown) => error);
    expect(isAasError(refused) && refused.code).toBe('PREFLIGHT_FAILED');
    expect(isAasError(refused) && refused.message).toContain('names no target branch');
    expect(Object.keys(fixture.remoteBranches())).toEqual(['main']);
    const result = await promote(runId, 'alice', 'patch');
    expect(result).toMatchObject({ status: 'promoted', mode: 'patch' });
  });

  it('takes the branch, not a tag of the same name, and leaves out a name no job could hold', async () => {
    git(fixture.repo, ['tag', 'main']);
    const tagged = await fixture.runJob(FIX);
    const job = (await fixture.runtime.store.getRun(tagged.runId))?.jobSpec;
    expect(job).toMatchObject({ promotion: { targetBranch: 'main' } });
    const long = `${'x'.repeat(100)}/${'y'.repeat(109)}`;
    git(fixture.repo, ['checkout', '-q', '-b', long]);
    const longRun = await fixture.runJob(FIX);
    expect(longRun.status).toBe('ready_for_promotion');
    const longJob = (await fixture.runtime.store.getRun(longRun.runId))?.jobSpec as {
      promotion: { targetBranch?: string };
    };
    expect(longJob.promotion.targetBranch).toBeUndefined();
  });
});
