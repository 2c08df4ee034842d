import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashTokenSecret, newTokenSecret } from '../../src/api/index.js';
import { IdPrefix, newId } from '../../src/kernel/index.js';
import { type StoreFixture, storeDialects } from '../store/dialects.js';
import {
  expectError,
  job,
  postJson,
  type RunningApi,
  startApi,
  submitQueued,
} from './api-fixture.js';

/**
 * The remote-worker protocol over HTTP: one-time enrolment, the worker credential and its
 * revocation, claims that respect labels and agents, the long-poll woken by a queued run,
 * heartbeats with cancel orders, drains (an administrator's, and a worker's own), and fenced
 * final reports.
 */

const V1 = '/api/v1';
let counter = 0;

interface Lease {
  runId: string;
  sessionId: string;
  fencingToken: number;
  jobSpec: { requireLabels?: string[] };
  repo: string;
  leaseExpiresAt: string;
}

async function enrolAndRegister(
  api: RunningApi,
  options: { labels?: string[]; agents?: string[] } = {},
): Promise<{ name: string; credential: string; workerId: string }> {
  counter += 1;
  const name = `remote-${counter}`;
  const { secret } = await api.json<{ secret: string }>(
    `${V1}/workers/enrolments`,
    postJson({ name, labels: options.labels ?? [] }),
  );
  expect(secret).toMatch(/^aase_/);
  const registered = await api.json<{ worker: { id: string }; credential: string }>(
    `${V1}/workers/register`,
    postJson(
      {
        enrolmentSecret: secret,
        capabilities: { agents: options.agents ?? ['mock'], sandbox: [] },
      },
      { secret: null },
    ),
  );
  return { name, credential: registered.credential, workerId: registered.worker.id };
}

function claimRequest(api: RunningApi, credential: string, waitSec = 0) {
  return api.request(`${V1}/workers/claim`, postJson({ waitSec }, { secret: credential }));
}

const dialects = await storeDialects();

