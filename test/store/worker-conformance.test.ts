import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isAasError } from '../../src/kernel/index.js';
import type { NewWorkerEnrolment, Store, WorkerMatch } from '../../src/store/index.js';
import { type StoreFixture, storeDialects } from './dialects.js';
import { at, event, runId, sessionId } from './queue-helpers.js';

/**
 * Remote workers in the store, on both dialects: one-time enrolments, registration, credential
 * lookup, revocation, and claims that respect run requirements (labels, a pinned worker,
 * agents): a worker that does not match never receives the run.
 */

const T0 = '2026-03-01T00:00:00.000Z';
const T1 = '2026-03-01T00:00:01.000Z';
const sha = (text: string) => createHash('sha256').update(text).digest('hex');
const workerId = (n: number) => `wrk_${n.toString(16).padStart(24, '0')}`;
const enrolmentId = (n: number) => `wen_${n.toString(16).padStart(24, '0')}`;

function enrolment(n: number, overrides: Partial<NewWorkerEnrolment> = {}): NewWorkerEnrolment {
  return {
    id: enrolmentId(n),
    name: `gpu-${n}`,
    labels: ['linux', 'gpu'],
    secretSha256: sha(`enrol-${n}`),
    createdAt: at(0),
    createdBy: 'admin',
    expiresAt: at(3_600_000),
    ...overrides,
  };
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    () => 'resolved',
    (error: unknown) => (isAasError(error) ? error.code : String(error)),
  );
}

async function queueRun(store: Store, n: number, requirements: readonly string[]): Promise<void> {
  await store.createSession({
    session: {
      id: sessionId(n),
      createdAt: at(n),
      task: `task ${n}`,
      repo: '/repos/demo',
      agent: 'mock',
      requestedBy: 'alice',
      labels: [],
    },
    run: { id: runId(n), createdAt: at(n), jobSpec: { task: `task ${n}` }, requirements },
    events: [event('session.created', n)],
  });
}

function claim(store: Store, owner: string, match?: WorkerMatch) {
  return store.claimRun({
    owner,
    nowIso: at(10_000),
    leaseExpiresAt: at(70_000),
    ...(match === undefined ? {} : { match }),
    events: () => [event('run.started', 10_000)],
  });
}

const dialects = await storeDialects();

