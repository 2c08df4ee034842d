import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mergePolicy } from '../../src/policy/index.js';
import { SessionRecorder, sessionEvent } from '../../src/sessions/index.js';
import type { Store } from '../../src/store/index.js';
import { type StoreFixture, storeDialects } from '../store/dialects.js';
import {
  expectError,
  job,
  REPO_LAYER,
  type RunningApi,
  recordPolicyResolved,
  type SeededRun,
  seedFinishedRun,
  startApi,
  submitQueued,
} from './api-fixture.js';

/**
 * The routes the admin panel reads beyond the basics: chain verification, a run's policy
 * explained, and the session list with run ids and text search. Against each real database.
 */

const dialects = await storeDialects();
const V1 = '/api/v1';

interface ListItem {
  readonly id: string;
  readonly runId: string | null;
  readonly task: string;
  readonly status: string;
}
interface Page {
  readonly items: ListItem[];
  readonly nextCursor: string | null;
}
interface Verification {
  readonly sessionId: string;
  readonly ok: boolean;
  readonly events: number;
  readonly firstBrokenSeq: number | null;
  readonly kind: string | null;
  readonly reason: string | null;
  readonly lastHash: string;
  readonly disagreements: readonly string[];
  readonly tablesChecked: boolean;
}
interface ExplainedPath {
  readonly path: string;
  readonly outcome: string;
  readonly decision: { kind: string; allowed: boolean; layer?: string; rule?: string };
  readonly runtime: { layer: string; rule: string } | null;
  readonly decidedBy: string[];
}
interface RunPolicy {
  readonly runId: string;
  readonly sessionId: string;
  readonly agentId: string;
  readonly agents: string[];
  readonly seq: number;
  readonly resolvedAt: string;
  readonly layers: { name: string; source: string }[];
  readonly values: { field: string; value: unknown; display: string; decidedBy: string[] }[];
  readonly unrecorded: string[];
  readonly paths: ExplainedPath[];
}

/**
 * A store that can append an event to a session between the verify route's two reads, as a
 * live run would: the route reads the session row first, then the events.
 */