for (const dialect of dialects) {
  describe.skipIf(!dialect.available)(`remote worker routes: ${dialect.name}`, () => {
    let fixture: StoreFixture;
    let api: RunningApi;

    beforeAll(async () => {
      fixture = await dialect.open();
      api = await startApi(fixture);
    });
    afterAll(async () => {
      await api?.close();
      await fixture?.cleanup();
    });

    it('an enrolment secret buys one credential, once', async () => {
      const { secret } = await api.json<{ secret: string }>(
        `${V1}/workers/enrolments`,
        postJson({ name: 'once-only', labels: ['linux'] }),
      );
      const body = { enrolmentSecret: secret, capabilities: { agents: ['mock'], sandbox: [] } };
      const first = await api.request(`${V1}/workers/register`, postJson(body, { secret: null }));
      expect(first.status).toBe(201);
      const registered = (await first.json()) as {
        credential: string;
        worker: { labels: string[] };
      };
      expect(registered.credential).toMatch(/^aasw_/);
      expect(registered.worker.labels).toEqual(['linux']);
      const again = await api.request(`${V1}/workers/register`, postJson(body, { secret: null }));
      await expectError(again, 'UNAUTHENTICATED');
      // The credential works for the worker routes and nothing else.
      const beat = await api.request(
        `${V1}/workers/heartbeat`,
        postJson({ leases: [] }, { secret: registered.credential }),
      );
      expect(beat.status).toBe(200);
      await expectError(
        await api.request(`${V1}/sessions`, { secret: registered.credential }),
        'FORBIDDEN',
      );
    });

    it('a revoked worker is refused at once (401)', async () => {
      const worker = await enrolAndRegister(api);
      expect((await claimRequest(api, worker.credential)).status).toBe(204);
      const revoked = await api.request(`${V1}/workers/${worker.name}`, { method: 'DELETE' });
      expect(revoked.status).toBe(200);
      await expectError(await claimRequest(api, worker.credential), 'UNAUTHENTICATED');
      const listed = await api.json<{ items: { name: string; state: string }[] }>(`${V1}/workers`);
      expect(listed.items.find((item) => item.name === worker.name)?.state).toBe('offline');
    });

    it('lists unused enrolments, and withdraws them: by name, or with the revocation of their worker', async () => {
      const enrol = async (name: string) =>
        (await api.json<{ secret: string }>(`${V1}/workers/enrolments`, postJson({ name }))).secret;
      const register = (secret: string) =>
        api.request(
          `${V1}/workers/register`,
          postJson(
            { enrolmentSecret: secret, capabilities: { agents: ['mock'], sandbox: [] } },
            { secret: null },
          ),
        );
      const pendingNames = async () =>
        (
          await api.json<{ items: { name: string; secret?: unknown }[] }>(
            `${V1}/workers/enrolments`,
          )
        ).items.map((item) => item.name);
      const leaked = await enrol(`leaked-${dialect.name}`);
      expect(await pendingNames()).toContain(`leaked-${dialect.name}`);
      const withdrawn = await api.request(`${V1}/workers/enrolments/leaked-${dialect.name}`, {
        method: 'DELETE',
      });
      expect(withdrawn.status).toBe(200);
      expect(((await withdrawn.json()) as { withdrawn: unknown[] }).withdrawn).toHaveLength(1);
      expect(await pendingNames()).not.toContain(`leaked-${dialect.name}`);
      await expectError(await register(leaked), 'UNAUTHENTICATED');
      await expectError(
        await api.request(`${V1}/workers/enrolments/leaked-${dialect.name}`, {
          method: 'DELETE',
        }),
        'NOT_FOUND',
        'name',
      );
      // A second secret for one name, left over once the first registered, goes with its worker.
      const name = `twice-${dialect.name}`;
      const first = await enrol(name);
      await enrol(name);
      expect((await register(first)).status).toBe(201);
      expect(await pendingNames()).toContain(name);
      expect((await api.request(`${V1}/workers/${name}`, { method: 'DELETE' })).status).toBe(200);
      expect(await pendingNames()).not.toContain(name);
    });

    it('claims nothing for a worker already gone, and gives back, unspent, a claim made as it went', async () => {
      const worker = await enrolAndRegister(api);
      // One claim allowed, and ahead of anything other tests left queued.
      const { runId, sessionId } = await submitQueued(api, { interruptRetries: 0, priority: 9 });
      const record = await api.store.getWorker(worker.workerId);
      if (record === null) throw new Error('worker not registered');
      const types = async () => (await api.store.readEvents(sessionId)).map((event) => event.type);

      expect(await api.remoteWorkers.claim(record, 0, AbortSignal.abort())).toBeNull();
      expect(await api.store.getRun(runId)).toMatchObject({ status: 'queued', claimCount: 0 });
      expect(await types()).not.toContain('run.started');

      // The request goes away while the claim is being made (its run.started is published
      // before the claim returns).
      const going = new AbortController();
      const unsubscribe = api.bus.on('run.started', (event) => {
        if (event.data.runId === runId) going.abort();
      });
      try {
        expect(await api.remoteWorkers.claim(record, 0, going.signal)).toBeNull();
      } finally {
        unsubscribe();
      }
      const run = await api.store.getRun(runId);
      expect(run).toMatchObject({ status: 'queued', claimCount: 0, leaseOwner: null });
      expect((await types()).slice(-3)).toEqual(['run.started', 'run.interrupted', 'run.requeued']);
      // Its one claim is still there to be made, at once.
      const claimed = await claimRequest(api, worker.credential);
      expect(claimed.status).toBe(200);
      const lease = (await claimed.json()) as Lease;
      expect(lease.runId).toBe(runId);
      expect(lease.fencingToken).toBeGreaterThan(run?.fencingToken ?? 0);
      expect(await api.store.getRun(runId)).toMatchObject({ status: 'running', claimCount: 1 });
    });

    it('a server shutting down refuses claims (503), waiting or new, and hands out nothing', async () => {
      const closing = await startApi(fixture);
      try {
        const worker = await enrolAndRegister(closing, { labels: ['closing'] });
        const waiting = claimRequest(closing, worker.credential, 30);
        while (closing.remoteWorkers.waiting === 0) {
          await new Promise((resolve) => setImmediate(resolve));
        }
        closing.remoteWorkers.stop();
        await expectError(await waiting, 'SERVER_UNAVAILABLE');
        // A run only this worker could take stays queued: asking again gets the same answer
        // rather than the run, or an empty answer to ask again at once on.
        const { runId } = await submitQueued(closing, { requireLabels: ['closing'] });
        await expectError(await claimRequest(closing, worker.credential, 30), 'SERVER_UNAVAILABLE');
        expect(await closing.store.getRun(runId)).toMatchObject({
          status: 'queued',
          claimCount: 0,
        });
        // Another replica, still serving, hands it out.
        const served = await claimRequest(api, worker.credential);
        expect(served.status).toBe(200);
        expect(((await served.json()) as Lease).runId).toBe(runId);
      } finally {
        await closing.close();
      }
    });

    it('ends cancelled, not queued, a claim given back after a cancel was requested', async () => {
      const worker = await enrolAndRegister(api);
      const { runId } = await submitQueued(api, { priority: 9 });
      const claimed = await api.queue.claim(worker.workerId, { runId });
      if (claimed === null) throw new Error('expected a claim');
      expect(await api.queue.requestCancel(runId, 'alice')).toMatchObject({
        outcome: 'cancel_requested',
      });
      expect(await api.queue.giveBack(claimed, 'claim not delivered')).toBe(true);
      expect(await api.store.getRun(runId)).toMatchObject({
        status: 'cancelled',
        reasonCode: 'CANCELLED',
        leaseOwner: null,
      });
      // Given back once; the same claim again is not this fence's any more.
      expect(await api.queue.giveBack(claimed, 'again')).toBe(false);
    });

    it('a worker whose labels do not match never claims the run; one that matches does', async () => {
      const { runId } = await submitQueued(api, { requireLabels: ['gpu-xyz'] });
      const plain = await enrolAndRegister(api, { labels: ['linux'] });
      const noAgent = await enrolAndRegister(api, { labels: ['gpu-xyz'], agents: ['codex'] });
      expect((await claimRequest(api, plain.credential)).status).toBe(204);
      expect((await claimRequest(api, noAgent.credential)).status).toBe(204);
      const gpu = await enrolAndRegister(api, { labels: ['gpu-xyz', 'linux'] });
      const response = await claimRequest(api, gpu.credential);
      expect(response.status).toBe(200);
      const lease = (await response.json()) as Lease;
      expect(lease).toMatchObject({ runId, repo: '/repos/demo', fencingToken: 1 });
      expect(lease.jobSpec.requireLabels).toEqual(['gpu-xyz']);
      const listed = await api.json<{ items: { name: string; state: string; runIds: string[] }[] }>(
        `${V1}/workers`,
      );
      expect(listed.items.find((item) => item.name === gpu.name)).toMatchObject({
        state: 'busy',
        runIds: [runId],
      });
    });

    it('a waiting claim returns a run queued while it waits', async () => {
      const worker = await enrolAndRegister(api, { labels: ['late'] });
      // Only this worker can take it, and it is queued only once the claim is waiting (after
      // its first look at the store found nothing): the bus must wake it, the poll is an hour.
      const waiting = claimRequest(api, worker.credential, 30);
      while (api.remoteWorkers.waiting === 0) await new Promise((resolve) => setImmediate(resolve));
      await api.json(`${V1}/sessions`, postJson(job({ requireLabels: ['late'] })));
      const response = await waiting;
      expect(response.status).toBe(200);
      const lease = (await response.json()) as Lease;
      expect(lease.jobSpec.requireLabels).toEqual(['late']);
    });

    it('a claim waiting on a full repository gets the room a finished run frees', async () => {
      // Its own server, with a limit of one running run per repository and an hour's poll: only
      // the finished run's event can wake the waiting claim (before, only its poll did, and the
      // worker that had just finished took the room again with its next claim).
      const limited = await startApi(fixture, { maxRunningPerRepo: 1 });
      try {
        const first = await enrolAndRegister(limited, { labels: ['room'] });
        const second = await enrolAndRegister(limited, { labels: ['room'] });
        const repo = `/repos/room-${counter}`;
        await submitQueued(limited, { requireLabels: ['room'], repo });
        await submitQueued(limited, { requireLabels: ['room'], repo });
        const held = (await (await claimRequest(limited, first.credential)).json()) as Lease;
        const waiting = claimRequest(limited, second.credential, 30);
        while (limited.remoteWorkers.waiting === 0) {
          await new Promise((resolve) => setImmediate(resolve));
        }
        const report = await limited.request(
          `${V1}/runs/${held.runId}/report`,
          postJson(
            {
              fencingToken: held.fencingToken,
              status: 'failed',
              reasonCode: 'AGENT_FAILED',
              detail: 'exit 1',
            },
            { secret: first.credential },
          ),
        );
        expect(report.status).toBe(200);
        // Woken by the report itself (the run's end is published before the answer), not by
        // the end of its 30 s wait, after which it would have looked once more and found it too.
        expect(limited.remoteWorkers.waiting).toBe(0);
        const response = await waiting;
        expect(response.status).toBe(200);
        const lease = (await response.json()) as Lease;
        expect(lease.runId).not.toBe(held.runId);
        expect(lease.repo).toBe(repo);
      } finally {
        await limited.close();
      }
    });

    it('heartbeats renew leases and carry cancel and lost orders', async () => {
      const worker = await enrolAndRegister(api, { labels: ['beat'] });
      const { runId } = await submitQueued(api, { requireLabels: ['beat'] });
      const lease = (await (await claimRequest(api, worker.credential)).json()) as Lease;
      const beat = (fencingToken: number) =>
        api.json<{ runs: { runId: string; order: string }[]; drain: boolean }>(
          `${V1}/workers/heartbeat`,
          postJson({ leases: [{ runId, fencingToken }] }, { secret: worker.credential }),
        );
      expect(await beat(lease.fencingToken)).toEqual({
        runs: [{ runId, order: 'ok' }],
        drain: false,
      });
      expect((await beat(lease.fencingToken + 1)).runs).toEqual([{ runId, order: 'lost' }]);
      await api.json(`${V1}/runs/${runId}/cancel`, { method: 'POST' });
      expect(await beat(lease.fencingToken)).toEqual({
        runs: [{ runId, order: 'cancel' }],
        drain: false,
      });
      await api.store.setWorkerDraining(worker.name, true);
      expect((await beat(lease.fencingToken)).drain).toBe(true);
      expect((await claimRequest(api, worker.credential)).status).toBe(204);
    });

    it("an administrator's drain: no claims, heartbeats say drain, kept until resumed", async () => {
      const worker = await enrolAndRegister(api, { labels: ['drained'] });
      const { runId } = await submitQueued(api, { requireLabels: ['drained'] });
      const drained = await api.json<{ name: string; draining: boolean }>(
        `${V1}/workers/${worker.name}/drain`,
        { method: 'POST' },
      );
      expect(drained).toMatchObject({ name: worker.name, draining: true });
      const beat = (body: Record<string, unknown>) =>
        api.json<{ drain: boolean }>(
          `${V1}/workers/heartbeat`,
          postJson({ leases: [], ...body }, { secret: worker.credential }),
        );
      expect((await beat({})).drain).toBe(true);
      expect((await claimRequest(api, worker.credential)).status).toBe(204);
      // The worker started again says it is not draining itself: the order stands.
      expect((await beat({ draining: false })).drain).toBe(true);
      expect((await claimRequest(api, worker.credential)).status).toBe(204);
      const listed = await api.json<{
        items: { name: string; state: string; drainRequested: boolean }[];
      }>(`${V1}/workers`);
      expect(listed.items.find((item) => item.name === worker.name)).toMatchObject({
        state: 'draining',
        drainRequested: true,
      });
      expect((await api.store.getRun(runId))?.status).toBe('queued');

      const resumed = await api.json<{ draining: boolean }>(
        `${V1}/workers/${worker.workerId}/resume`,
        { method: 'POST' },
      );
      expect(resumed.draining).toBe(false);
      expect((await beat({})).drain).toBe(false);
      const response = await claimRequest(api, worker.credential);
      expect(response.status).toBe(200);
      expect(((await response.json()) as Lease).runId).toBe(runId);

      for (const action of ['drain', 'resume']) {
        await expectError(
          await api.request(`${V1}/workers/nobody-here/${action}`, { method: 'POST' }),
          'NOT_FOUND',
        );
      }
      // A server's own slot, as `aas workers` lists it, is not drained through this route.
      const embedded = await api.request(`${V1}/workers/worker:vm:6913:1/drain`, {
        method: 'POST',
      });
      const refused = (await embedded.clone().json()) as { message: string };
      await expectError(embedded, 'REQUEST_INVALID');
      expect(refused.message).toContain('send that `aas start` SIGTERM');
    });

    it('a claim waiting when its worker is drained gets nothing, and is served once resumed', async () => {
      const worker = await enrolAndRegister(api, { labels: ['wait-drain'] });
      const waiting = claimRequest(api, worker.credential, 30);
      while (api.remoteWorkers.waiting === 0) await new Promise((resolve) => setImmediate(resolve));
      await api.json(`${V1}/workers/${worker.name}/drain`, { method: 'POST' });
      const { runId } = await api.json<{ runId: string }>(
        `${V1}/sessions`,
        postJson(job({ requireLabels: ['wait-drain'] })),
      );
      // The queued run woke the claim; it read the worker again and went back to waiting.
      let answered = false;
      void waiting.then(() => {
        answered = true;
      });
      for (let turn = 0; turn < 20; turn += 1) {
        await new Promise((resolve) => setImmediate(resolve));
      }
      const deadline = Date.now() + 10_000;
      while (api.remoteWorkers.waiting === 0 && !answered && Date.now() < deadline) {
        await new Promise((resolve) => setImmediate(resolve));
      }
      expect(answered).toBe(false);
      expect((await api.store.getRun(runId))?.status).toBe('queued');
      await api.json(`${V1}/workers/${worker.name}/resume`, { method: 'POST' });
      const response = await waiting;
      expect(response.status).toBe(200);
      expect(((await response.json()) as Lease).runId).toBe(runId);
    });

    it("a worker's own drain is shown, never stored: started again, it claims at once", async () => {
      const worker = await enrolAndRegister(api, { labels: ['self-drain'] });
      const beat = await api.json<{ drain: boolean }>(
        `${V1}/workers/heartbeat`,
        postJson({ leases: [], draining: true }, { secret: worker.credential }),
      );
      expect(beat.drain).toBe(false);
      const state = async () =>
        (
          await api.json<{ items: { name: string; state: string; drainRequested: boolean }[] }>(
            `${V1}/workers`,
          )
        ).items.find((item) => item.name === worker.name);
      expect(await state()).toMatchObject({ state: 'draining', drainRequested: false });
      expect((await api.store.getWorker(worker.workerId))?.draining).toBe(false);

      const { runId } = await submitQueued(api, { requireLabels: ['self-drain'] });
      const response = await claimRequest(api, worker.credential);
      expect(response.status).toBe(200);
      expect(((await response.json()) as Lease).runId).toBe(runId);
      expect(await state()).toMatchObject({ state: 'busy', drainRequested: false });
    });

    it('accepts the report with the current fencing token only; a stale one is recorded as lease.fenced', async () => {
      const worker = await enrolAndRegister(api, { labels: ['fence'] });
      const { runId, sessionId } = await submitQueued(api, { requireLabels: ['fence'] });
      const lease = (await (await claimRequest(api, worker.credential)).json()) as Lease;
      const report = (fencingToken: number) =>
        api.request(
          `${V1}/runs/${runId}/report`,
          postJson(
            { fencingToken, status: 'failed', reasonCode: 'AGENT_FAILED', detail: 'exit 1' },
            { secret: worker.credential },
          ),
        );
      await expectError(await report(lease.fencingToken + 5), 'LEASE_FENCED');
      const events = await api.json<{ items: { type: string; data: Record<string, unknown> }[] }>(
        `${V1}/sessions/${sessionId}/events`,
      );
      expect(events.items.find((item) => item.type === 'lease.fenced')?.data).toMatchObject({
        runId,
        staleOwner: worker.workerId,
        staleFencingToken: lease.fencingToken + 5,
        currentFencingToken: lease.fencingToken,
      });
      expect((await api.store.getRun(runId))?.status).toBe('running');
      const accepted = await report(lease.fencingToken);
      expect(accepted.status).toBe(200);
      expect(await accepted.json()).toEqual({
        runId,
        status: 'failed',
        reasonCode: 'AGENT_FAILED',
      });
      // Once finished, even the token that was current is fenced.
      await expectError(await report(lease.fencingToken), 'LEASE_FENCED');
    });

    it('lease operations: numbered writes apply once, runner events only, reads of the held run only', async () => {
      const worker = await enrolAndRegister(api, { labels: ['ops'] });
      const { runId, sessionId } = await submitQueued(api, { requireLabels: ['ops'] });
      const lease = (await (await claimRequest(api, worker.credential)).json()) as Lease;
      const op = (
        operation: unknown,
        fencingToken = lease.fencingToken,
        secret = worker.credential,
      ) =>
        api.request(
          `${V1}/workers/runs/${runId}/ops`,
          postJson({ fencingToken, operation }, { secret }),
        );
      const agentEvent = {
        type: 'agent.event',
        at: '2026-01-01T00:00:01.000Z',
        actor: 'anyone',
        data: { kind: 'message', text: 'hi' },
      };
      const first = await op({ op: 'appendEvents', writeSeq: 1, events: [agentEvent] });
      expect(first.status).toBe(200);
      expect(await first.json()).toMatchObject({ op: 'appendEvents', duplicate: false });
      const repeat = await op({ op: 'appendEvents', writeSeq: 1, events: [agentEvent] });
      expect(await repeat.json()).toMatchObject({ duplicate: true, events: [] });
      const history = await api.json<{ items: { type: string; actor: string }[] }>(
        `${V1}/sessions/${sessionId}/events`,
      );
      const recorded = history.items.filter((event) => event.type === 'agent.event');
      // Recorded once, as the worker's own whatever actor the request named.
      expect(recorded).toEqual([expect.objectContaining({ actor: worker.workerId })]);

      // The control plane's events and fields are not the worker's to write.
      await expectError(
        await op({
          op: 'appendEvents',
          writeSeq: 2,
          events: [{ ...agentEvent, type: 'approval.recorded' }],
        }),
        'FORBIDDEN',
        'events.0.type',
      );
      await expectError(
        await op({
          op: 'updateRun',
          writeSeq: 3,
          changes: { status: 'promoted', leaseOwner: null, leaseExpiresAt: null },
          events: [],
        }),
        'FORBIDDEN',
        'changes.status',
      );
      // A patch digest on record must be of bytes the control plane holds.
      await expectError(
        await op({
          op: 'updateRun',
          writeSeq: 4,
          changes: {
            status: 'ready_for_promotion',
            patchSha256: 'a'.repeat(64),
            leaseOwner: null,
            leaseExpiresAt: null,
          },
          events: [],
        }),
        'PATCH_DIGEST_MISMATCH',
        'changes.patchSha256',
      );
      const upload = (name: string, body: Buffer, sha256: string) =>
        api.request(`${V1}/workers/runs/${runId}/artifacts/${name}`, {
          method: 'PUT',
          headers: {
            'content-type': 'application/octet-stream',
            'x-aas-fencing-token': String(lease.fencingToken),
            'x-aas-sha256': sha256,
          },
          body,
          secret: worker.credential,
        });
      const patch = Buffer.from('diff --git a/x b/x\n');
      const digest = createHash('sha256').update(patch).digest('hex');
      await expectError(await upload('patch', patch, 'b'.repeat(64)), 'PATCH_DIGEST_MISMATCH');
      expect((await upload('patch', patch, digest)).status).toBe(200);
      await expectError(await upload('..%2Fetc', patch, digest), 'REQUEST_INVALID');

      // Reads see the held run only, under the current token.
      const read = await op({ op: 'getRun' });
      expect(await read.json()).toMatchObject({ op: 'getRun', run: { id: runId } });
      await expectError(await op({ op: 'getRun' }, lease.fencingToken + 1), 'LEASE_FENCED');
      const stranger = await enrolAndRegister(api, { labels: ['ops'] });
      await expectError(
        await op({ op: 'getRun' }, lease.fencingToken, stranger.credential),
        'LEASE_FENCED',
      );
      await expectError(
        await op(
          { op: 'appendEvents', writeSeq: 1, events: [agentEvent] },
          lease.fencingToken,
          stranger.credential,
        ),
        'LEASE_FENCED',
      );

      // A final status hands the lease back in the same write; the base is a commit, once; a
      // log must be one of an attempt the run has; numbers beyond PostgreSQL's integer are 400.
      await expectError(
        await op({ op: 'updateRun', writeSeq: 6, changes: { status: 'failed' }, events: [] }),
        'FORBIDDEN',
        'changes.leaseOwner',
      );
      await expectError(
        await op({ op: 'updateRun', writeSeq: 7, changes: { baseCommit: 'main~1' }, events: [] }),
        'INVALID_ARGUMENT',
        'changes.baseCommit',
      );
      await expectError(
        await op({ op: 'updateRun', writeSeq: 8, changes: { baseRef: 'other' }, events: [] }),
        'FORBIDDEN',
        'changes.baseRef',
      );
      await expectError(await upload('9.stdout.log', patch, digest), 'INVALID_ARGUMENT', 'name');
      await expectError(await op({ op: 'getRun' }, 2 ** 31), 'REQUEST_INVALID', 'fencingToken');
      // A report by a worker that does not hold the run leaves no trace in its history.
      const report = await api.request(
        `${V1}/runs/${runId}/report`,
        postJson(
          { fencingToken: lease.fencingToken, status: 'failed', reasonCode: 'AGENT_FAILED' },
          { secret: stranger.credential },
        ),
      );
      await expectError(report, 'LEASE_FENCED');
      const fencedEvents = await api.json<{ items: { type: string }[] }>(
        `${V1}/sessions/${sessionId}/events`,
      );
      expect(fencedEvents.items.some((event) => event.type === 'lease.fenced')).toBe(false);

      const final = {
        op: 'updateRun',
        writeSeq: 5,
        changes: {
          status: 'ready_for_promotion',
          reasonCode: 'GATES_PASSED',
          patchSha256: digest,
          leaseOwner: null,
          leaseExpiresAt: null,
        },
        events: [],
        expectStatus: ['running'],
      };
      const done = await op(final);
      expect(await done.json()).toMatchObject({
        duplicate: false,
        run: { status: 'ready_for_promotion' },
      });
      // The answer was lost; the retry is a repeat, not a lost lease.
      expect(await (await op(final)).json()).toMatchObject({ duplicate: true });
      const patchServed = await api.request(`${V1}/runs/${runId}/patch`);
      expect(await patchServed.text()).toBe(patch.toString());
      // Ended, the run is the control plane's: no later write or upload changes it.
      await expectError(
        await op({
          op: 'updateRun',
          writeSeq: 9,
          changes: { status: 'failed', leaseOwner: null, leaseExpiresAt: null },
          events: [],
        }),
        'LEASE_FENCED',
      );
      await expectError(await upload('patch', patch, digest), 'LEASE_FENCED');
    });

    it('issues no worker-role API token, and one made otherwise cannot use the worker routes', async () => {
      await expectError(
        await api.request(
          `${V1}/tokens`,
          postJson({ name: `plain-worker-${dialect.name}`, role: 'worker' }),
        ),
        'REQUEST_INVALID',
        'role',
      );
      // As an older version issued them: bound to no worker.
      const secret = newTokenSecret();
      await api.store.createToken({
        id: newId(IdPrefix.token, api.clock.nowMs()),
        name: `older-plain-worker-${dialect.name}`,
        role: 'worker',
        secretSha256: hashTokenSecret(secret),
        createdAt: api.clock.nowIso(),
        createdBy: 'test',
      });
      await expectError(await claimRequest(api, secret), 'FORBIDDEN');
    });

    it('refuses bad input with 4xx codes', async () => {
      const worker = await enrolAndRegister(api);
      await expectError(
        await api.request(
          `${V1}/workers/claim`,
          postJson({ waitSec: 31 }, { secret: worker.credential }),
        ),
        'REQUEST_INVALID',
        'waitSec',
      );
      await expectError(
        await api.request(
          `${V1}/workers/register`,
          postJson(
            { enrolmentSecret: 'nope', capabilities: { agents: [], sandbox: [] } },
            { secret: null },
          ),
        ),
        'UNAUTHENTICATED',
      );
      await expectError(
        await api.request(`${V1}/workers/enrolments`, postJson({ name: 'Bad Name' })),
        'REQUEST_INVALID',
        'name',
      );
      await expectError(
        await api.request(`${V1}/workers/${worker.name}x`, { method: 'DELETE' }),
        'NOT_FOUND',
      );
      await expectError(
        await api.request(`${V1}/sessions`, postJson(job({ requireLabels: ['UPPER'] }))),
        'JOB_INVALID',
        'requireLabels.0',
      );
    });
  });
}
