import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashTokenSecret, issueToken, newTokenSecret } from '../../src/api/index.js';
import { AasError, isAasError } from '../../src/kernel/index.js';
import { SessionRecorder, sessionEvent } from '../../src/sessions/index.js';
import type { StoredEvent } from '../../src/store/index.js';
import { POSTGRES_REQUIRED, type StoreFixture, storeDialects } from '../store/dialects.js';
import {
  expectError,
  job,
  postJson,
  type RunningApi,
  type SeededRun,
  seedFinishedRun,
  startApi,
  submitQueued,
} from './api-fixture.js';

/** HTTP behaviour of every route, happy paths and errors, against each real database. */

const dialects = await storeDialects();
const V1 = '/api/v1';

interface SessionBody {
  readonly id: string;
  readonly repo: string;
  readonly requestedBy: string;
  readonly status: string;
  readonly labels: readonly string[];
}
interface Page<T> {
  readonly items: T[];
  readonly nextCursor: string | null;
}

for (const dialect of dialects) {
  describe.skipIf(!dialect.available)(`API routes: ${dialect.name}`, () => {
    let fixture: StoreFixture;
    let api: RunningApi;
    let seeded: SeededRun;

    beforeAll(async () => {
      fixture = await dialect.open();
      api = await startApi(fixture);
      seeded = await seedFinishedRun(api);
    });
    afterAll(async () => {
      await api?.close();
      await fixture?.cleanup();
    });

    describe('POST /sessions', () => {
      it('queues the job as the caller and answers 201 with the ids', async () => {
        const response = await api.request(
          `${V1}/sessions`,
          postJson(job({ labels: ['docs'] }), { secret: api.secrets.operator }),
        );
        expect(response.status).toBe(201);
        const body = (await response.json()) as { sessionId: string; runId: string };
        const session = await api.store.getSession(body.sessionId);
        const run = await api.store.getRun(body.runId);
        expect(session?.requestedBy).toMatch(/^operator-/);
        expect(session?.labels).toEqual(['docs']);
        expect(run?.status).toBe('queued');
        expect(run?.sessionId).toBe(body.sessionId);
      });

      it('refuses requestedBy: it comes from the identity', async () => {
        const response = await api.request(
          `${V1}/sessions`,
          postJson(job({ requestedBy: 'someone-else' })),
        );
        const body = await expectError(response, 'JOB_INVALID', 'requestedBy');
        expect(body.message).toMatch(/identity/);
      });

      it('names the field of a wrong type, a nested field and an unknown field', async () => {
        await expectError(
          await api.request(`${V1}/sessions`, postJson(job({ task: 42 }))),
          'JOB_INVALID',
          'task',
        );
        await expectError(
          await api.request(
            `${V1}/sessions`,
            postJson(job({ validators: [{ command: 'npm test', timeoutSec: -1 }] })),
          ),
          'JOB_INVALID',
          'validators.0.timeoutSec',
        );
        await expectError(
          await api.request(`${V1}/sessions`, postJson(job({ surprise: true }))),
          'JOB_INVALID',
          'surprise',
        );
        await expectError(await api.request(`${V1}/sessions`, postJson([job()])), 'JOB_INVALID');
      });

      it('answers malformed JSON, other media types and oversized bodies with 4xx', async () => {
        const headers = { 'content-type': 'application/json' };
        await expectError(
          await api.request(`${V1}/sessions`, { method: 'POST', headers, body: '{"task":' }),
          'REQUEST_INVALID',
        );
        const empty = await expectError(
          await api.request(`${V1}/sessions`, { method: 'POST', headers, body: '' }),
          'REQUEST_INVALID',
          '(body)',
        );
        expect(empty.message).toBe('the body is empty; this route takes a JSON object');
        await expectError(
          await api.request(`${V1}/sessions`, {
            method: 'POST',
            headers: { 'content-type': 'text/plain' },
            body: JSON.stringify(job()),
          }),
          'MEDIA_TYPE_UNSUPPORTED',
        );
        await expectError(
          await api.request(`${V1}/sessions`, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: 'task=x',
          }),
          'MEDIA_TYPE_UNSUPPORTED',
        );
        await expectError(
          await api.request(`${V1}/sessions`, postJson(job({ task: 'x'.repeat(70 * 1024) }))),
          'PAYLOAD_TOO_LARGE',
        );
      });

      it('refuses text the database cannot store faithfully, and deep nesting', async () => {
        await expectError(
          await api.request(`${V1}/sessions`, postJson(job({ task: 'nul \u0000 inside' }))),
          'JOB_INVALID',
          'task',
        );
        await expectError(
          await api.request(`${V1}/sessions`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: '{"task":"lone \\ud800","repo":"r","agent":"a"}',
          }),
          'JOB_INVALID',
          'task',
        );
        // Written as text: the deep value is what the server must survive, not the test.
        const deep = `${'['.repeat(10_000)}${']'.repeat(10_000)}`;
        const body = await expectError(
          await api.request(`${V1}/sessions`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: `{"task":"t","repo":"r","agent":"a","agentInput":${deep}}`,
          }),
          'JOB_INVALID',
        );
        expect(String(body.details.field)).toMatch(/^agentInput\.0\.0/);
        await expectError(
          await api.request(`${V1}/tokens`, postJson({ name: 'a\u0000', role: 'viewer' })),
          'REQUEST_INVALID',
          'name',
        );
        for (const filter of ['repo', 'agent', 'label', 'requester']) {
          await expectError(
            await api.request(`${V1}/sessions?${filter}=a%00b`),
            'REQUEST_INVALID',
            filter,
          );
        }
      });

      it('answers 503 SERVER_UNAVAILABLE while the control plane is not accepting', async () => {
        api.controlPlane.accepting_ = false;
        try {
          await expectError(
            await api.request(`${V1}/sessions`, postJson(job())),
            'SERVER_UNAVAILABLE',
          );
        } finally {
          api.controlPlane.accepting_ = true;
        }
      });

      it('maps a dependency AasError through the table and hides an unknown failure', async () => {
        api.controlPlane.failWith = new AasError('STORE_UNAVAILABLE', 'database gone');
        try {
          const unavailable = await expectError(
            await api.request(`${V1}/sessions`, postJson(job())),
            'STORE_UNAVAILABLE',
          );
          // Driver messages name hosts and SQL: the client gets the code's summary only.
          expect(unavailable.message).not.toContain('database gone');
          const secretPath = '/very/secret/internal/path.ts';
          const thrown = new Error(`kaboom at ${secretPath}`);
          api.controlPlane.failWith = thrown;
          const response = await api.request(`${V1}/sessions`, postJson(job()));
          const text = await response.clone().text();
          const body = await expectError(response, 'INTERNAL');
          expect(body.message).not.toContain('kaboom');
          expect(text).not.toContain(secretPath);
          expect(text).not.toContain('at ');
          expect(typeof body.details.requestId).toBe('string');
        } finally {
          api.controlPlane.failWith = null;
        }
      });
    });

    describe('GET /sessions', () => {
      it('filters by status, repo, agent, label and requester', async () => {
        const repo = `/repos/filter-${dialect.name}`;
        const a = await submitQueued(api, { repo, agent: 'mock', labels: ['red'] });
        const b = await submitQueued(api, { repo, agent: 'other', labels: ['blue'] });
        await api.controlPlane.cancelRun(b.runId, {
          tokenId: 'tok_000000000000000000000000',
          name: 'seeder',
          role: 'operator',
        });
        const ids = async (query: string) =>
          (
            await api.json<Page<SessionBody>>(
              `${V1}/sessions?repo=${encodeURIComponent(repo)}&${query}`,
            )
          ).items.map((session) => session.id);
        expect(await ids('')).toEqual([b.sessionId, a.sessionId]);
        expect(await ids('status=queued')).toEqual([a.sessionId]);
        expect(await ids('status=cancelled')).toEqual([b.sessionId]);
        expect(await ids('agent=other')).toEqual([b.sessionId]);
        expect(await ids('label=red')).toEqual([a.sessionId]);
        expect(await ids('requester=seeder')).toEqual([b.sessionId, a.sessionId]);
        expect(await ids('requester=nobody')).toEqual([]);
      });

      it('pages newest first with an opaque cursor, without gap or duplicate', async () => {
        const repo = `/repos/paging-${dialect.name}`;
        const submitted: string[] = [];
        for (let i = 0; i < 7; i += 1)
          submitted.push((await submitQueued(api, { repo })).sessionId);
        const seen: string[] = [];
        let cursor: string | null = null;
        let pages = 0;
        do {
          const query: string = `repo=${encodeURIComponent(repo)}&limit=3${cursor ? `&cursor=${cursor}` : ''}`;
          const page: Page<SessionBody> = await api.json(`${V1}/sessions?${query}`);
          seen.push(...page.items.map((session) => session.id));
          cursor = page.nextCursor;
          pages += 1;
        } while (cursor !== null);
        expect(pages).toBe(3);
        expect(seen).toEqual([...submitted].reverse());
      });

      it('defaults to 50 and refuses bad cursors, limits, statuses and unknown parameters', async () => {
        const page = await api.json<Page<SessionBody>>(`${V1}/sessions`);
        expect(page.items.length).toBeLessThanOrEqual(50);
        for (const cursor of [
          'abc',
          'c2VzX25vdA',
          Buffer.from('run_000000000000000000000000').toString('base64url'),
        ]) {
          await expectError(
            await api.request(`${V1}/sessions?cursor=${cursor}`),
            'REQUEST_INVALID',
            'cursor',
          );
        }
        for (const limit of ['0', '201', '-1', 'ten', '1.5', '']) {
          await expectError(
            await api.request(`${V1}/sessions?limit=${limit}`),
            'REQUEST_INVALID',
            'limit',
          );
        }
        await expectError(
          await api.request(`${V1}/sessions?status=sleeping`),
          'REQUEST_INVALID',
          'status',
        );
        await expectError(
          await api.request(`${V1}/sessions?order=asc`),
          'REQUEST_INVALID',
          'order',
        );
        await expectError(
          await api.request(`${V1}/sessions?repo=a&repo=b`),
          'REQUEST_INVALID',
          'repo',
        );
      });
    });

    describe('GET /sessions/{id} and its events', () => {
      it('returns the session with its runs', async () => {
        const body = await api.json<{
          session: SessionBody;
          runs: { id: string; status: string }[];
        }>(`${V1}/sessions/${seeded.sessionId}`);
        expect(body.session.id).toBe(seeded.sessionId);
        expect(body.runs.map((run) => [run.id, run.status])).toEqual([
          [seeded.runId, 'ready_for_promotion'],
        ]);
      });

      it('reports the model spend of the session and of each run', async () => {
        const { sessionId, runId } = await submitQueued(api);
        const call = (costUsd: number, refused: 'budget' | null = null) =>
          sessionEvent('agent.usage', {
            runId,
            attempt: 1,
            provider: 'openai',
            api: 'responses',
            model: 'gpt-5',
            status: refused === null ? 200 : 429,
            stream: true,
            inputTokens: refused === null ? 200 : 0,
            outputTokens: refused === null ? 80 : 0,
            cachedInputTokens: refused === null ? 50 : 0,
            costUsd,
            latencyMs: 5,
            refused,
          });
        await new SessionRecorder(api, sessionId, 'runner-1').append(
          call(0.25),
          call(0.5),
          call(0, 'budget'),
        );
        const expected = {
          calls: 2,
          inputTokens: 400,
          outputTokens: 160,
          cachedInputTokens: 100,
          costUsd: 0.75,
        };
        const body = await api.json<{ spend: unknown }>(`${V1}/sessions/${sessionId}`);
        expect(body.spend).toEqual({ total: expected, runs: [{ runId, spend: expected }] });
        const run = await api.json<{ spend: unknown }>(`${V1}/runs/${runId}`);
        expect(run.spend).toEqual(expected);
        const untouched = await api.json<{ spend: { total: { calls: number } } }>(
          `${V1}/sessions/${seeded.sessionId}`,
        );
        expect(untouched.spend.total.calls).toBe(0);
      });

      it('answers 404 for an unknown id and 400 for a malformed one', async () => {
        await expectError(await api.request(`${V1}/sessions/ses_${'0'.repeat(24)}`), 'NOT_FOUND');
        for (const id of [
          'nope',
          `run_${'0'.repeat(24)}`,
          `ses_${'G'.repeat(24)}`,
          '..%2F..%2Fetc',
        ]) {
          await expectError(await api.request(`${V1}/sessions/${id}`), 'REQUEST_INVALID', 'id');
        }
      });

      it('pages events by seq with nextAfter', async () => {
        const all = await api.store.readEvents(seeded.sessionId);
        expect(all.length).toBeGreaterThan(4);
        const seqs: number[] = [];
        let after: number | null = 0;
        while (after !== null) {
          const page: { items: { seq: number; hash: string }[]; nextAfter: number | null } =
            await api.json(`${V1}/sessions/${seeded.sessionId}/events?after=${after}&limit=2`);
          seqs.push(...page.items.map((event) => event.seq));
          after = page.nextAfter;
        }
        expect(seqs).toEqual(all.map((event) => event.seq));
        const whole = await api.json<{ items: { hash: string }[]; nextAfter: number | null }>(
          `${V1}/sessions/${seeded.sessionId}/events`,
        );
        expect(whole.items.map((event) => event.hash)).toEqual(all.map((event) => event.hash));
        expect(whole.nextAfter).toBeNull();
      });

      it('refuses bad event queries and unknown sessions', async () => {
        const base = `${V1}/sessions/${seeded.sessionId}/events`;
        for (const after of ['-1', 'x', '1e400']) {
          await expectError(
            await api.request(`${base}?after=${after}`),
            'REQUEST_INVALID',
            'after',
          );
        }
        for (const limit of ['0', '1001']) {
          await expectError(
            await api.request(`${base}?limit=${limit}`),
            'REQUEST_INVALID',
            'limit',
          );
        }
        await expectError(
          await api.request(`${V1}/sessions/ses_${'0'.repeat(24)}/events`),
          'NOT_FOUND',
        );
      });
    });

    describe('GET /runs/{id}, its patch and its logs', () => {
      it('returns the run, its attempts and the names of the logs that exist', async () => {
        const body = await api.json<{
          run: { id: string; patchSha256: string | null };
          attempts: { number: number; status: string }[];
          logs: string[];
        }>(`${V1}/runs/${seeded.runId}`);
        expect(body.run.id).toBe(seeded.runId);
        expect(body.attempts.map((attempt) => [attempt.number, attempt.status])).toEqual([
          [1, 'failed'],
          [2, 'succeeded'],
        ]);
        expect(body.logs).toEqual([
          '1.stdout.log',
          '1.stderr.log',
          '1.validator-1.stderr.log',
          '1.validator-1.stdout.log',
          '2.stdout.log',
          '2.stderr.log',
          '2.validator-1.stderr.log',
          '2.validator-1.stdout.log',
        ]);
      });

      it('serves the patch as text/x-diff', async () => {
        const response = await api.request(`${V1}/runs/${seeded.runId}/patch`);
        expect(response.status).toBe(200);
        expect(response.headers.get('content-type')).toMatch(/^text\/x-diff/);
        expect(response.headers.get('x-content-type-options')).toBe('nosniff');
        expect(await response.text()).toBe(seeded.patch);
      });

      it('answers 404 for a run without a patch and for a patch no longer stored', async () => {
        const queued = await submitQueued(api);
        await expectError(await api.request(`${V1}/runs/${queued.runId}/patch`), 'NOT_FOUND');
        const other = await seedFinishedRun(api);
        const run = await api.store.getRun(other.runId);
        // Both seeded runs share one content-addressed patch: remove it only after the first read.
        rmSync(join(api.paths.artifacts, `${run?.patchSha256}.patch`));
        await expectError(await api.request(`${V1}/runs/${other.runId}/patch`), 'NOT_FOUND');
        writeFileSync(join(api.paths.artifacts, `${run?.patchSha256}.patch`), seeded.patch);
      });

      it('serves every listed log as text/plain', async () => {
        for (const [name, content] of Object.entries(seeded.logs)) {
          const response = await api.request(`${V1}/runs/${seeded.runId}/logs/${name}`);
          expect(response.status, name).toBe(200);
          expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
          expect(await response.text()).toBe(content);
        }
      });

      it('refuses names outside the pattern and unknown attempts or files', async () => {
        const base = `${V1}/runs/${seeded.runId}/logs`;
        for (const name of [
          'stdout.log',
          '0.stdout.log',
          '1.aep.log',
          '1.validator-0.stdout.log',
          '1.validator-1.stdout',
          '..%2F..%2Fsummary.json',
          '1.stdout.log.bak',
          '%2Fetc%2Fpasswd',
        ]) {
          await expectError(await api.request(`${base}/${name}`), 'REQUEST_INVALID', 'name');
        }
        await expectError(await api.request(`${base}/3.stdout.log`), 'NOT_FOUND', 'name');
        await expectError(
          await api.request(`${base}/1.validator-2.stdout.log`),
          'NOT_FOUND',
          'name',
        );
        await expectError(
          await api.request(`${V1}/runs/run_${'0'.repeat(24)}/logs/1.stdout.log`),
          'NOT_FOUND',
        );
      });

      it('never follows a symlink and never opens a FIFO', async () => {
        const run = await seedFinishedRun(api);
        const runDir = join(api.paths.runs, run.runId);
        const outside = join(api.paths.runs, 'outside.txt');
        writeFileSync(outside, 'not a log\n');
        // The agent log of attempt 1 replaced by a symlink; the validators dir of attempt 1 too.
        rmSync(join(runDir, 'attempt-1', 'stdout.log'));
        symlinkSync(outside, join(runDir, 'attempt-1', 'stdout.log'));
        rmSync(join(runDir, 'attempt-1', 'validators'), { recursive: true });
        mkdirSync(join(api.paths.runs, 'elsewhere'));
        writeFileSync(join(api.paths.runs, 'elsewhere', 'validator-1.stdout.log'), 'planted\n');
        symlinkSync(join(api.paths.runs, 'elsewhere'), join(runDir, 'attempt-1', 'validators'));
        // Attempt 2's whole directory is a symlink to a real-looking directory.
        rmSync(join(runDir, 'attempt-2'), { recursive: true });
        mkdirSync(join(api.paths.runs, 'fake-attempt'));
        writeFileSync(join(api.paths.runs, 'fake-attempt', 'stdout.log'), 'planted\n');
        symlinkSync(join(api.paths.runs, 'fake-attempt'), join(runDir, 'attempt-2'));
        const logsOf = await api.json<{ logs: string[] }>(`${V1}/runs/${run.runId}`);
        expect(logsOf.logs).toEqual(['1.stderr.log']);
        for (const name of ['1.stdout.log', '1.validator-1.stdout.log', '2.stdout.log']) {
          await expectError(
            await api.request(`${V1}/runs/${run.runId}/logs/${name}`),
            'NOT_FOUND',
            'name',
          );
        }
        rmSync(join(runDir, 'attempt-1', 'stderr.log'));
        execFileSync('mkfifo', [join(runDir, 'attempt-1', 'stderr.log')]);
        await expectError(
          await api.request(`${V1}/runs/${run.runId}/logs/1.stderr.log`),
          'NOT_FOUND',
          'name',
        );
      });

      it('answers 404 for an unknown run and 400 for a malformed id', async () => {
        const unknown = `run_${'0'.repeat(24)}`;
        await expectError(await api.request(`${V1}/runs/${unknown}`), 'NOT_FOUND');
        await expectError(await api.request(`${V1}/runs/${unknown}/patch`), 'NOT_FOUND');
        await expectError(
          await api.request(`${V1}/runs/${seeded.sessionId}`),
          'REQUEST_INVALID',
          'id',
        );
      });
    });

    describe('POST /runs/{id}/cancel', () => {
      it('cancels a queued run at once and records who asked', async () => {
        const queued = await submitQueued(api);
        const response = await api.request(`${V1}/runs/${queued.runId}/cancel`, {
          method: 'POST',
          secret: api.secrets.operator,
        });
        expect(response.status).toBe(202);
        expect(await response.json()).toEqual({
          runId: queued.runId,
          outcome: 'cancelled',
          status: 'cancelled',
        });
        const events = await api.store.readEvents(queued.sessionId);
        expect(events.map((event) => event.type)).toContain('run.cancel.requested');
        expect(events.at(-1)?.actor).toMatch(/^operator-/);
      });

      it('asks a running run to stop', async () => {
        const queued = await submitQueued(api);
        await api.store.updateRun({
          runId: queued.runId,
          changes: { status: 'running', leaseOwner: 'w', leaseExpiresAt: api.clock.nowIso() },
          events: [],
        });
        const response = await api.request(`${V1}/runs/${queued.runId}/cancel`, { method: 'POST' });
        expect(response.status).toBe(202);
        expect(await response.json()).toMatchObject({
          outcome: 'cancel_requested',
          status: 'running',
        });
        expect((await api.store.getRun(queued.runId))?.cancelRequestedAt).not.toBeNull();
      });

      it('answers 409 for a finished run and 404 for an unknown one', async () => {
        await expectError(
          await api.request(`${V1}/runs/${seeded.runId}/cancel`, { method: 'POST' }),
          'CONFLICT',
        );
        await expectError(
          await api.request(`${V1}/runs/run_${'0'.repeat(24)}/cancel`, { method: 'POST' }),
          'NOT_FOUND',
        );
      });

      it('takes no body: one saying something is refused, and nothing is cancelled', async () => {
        const queued = await submitQueued(api);
        const post = (body: string) =>
          api.request(`${V1}/runs/${queued.runId}/cancel`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body,
          });
        for (const body of ['{"reason":"x"}', '[]', '"stop"']) {
          await expectError(await post(body), 'REQUEST_INVALID', '(body)');
        }
        expect((await api.store.getRun(queued.runId))?.status).toBe('queued');
        expect((await post('{}')).status).toBe(202);
      });
    });

    describe('tokens', () => {
      it('issues a token whose secret works at once and is never listed', async () => {
        const response = await api.request(
          `${V1}/tokens`,
          postJson({ name: `ci-${dialect.name}`, role: 'viewer' }),
        );
        expect(response.status).toBe(201);
        const body = (await response.json()) as {
          token: { id: string; name: string; role: string; createdBy: string };
          secret: string;
        };
        expect(body.secret).toMatch(/^aas_[A-Za-z0-9_-]{43}$/);
        expect(body.token.createdBy).toMatch(/^admin-/);
        const whoami = await api.json<{ name: string; role: string }>(`${V1}/whoami`, {
          secret: body.secret,
        });
        expect(whoami).toEqual({
          tokenId: body.token.id,
          name: `ci-${dialect.name}`,
          role: 'viewer',
        });
        const listing = await (await api.request(`${V1}/tokens`)).text();
        expect(listing).toContain(body.token.id);
        expect(listing).not.toContain(body.secret);
        expect(listing).not.toContain(hashTokenSecret(body.secret));
        expect(listing).not.toMatch(/secret/i);
      });

      it('refuses a taken name, a bad name, a bad role and unknown fields', async () => {
        await api.json(`${V1}/tokens`, postJson({ name: 'taken', role: 'viewer' }));
        await expectError(
          await api.request(`${V1}/tokens`, postJson({ name: 'taken', role: 'admin' })),
          'NAME_TAKEN',
        );
        await expectError(
          await api.request(`${V1}/tokens`, postJson({ name: 'Bad Name', role: 'viewer' })),
          'REQUEST_INVALID',
          'name',
        );
        await expectError(
          await api.request(`${V1}/tokens`, postJson({ name: 'ok', role: 'root' })),
          'REQUEST_INVALID',
          'role',
        );
        await expectError(
          await api.request(`${V1}/tokens`, postJson({ name: 'ok', role: 'viewer', secret: 'x' })),
          'REQUEST_INVALID',
          'secret',
        );
      });

      it('revokes by name or id; a revoked token fails on its very next request', async () => {
        const issued = await api.json<{ token: { id: string }; secret: string }>(
          `${V1}/tokens`,
          postJson({ name: 'short-lived', role: 'operator' }),
        );
        expect((await api.request(`${V1}/whoami`, { secret: issued.secret })).status).toBe(200);
        const revoked = await api.json<{ revokedAt: string | null }>(`${V1}/tokens/short-lived`, {
          method: 'DELETE',
        });
        expect(revoked.revokedAt).not.toBeNull();
        const response = await api.request(`${V1}/whoami`, { secret: issued.secret });
        expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
        await expectError(response, 'UNAUTHENTICATED');
        const again = await api.json<{ revokedAt: string | null }>(
          `${V1}/tokens/${issued.token.id}`,
          { method: 'DELETE' },
        );
        expect(again.revokedAt).toBe(revoked.revokedAt);
        await expectError(
          await api.request(`${V1}/tokens/no-such-token`, { method: 'DELETE' }),
          'NOT_FOUND',
        );
        await expectError(
          await api.request(`${V1}/tokens/Not%20A%20Name`, { method: 'DELETE' }),
          'REQUEST_INVALID',
          'idOrName',
        );
      });

      it('unknown and revoked tokens get the same answer', async () => {
        const unknown = await api.request(`${V1}/whoami`, { secret: newTokenSecret() });
        const revoked = await api.request(`${V1}/whoami`, { secret: api.revokedSecret });
        expect(await unknown.json()).toEqual(await revoked.json());
        expect(unknown.status).toBe(401);
      });

      it('issueToken validates its input and accepts a provisioned secret', async () => {
        const attempt = async (input: { name: string; role: string; secret?: string }) =>
          issueToken(api.store, api.clock, {
            ...input,
            role: input.role as 'viewer',
            createdBy: 'test',
          }).then(
            () => null,
            (error: unknown) => (isAasError(error) ? [error.code, error.details.field] : error),
          );
        expect(await attempt({ name: '-bad', role: 'viewer' })).toEqual([
          'INVALID_ARGUMENT',
          'name',
        ]);
        expect(await attempt({ name: 'fine', role: 'root' })).toEqual(['INVALID_ARGUMENT', 'role']);
        // Remote workers get credentials of their own.
        expect(await attempt({ name: 'fine', role: 'worker' })).toEqual([
          'INVALID_ARGUMENT',
          'role',
        ]);
        expect(await attempt({ name: 'fine', role: 'viewer', secret: 'aas_short' })).toEqual([
          'INVALID_ARGUMENT',
          'secret',
        ]);
        const secret = `aas_${'k'.repeat(40)}`;
        const issued = await issueToken(api.store, api.clock, {
          name: `provisioned-${dialect.name}`,
          role: 'viewer',
          createdBy: 'test',
          secret,
        });
        expect(issued.secret).toBe(secret);
        expect((await api.request(`${V1}/whoami`, { secret })).status).toBe(200);
      });
    });

    describe('workers, whoami, health, metrics, unknown routes', () => {
      it('lists the control plane workers', async () => {
        api.controlPlane.workerList = [
          {
            id: 'worker-1',
            state: 'busy',
            runId: seeded.runId,
            fencingToken: 3,
            leaseExpiresAt: api.clock.nowIso(),
            lastHeartbeatAt: api.clock.nowIso(),
            labels: ['linux', 'gpu'],
          },
          {
            id: 'worker-2',
            state: 'draining',
            runId: null,
            fencingToken: null,
            leaseExpiresAt: null,
            lastHeartbeatAt: null,
            labels: [],
          },
        ];
        const body = await api.json<{ items: { id: string; kind: string; state: string }[] }>(
          `${V1}/workers`,
          { secret: api.secrets.viewer },
        );
        // Embedded first (states mapped to the common vocabulary), then the remote ones.
        expect(body.items.slice(0, 2)).toEqual([
          expect.objectContaining({
            id: 'worker-1',
            kind: 'embedded',
            state: 'busy',
            labels: ['linux', 'gpu'],
            lastSeenAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
          }),
          expect.objectContaining({ id: 'worker-2', kind: 'embedded', state: 'draining' }),
        ]);
        expect(body.items.slice(2)).toEqual([
          expect.objectContaining({ id: api.workerId, kind: 'remote', state: 'online' }),
        ]);
        const health = await api.json<unknown>(`${V1}/health`, { secret: null });
        expect(health).toEqual({
          status: 'ok',
          database: { ok: true, dialect: dialect.name },
          workers: { total: 2, busy: 1, draining: 1 },
        });
        api.controlPlane.workerList = [];
      });

      it('whoami returns the identity', async () => {
        const me = await api.json<{ role: string; name: string }>(`${V1}/whoami`, {
          secret: api.secrets.approver,
        });
        expect(me.role).toBe('approver');
        expect(me.name).toMatch(/^approver-/);
      });

      it('health answers 503 degraded when the database does not', async () => {
        const broken = await fixture.openAnother();
        const other = await startApi(fixture, { store: broken });
        try {
          await broken.close();
          const response = await other.request(`${V1}/health`, { secret: null });
          expect(response.status).toBe(503);
          const body = (await response.json()) as { status: string; database: { ok: boolean } };
          expect(body.status).toBe('degraded');
          expect(body.database.ok).toBe(false);
        } finally {
          await other.close();
        }
      });

      it('metrics count runs, lease expiries, gate verdicts and requests by route pattern', async () => {
        const before = await (await api.request(`${V1}/metrics`)).text();
        const counter = (text: string, name: string) =>
          Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? 'NaN');
        // One requeued expiry, as the queue records it: run.interrupted and run.requeued in one
        // write. It is one expiry.
        api.bus.publish([
          { ...fakeEvent('run.interrupted'), seq: 1 },
          { ...fakeEvent('run.requeued'), seq: 2 },
          { ...fakeEvent('gate.failed'), seq: 3 },
          { ...fakeEvent('run.completed'), seq: 4 },
          { ...fakeEvent('run.interrupted'), seq: 5 },
          // A graceful give-back on shutdown is not an expiry.
          { ...fakeEvent('run.interrupted'), seq: 6, data: { cause: 'released' } },
          { ...fakeEvent('run.interrupted'), seq: 7, data: { cause: 'lease_expired' } },
        ]);
        await api.request(`${V1}/sessions/${seeded.sessionId}`);
        const after = await (await api.request(`${V1}/metrics`)).text();
        expect(
          counter(after, 'aas_lease_expiries_total') - counter(before, 'aas_lease_expiries_total'),
        ).toBe(3);
        expect(
          counter(after, 'aas_gate_verdicts_total\\{verdict="failed"\\}') -
            counter(before, 'aas_gate_verdicts_total\\{verdict="failed"\\}'),
        ).toBe(1);
        const counts = await api.store.countRunsByStatus();
        expect(counter(after, 'aas_runs\\{status="queued"\\}')).toBe(counts.queued);
        expect(counter(after, 'aas_queue_depth')).toBe(counts.queued);
        expect(after).toMatch(
          /aas_http_request_duration_seconds_count\{method="GET",route="\/api\/v1\/sessions\/:id",status="200"\} \d+/,
        );
        expect(after).not.toContain(seeded.sessionId);
      });

      it('metrics count model calls, tokens, cost and spent budgets from the events', async () => {
        const before = await (await api.request(`${V1}/metrics`)).text();
        const value = (text: string, series: string) =>
          Number(
            text
              .split('\n')
              .find((line) => line.startsWith(`${series} `))
              ?.slice(series.length + 1) ?? '0',
          );
        const usage = (data: Record<string, unknown>) => ({
          ...fakeEvent('agent.usage'),
          data: {
            provider: 'anthropic',
            model: 'claude-opus-4-1',
            status: 200,
            inputTokens: 1_000,
            outputTokens: 100,
            cachedInputTokens: 400,
            costUsd: 0.05,
            refused: null,
            ...data,
          },
        });
        api.bus.publish([
          { ...usage({}), seq: 1 },
          {
            ...usage({
              status: 429,
              inputTokens: 0,
              outputTokens: 0,
              cachedInputTokens: 0,
              costUsd: 0,
              refused: 'budget',
            }),
            seq: 2,
          },
          { ...fakeEvent('budget.exceeded'), seq: 3, data: { scope: 'session' } },
          // Recorded before budgets had scopes: the run's.
          { ...fakeEvent('budget.exceeded'), seq: 4, data: {} },
        ]);
        const after = await (await api.request(`${V1}/metrics`)).text();
        const delta = (series: string) => value(after, series) - value(before, series);
        const calls = 'aas_model_calls_total{provider="anthropic",model="claude-opus-4-1"';
        expect(delta(`${calls},status="200"}`)).toBe(1);
        expect(delta(`${calls},status="429"}`)).toBe(1);
        expect(delta('aas_model_tokens_total{provider="anthropic",direction="input"}')).toBe(1_000);
        expect(delta('aas_model_tokens_total{provider="anthropic",direction="output"}')).toBe(100);
        expect(delta('aas_model_tokens_total{provider="anthropic",direction="cached_input"}')).toBe(
          400,
        );
        expect(delta('aas_model_cost_usd_total{provider="anthropic"}')).toBeCloseTo(0.05, 9);
        expect(delta('aas_budget_exceeded_total{scope="session"}')).toBe(1);
        expect(delta('aas_budget_exceeded_total{scope="run"}')).toBe(1);
        expect(after).toContain('aas_budget_exceeded_total{scope="repository-day"}');
      });

      it('answers unknown routes with 404 NOT_FOUND', async () => {
        await expectError(await api.request('/nowhere'), 'NOT_FOUND');
        await expectError(
          await api.request(`${V1}/sessions/${seeded.sessionId}/nope`),
          'NOT_FOUND',
        );
        await expectError(await api.request(`${V1}/%E0%A4%A`), 'REQUEST_INVALID');
      });

      it('answers a known path asked with another method with 405 and the methods it takes', async () => {
        const put = await api.request(`${V1}/whoami`, { method: 'PUT' });
        expect(put.headers.get('allow')).toBe('GET, HEAD');
        await expectError(put, 'METHOD_NOT_ALLOWED');
        // A path with parameters, and one route of several methods.
        const patch = await api.request(`${V1}/sessions/${seeded.sessionId}`, {
          method: 'PATCH',
        });
        expect(patch.headers.get('allow')).toBe('GET, HEAD');
        await expectError(patch, 'METHOD_NOT_ALLOWED');
        const get = await api.request(`${V1}/runs/${seeded.runId}/cancel?x=1`);
        expect(get.headers.get('allow')).toBe('POST');
        await expectError(get, 'METHOD_NOT_ALLOWED');
      });
    });
  });
}

/** An event as the bus carries it; only its type matters to the counters. */
function fakeEvent(type: string): Omit<StoredEvent, 'seq'> {
  return {
    type,
    sessionId: 'ses_000000000000000000000000',
    at: '2026-03-01T00:00:00.000Z',
    actor: 'test',
    data: {},
    prevHash: '',
    hash: '',
  };
}

describe.runIf(POSTGRES_REQUIRED)('PostgreSQL requirement (AAS_REQUIRE_POSTGRES=1)', () => {
  it('reaches PostgreSQL', () => {
    expect(dialects.find((d) => d.name === 'postgres')?.unavailableReason).toBeUndefined();
  });
});