function storeWithInterleavedAppend(inner: Store) {
  let appendTo: string | null = null;
  const store = new Proxy(inner, {
    get(target, property) {
      if (property === 'readEvents') {
        return async (...args: Parameters<Store['readEvents']>) => {
          if (appendTo !== null && args[1] === undefined) {
            const sessionId = appendTo;
            appendTo = null;
            await target.appendEvents(sessionId, [
              { type: 'agent.event', at: new Date().toISOString(), actor: 'agent', data: {} },
            ]);
          }
          return target.readEvents(...args);
        };
      }
      const value: unknown = Reflect.get(target, property);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return {
    store,
    appendBeforeNextRead(sessionId: string) {
      appendTo = sessionId;
    },
  };
}

for (const dialect of dialects) {
  describe.skipIf(!dialect.available)(`panel API: ${dialect.name}`, () => {
    let fixture: StoreFixture;
    let api: RunningApi;
    let seeded: SeededRun;
    let interleave: (sessionId: string) => void;

    beforeAll(async () => {
      fixture = await dialect.open();
      const wrapped = storeWithInterleavedAppend(fixture.store);
      interleave = wrapped.appendBeforeNextRead;
      api = await startApi(fixture, { store: wrapped.store });
      seeded = await seedFinishedRun(api);
    });
    afterAll(async () => {
      await api?.close();
      await fixture?.cleanup();
    });

    describe('GET /sessions/{id}/verify', () => {
      it('verifies an intact chain up to the head the session records', async () => {
        const session = await api.store.getSession(seeded.sessionId);
        const body = await api.json<Verification>(`${V1}/sessions/${seeded.sessionId}/verify`, {
          secret: api.secrets.viewer,
        });
        expect(body).toEqual({
          sessionId: seeded.sessionId,
          ok: true,
          events: session?.lastSeq,
          firstBrokenSeq: null,
          kind: null,
          reason: null,
          lastHash: session?.lastHash,
          disagreements: [],
          tablesChecked: true,
        });
      });

      it('holds the tables to an intact chain: a requester renamed in its row differs', async () => {
        const { sessionId } = await submitQueued(api);
        await fixture.rawQuery(
          `update sessions set requested_by = 'user:mallory' where id = '${sessionId}'`,
        );
        const body = await api.json<Verification>(`${V1}/sessions/${sessionId}/verify`);
        expect(body).toMatchObject({ ok: false, firstBrokenSeq: null, kind: null });
        expect(body.disagreements).toEqual([
          expect.stringMatching(
            /^the session's requester is user:mallory in its record but \S+ in session\.created$/,
          ),
        ]);
      });

      it('is not fooled by an event appended between its two reads', async () => {
        const { sessionId } = await submitQueued(api);
        const before = await api.store.getSession(sessionId);
        interleave(sessionId);
        const body = await api.json<Verification>(`${V1}/sessions/${sessionId}/verify`);
        // The append is no forgery, and the session is read again: the answer covers it, whole.
        const now = await api.store.getSession(sessionId);
        expect(now?.lastSeq).toBe((before?.lastSeq ?? 0) + 1);
        expect(body).toMatchObject({
          ok: true,
          disagreements: [],
          events: now?.lastSeq,
          lastHash: now?.lastHash,
        });
      });

      it('reports the first broken seq of an edited event', async () => {
        const { sessionId, runId } = await submitQueued(api);
        const recorder = new SessionRecorder(api, sessionId, 'agent');
        for (const message of ['one', 'two', 'three']) {
          await recorder.append(
            sessionEvent('agent.event', { runId, attempt: 1, type: 'log', message, data: null }),
          );
        }
        await fixture.rawQuery(
          `update events set data = '{"forged":true}' where session_id = '${sessionId}' and seq = 4`,
        );
        const body = await api.json<Verification>(`${V1}/sessions/${sessionId}/verify`);
        expect(body).toMatchObject({
          sessionId,
          ok: false,
          events: 5,
          firstBrokenSeq: 4,
          kind: 'hash-mismatch',
        });
        expect(body.reason).toMatch(/edited/);
      });

      it('reports events the head never recorded', async () => {
        const { sessionId } = await submitQueued(api);
        const [last] = await api.store.readEvents(sessionId, { afterSeq: 1 });
        await fixture.rawQuery(
          `insert into events (session_id, seq, type, at, actor, data, prev_hash, hash) values ('${sessionId}', 3, 'agent.event', '${last?.at}', 'x', '{}', '${last?.hash}', '${'0'.repeat(64)}')`,
        );
        const body = await api.json<Verification>(`${V1}/sessions/${sessionId}/verify`);
        expect(body).toMatchObject({ ok: false, events: 3, firstBrokenSeq: 3 });
        expect(body.kind).toMatch(/hash-mismatch|head-mismatch/);
      });

      it('answers 404 for an unknown session and 400 for a malformed id', async () => {
        await expectError(
          await api.request(`${V1}/sessions/ses_${'0'.repeat(24)}/verify`),
          'NOT_FOUND',
          'id',
        );
        await expectError(await api.request(`${V1}/sessions/nope/verify`), 'REQUEST_INVALID', 'id');
        await expectError(
          await api.request(`${V1}/sessions/${seeded.sessionId}/verify?x=1`),
          'REQUEST_INVALID',
          'x',
        );
      });
    });

    describe('GET /runs/{id}/policy', () => {
      it('answers NOT_FOUND with a hint while the run has no policy yet', async () => {
        const { runId } = await submitQueued(api);
        const body = await expectError(
          await api.request(`${V1}/runs/${runId}/policy`),
          'NOT_FOUND',
        );
        expect(body.details).toMatchObject({ status: 'queued' });
        expect(String(body.details.hint)).toMatch(/worker starts the run/);
      });

      it('explains the recorded policy: layers, values and who decided them, path verdicts', async () => {
        const run = await submitQueued(api);
        const [event] = await recordPolicyResolved(api, run);
        const paths = [
          'src/a.ts',
          './src//b.ts',
          'src/secret/key.txt',
          'README.md',
          'dist/app.js',
          '.env',
          '.git/config',
          '../outside',
        ];
        const query = paths.map((path) => `path=${encodeURIComponent(path)}`).join('&');
        const body = await api.json<RunPolicy>(`${V1}/runs/${run.runId}/policy?${query}`, {
          secret: api.secrets.viewer,
        });
        expect(body).toMatchObject({
          runId: run.runId,
          sessionId: run.sessionId,
          agentId: 'mock',
          agents: ['mock'],
          seq: event?.seq,
          resolvedAt: event?.at,
          layers: [
            { name: 'floor', source: 'built-in' },
            { name: 'repo', source: '.aas/policy.yaml' },
          ],
          unrecorded: [],
        });
        const values = Object.fromEntries(body.values.map((value) => [value.field, value]));
        expect(body.values).toHaveLength(24);
        expect(values['limits.timeoutSec']).toEqual({
          field: 'limits.timeoutSec',
          value: 600,
          display: '600 s',
          decidedBy: ['repo'],
        });
        expect(values['limits.maxPatchLines']).toMatchObject({ decidedBy: ['floor'] });
        expect(values.network).toMatchObject({ value: { mode: 'disabled' }, decidedBy: [] });
        expect(values['paths.allow']?.value).toEqual([
          { layer: 'repo', patterns: ['src/**', 'docs/**', 'dist/**'] },
        ]);

        const verdicts = body.paths.map((entry) => [
          entry.path,
          entry.outcome,
          entry.decision.kind,
          entry.decidedBy,
        ]);
        expect(verdicts).toEqual([
          ['src/a.ts', 'allow', 'allowed', ['repo']],
          ['src/b.ts', 'allow', 'allowed', ['repo']],
          ['src/secret/key.txt', 'deny', 'denied', ['repo']],
          ['README.md', 'deny', 'not-allowed', ['repo']],
          ['dist/app.js', 'drop', 'allowed', ['repo']],
          ['.env', 'deny', 'denied', ['floor']],
          ['.git/config', 'deny', 'git-metadata', []],
          ['../outside', 'deny', 'invalid-path', []],
        ]);
        expect(body.paths[2]?.decision).toMatchObject({ layer: 'repo', rule: 'src/secret/**' });
        expect(body.paths[4]?.runtime).toEqual({ layer: 'repo', rule: 'dist/**' });
      });

      it('explains the latest resolution and names every agent resolved for', async () => {
        const run = await submitQueued(api, { fallbackAgents: ['backup'] });
        await recordPolicyResolved(api, run, 'mock');
        const fallback = mergePolicy([
          REPO_LAYER,
          { name: 'agent:backup', source: 'manifest', layer: { paths: { allow: ['docs/**'] } } },
        ]);
        await recordPolicyResolved(api, run, 'backup', fallback);
        // A requeued run resolves again for the same agent.
        await recordPolicyResolved(api, run, 'backup', fallback);
        const body = await api.json<RunPolicy>(`${V1}/runs/${run.runId}/policy?path=src/a.ts`);
        expect(body.agentId).toBe('backup');
        expect(body.agents).toEqual(['mock', 'backup']);
        expect(body.layers.map((layer) => layer.name)).toEqual(['floor', 'repo', 'agent:backup']);
        expect(body.paths).toEqual([
          expect.objectContaining({
            path: 'src/a.ts',
            outcome: 'deny',
            decision: expect.objectContaining({ kind: 'not-allowed', layer: 'agent:backup' }),
            decidedBy: ['agent:backup'],
          }),
        ]);
        // Another run's resolutions in the same history never leak in.
        const other = await submitQueued(api);
        await expectError(await api.request(`${V1}/runs/${other.runId}/policy`), 'NOT_FOUND');
      });

      it('reports the fields an older version did not record instead of inventing them', async () => {
        const run = await submitQueued(api);
        const old = JSON.parse(JSON.stringify(mergePolicy([REPO_LAYER]))) as {
          limits: Record<string, unknown>;
          decidedBy: Record<string, unknown>;
        };
        delete old.limits.cpuSec;
        delete old.decidedBy['limits.cpuSec'];
        await recordPolicyResolved(api, run, 'mock', old);
        const body = await api.json<RunPolicy>(`${V1}/runs/${run.runId}/policy?path=.env`);
        expect(body.unrecorded).toEqual(['limits.cpuSec']);
        expect(body.values.map((value) => value.field)).not.toContain('limits.cpuSec');
        expect(body.values).toHaveLength(23);
        expect(body.paths[0]).toMatchObject({ outcome: 'deny', decidedBy: ['floor'] });
      });

      it('answers an unreadable record with INTERNAL, its details in the log only', async () => {
        const run = await submitQueued(api);
        await recordPolicyResolved(api, run, 'mock', { version: 1, paths: 'everything' });
        const body = await expectError(
          await api.request(`${V1}/runs/${run.runId}/policy`),
          'INTERNAL',
        );
        expect(JSON.stringify(body)).not.toMatch(/everything|paths/);
      });

      it('refuses bad paths parameters and answers 404 for an unknown run', async () => {
        const run = seeded.runId;
        await recordPolicyResolved(api, seeded);
        const many = Array.from({ length: 51 }, (_, i) => `path=f${i}`).join('&');
        const tooMany = await expectError(
          await api.request(`${V1}/runs/${run}/policy?${many}`),
          'REQUEST_INVALID',
          'path',
        );
        expect(tooMany.message).toBe('at most 50 paths per request; ask for the rest in another');
        const fifty = Array.from({ length: 50 }, (_, i) => `path=f${i}`).join('&');
        const ok = await api.json<RunPolicy>(`${V1}/runs/${run}/policy?${fifty}`);
        expect(ok.paths).toHaveLength(50);
        await expectError(
          await api.request(`${V1}/runs/${run}/policy?path=${'a'.repeat(1025)}`),
          'REQUEST_INVALID',
          'path',
        );
        await expectError(
          await api.request(`${V1}/runs/${run}/policy?path=`),
          'REQUEST_INVALID',
          'path',
        );
        await expectError(
          await api.request(`${V1}/runs/${run}/policy?path=a%00b`),
          'REQUEST_INVALID',
          'path',
        );
        await expectError(
          await api.request(`${V1}/runs/${run}/policy?paths=a`),
          'REQUEST_INVALID',
          'paths',
        );
        await expectError(
          await api.request(`${V1}/runs/run_${'0'.repeat(24)}/policy`),
          'NOT_FOUND',
          'id',
        );
        await expectError(await api.request(`${V1}/runs/nope/policy`), 'REQUEST_INVALID', 'id');
      });
    });

    describe('GET /sessions: runId and q', () => {
      let tagged: { sessionId: string; runId: string }[];

      beforeAll(async () => {
        const identity = {
          tokenId: 'tok_000000000000000000000000',
          name: 'Searcher.Sam',
          role: 'operator' as const,
        };
        tagged = [];
        for (const task of ['Needle: 50% off', 'needle_case', 'needleXcase', 'NEEDLE up']) {
          tagged.push(await api.controlPlane.submitJob(job({ task }), identity));
        }
      });

      it("lists every session with its latest run's id", async () => {
        const page = await api.json<Page>(`${V1}/sessions?limit=200`);
        for (const item of page.items) {
          const runs = await api.store.listRunsForSession(item.id);
          expect(item.runId, item.id).toBe(runs.at(-1)?.id);
        }
        expect(page.items.find((item) => item.id === seeded.sessionId)?.runId).toBe(seeded.runId);
      });

      it('searches task, repo, agent and requester, literally and ignoring ASCII case', async () => {
        const ids = async (q: string) =>
          (await api.json<Page>(`${V1}/sessions?q=${encodeURIComponent(q)}`)).items.map(
            (item) => item.id,
          );
        const [percent, underscore, plain, upper] = tagged.map((t) => t.sessionId);
        expect(await ids('needle')).toEqual([upper, plain, underscore, percent]);
        expect(await ids('50%')).toEqual([percent]);
        expect(await ids('needle_')).toEqual([underscore]);
        expect(await ids('SEARCHER.sam')).toEqual([upper, plain, underscore, percent]);
        expect(await ids('/REPOS/demo')).toContain(seeded.sessionId);
        expect(await ids('MOCK')).toContain(seeded.sessionId);
        expect(await ids('no such needle')).toEqual([]);
      });

      it('pages a search with the cursor and combines it with the other filters', async () => {
        const seen: string[] = [];
        let cursor: string | null = null;
        do {
          const query: string = cursor === null ? '' : `&cursor=${cursor}`;
          const page: Page = await api.json<Page>(`${V1}/sessions?q=needle&limit=3${query}`);
          seen.push(...page.items.map((item) => item.id));
          cursor = page.nextCursor;
        } while (cursor !== null);
        expect(seen).toEqual([...tagged].reverse().map((t) => t.sessionId));
        await api.controlPlane.cancelRun(tagged[1]?.runId ?? '', {
          tokenId: 'tok_000000000000000000000000',
          name: 'x',
          role: 'operator',
        });
        const cancelled = await api.json<Page>(`${V1}/sessions?q=needle&status=cancelled`);
        expect(cancelled.items.map((item) => item.id)).toEqual([tagged[1]?.sessionId]);
        const byRequester = await api.json<Page>(
          `${V1}/sessions?q=case&requester=Searcher.Sam&limit=1`,
        );
        expect(byRequester.items.map((item) => item.id)).toEqual([tagged[2]?.sessionId]);
        expect(byRequester.nextCursor).not.toBeNull();
      });

      it('refuses an empty, oversized or unstorable q', async () => {
        for (const q of ['', 'x'.repeat(257), 'a%00b']) {
          await expectError(await api.request(`${V1}/sessions?q=${q}`), 'REQUEST_INVALID', 'q');
        }
      });
    });
  });
}