for (const dialect of dialects) {
  describe.skipIf(!dialect.available)(`worker conformance: ${dialect.name}`, () => {
    let fixture: StoreFixture;
    let store: Store;

    beforeEach(async () => {
      fixture = await dialect.open();
      store = fixture.store;
    });
    afterEach(async () => {
      await fixture.cleanup();
    });

    it('records an installation fact once: the first writer holds, concurrent ones included', async () => {
      const first = await store.recordInstallationFact('signing_key_id', 'sha256:a', T0);
      expect(first).toEqual({ value: 'sha256:a', recordedAt: T0 });
      expect(await store.recordInstallationFact('signing_key_id', 'sha256:b', T1)).toEqual(first);
      const racing = await Promise.all(
        ['x', 'y', 'z'].map((value) => store.recordInstallationFact('other', value, T1)),
      );
      expect(new Set(racing.map((fact) => fact.value)).size).toBe(1);
    });

    it('registers a worker from its enrolment once; a second use is UNAUTHENTICATED', async () => {
      const created = await store.createWorkerEnrolment(enrolment(1));
      expect(created).toMatchObject({ name: 'gpu-1', labels: ['linux', 'gpu'], usedAt: null });
      const input = {
        enrolmentSecretSha256: sha('enrol-1'),
        nowIso: at(1_000),
        workerId: workerId(1),
        credentialSha256: sha('cred-1'),
        capabilities: { agents: ['claude-code'], sandbox: ['bubblewrap'] },
      };
      const worker = await store.registerWorker(input);
      expect(worker).toEqual({
        id: workerId(1),
        name: 'gpu-1',
        labels: ['linux', 'gpu'],
        capabilities: { agents: ['claude-code'], sandbox: ['bubblewrap'] },
        enrolledAt: at(1_000),
        enrolledBy: 'admin',
        revokedAt: null,
        lastSeenAt: at(1_000),
        draining: false,
        selfDrainReportedAt: null,
      });
      expect(
        await codeOf(
          store.registerWorker({ ...input, workerId: workerId(2), credentialSha256: sha('c2') }),
        ),
      ).toBe('UNAUTHENTICATED');
      expect(await store.findWorkerByCredentialHash(sha('cred-1'))).toEqual(worker);
      expect(await store.findWorkerByCredentialHash(sha('cred-2'))).toBeNull();
      expect(await store.getWorker('gpu-1')).toEqual(worker);
      expect(await store.getWorker(workerId(1))).toEqual(worker);
      expect(await store.listWorkers()).toEqual([worker]);
    });

    it('refuses an expired or unknown enrolment, and a name already taken', async () => {
      await store.createWorkerEnrolment(enrolment(1, { expiresAt: at(500) }));
      const register = (secret: string, id: number) =>
        store.registerWorker({
          enrolmentSecretSha256: sha(secret),
          nowIso: at(1_000),
          workerId: workerId(id),
          credentialSha256: sha(`cred-${id}`),
          capabilities: { agents: [], sandbox: [] },
        });
      expect(await codeOf(register('enrol-1', 1))).toBe('UNAUTHENTICATED');
      expect(await codeOf(register('nothing', 1))).toBe('UNAUTHENTICATED');
      await store.createWorkerEnrolment(enrolment(2));
      await register('enrol-2', 2);
      expect(await codeOf(store.createWorkerEnrolment(enrolment(3, { name: 'gpu-2' })))).toBe(
        'NAME_TAKEN',
      );
    });

    it('lists the enrolments still pending, and withdraws those of a name for good', async () => {
      await store.createWorkerEnrolment(enrolment(1));
      await store.createWorkerEnrolment(enrolment(2, { createdAt: at(10) }));
      // A second secret for gpu-2, and one that has expired.
      await store.createWorkerEnrolment(
        enrolment(3, { name: 'gpu-2', secretSha256: sha('enrol-3'), createdAt: at(20) }),
      );
      await store.createWorkerEnrolment(enrolment(4, { expiresAt: at(500) }));
      const register = (n: number) =>
        store.registerWorker({
          enrolmentSecretSha256: sha(`enrol-${n}`),
          nowIso: at(1_000),
          workerId: workerId(n),
          credentialSha256: sha(`cred-${n}`),
          capabilities: { agents: [], sandbox: [] },
        });
      await register(1);
      expect((await store.listPendingEnrolments(at(1_000))).map((e) => e.id)).toEqual([
        enrolmentId(2),
        enrolmentId(3),
      ]);
      const withdrawn = await store.withdrawEnrolments('gpu-2', at(2_000));
      expect(withdrawn.map((e) => [e.id, e.usedAt, e.workerId])).toEqual([
        [enrolmentId(2), at(2_000), null],
        [enrolmentId(3), at(2_000), null],
      ]);
      expect(await store.listPendingEnrolments(at(2_000))).toEqual([]);
      // Neither secret registers now, even on a host whose clock is behind.
      expect(await codeOf(register(2))).toBe('UNAUTHENTICATED');
      expect(await codeOf(register(3))).toBe('UNAUTHENTICATED');
      expect(await store.withdrawEnrolments('gpu-2', at(3_000))).toEqual([]);
      // A used enrolment is not withdrawn: its worker is revoked instead.
      expect(await store.withdrawEnrolments('gpu-1', at(3_000))).toEqual([]);
    });

    it('revokes by name (the first time stays), marks seen and draining', async () => {
      await store.createWorkerEnrolment(enrolment(1));
      await store.registerWorker({
        enrolmentSecretSha256: sha('enrol-1'),
        nowIso: at(1_000),
        workerId: workerId(1),
        credentialSha256: sha('cred-1'),
        capabilities: { agents: [], sandbox: [] },
      });
      expect((await store.recordWorkerSeen(workerId(1), at(2_000))).lastSeenAt).toBe(at(2_000));
      // The worker's own drain: recorded when said, kept when not mentioned, cleared when denied.
      expect(await store.recordWorkerSeen(workerId(1), at(2_100), true)).toMatchObject({
        lastSeenAt: at(2_100),
        selfDrainReportedAt: at(2_100),
        draining: false,
      });
      expect((await store.recordWorkerSeen(workerId(1), at(2_200))).selfDrainReportedAt).toBe(
        at(2_100),
      );
      expect(
        (await store.recordWorkerSeen(workerId(1), at(2_300), false)).selfDrainReportedAt,
      ).toBe(null);
      expect((await store.setWorkerDraining('gpu-1', true)).draining).toBe(true);
      expect((await store.revokeWorker('gpu-1', at(3_000))).revokedAt).toBe(at(3_000));
      expect((await store.revokeWorker(workerId(1), at(4_000))).revokedAt).toBe(at(3_000));
      expect((await store.findWorkerByCredentialHash(sha('cred-1')))?.revokedAt).toBe(at(3_000));
      expect(await codeOf(store.revokeWorker('nobody', at(5_000)))).toBe('NOT_FOUND');
      // A revoked worker is neither drained nor resumed, and nothing is written.
      expect(await codeOf(store.setWorkerDraining('gpu-1', false))).toBe('INVALID_ARGUMENT');
      expect((await store.getWorker('gpu-1'))?.draining).toBe(true);
      expect(await codeOf(store.setWorkerDraining('nobody', true))).toBe('NOT_FOUND');
    });

    it('a worker whose labels, name or agents do not match never receives the run', async () => {
      await queueRun(store, 1, ['label:gpu', 'agent:claude-code']);
      const linuxOnly: WorkerMatch = {
        offers: ['label:linux', 'worker:a', 'agent:claude-code'],
        anyAgent: false,
      };
      const gpuNoAgent: WorkerMatch = { offers: ['label:gpu', 'worker:b'], anyAgent: false };
      expect(await claim(store, 'a', linuxOnly)).toBeNull();
      expect(await claim(store, 'b', gpuNoAgent)).toBeNull();
      expect((await store.getRun(runId(1)))?.status).toBe('queued');
      // An embedded worker offers any agent, but still needs the label.
      expect(await claim(store, 'e', { offers: ['worker:e'], anyAgent: true })).toBeNull();
      const claimed = await claim(store, 'e', {
        offers: ['label:gpu', 'worker:e'],
        anyAgent: true,
      });
      expect(claimed?.run.id).toBe(runId(1));
    });

    it('a pinned run goes only to the worker of that name; a run with no requirement to anyone', async () => {
      await queueRun(store, 1, ['worker:gpu-7']);
      await queueRun(store, 2, []);
      const other: WorkerMatch = { offers: ['worker:gpu-8'], anyAgent: true };
      expect((await claim(store, 'x', other))?.run.id).toBe(runId(2));
      expect(await claim(store, 'x', other)).toBeNull();
      const pinned = await claim(store, 'y', { offers: ['worker:gpu-7'], anyAgent: false });
      expect(pinned?.run.id).toBe(runId(1));
    });

    it('refuses a malformed requirement', async () => {
      expect(await codeOf(queueRun(store, 1, ['gpu']))).toBe('INVALID_ARGUMENT');
      expect(await codeOf(queueRun(store, 1, ['label:']))).toBe('INVALID_ARGUMENT');
    });

    it('lists who holds the lease of each running run', async () => {
      await queueRun(store, 1, []);
      const claimed = await claim(store, workerId(1), { offers: [], anyAgent: true });
      expect(await store.listRunningLeases()).toEqual([
        {
          runId: runId(1),
          leaseOwner: workerId(1),
          fencingToken: claimed?.run.fencingToken,
          leaseExpiresAt: at(70_000),
        },
      ]);
    });
  });
}
