import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { computeEventHash, GENESIS_HASH, isAasError } from '../../src/kernel/index.js';
import type {
  NewEvent,
  RunRecord,
  SessionRecord,
  Store,
  StoredEvent,
} from '../../src/store/index.js';
import { POSTGRES_REQUIRED, type StoreFixture, storeDialects } from './dialects.js';

/**
 * One suite, run against every dialect: the store's behaviour is defined here, not by either
 * implementation. Real databases only.
 */

const T0_MS = Date.parse('2026-01-01T00:00:00.000Z');
const at = (offsetMs: number) => new Date(T0_MS + offsetMs).toISOString();

const sessionId = (n: number) => `ses_${n.toString(16).padStart(24, '0')}`;
const runId = (n: number) => `run_${n.toString(16).padStart(24, '0')}`;
const attemptId = (n: number) => `att_${n.toString(16).padStart(24, '0')}`;

function event(type: string, offsetMs: number, data: unknown = {}): NewEvent {
  return { type, at: at(offsetMs), actor: 'tester', data };
}

function events(count: number, fromOffsetMs = 0, type = 'agent.output'): NewEvent[] {
  return Array.from({ length: count }, (_, i) => event(type, fromOffsetMs + i, { i }));
}

async function createSession(
  store: Store,
  n: number,
  options: { events?: readonly NewEvent[]; createdAtMs?: number; labels?: string[] } = {},
): Promise<StoredEvent[]> {
  const createdAt = at(options.createdAtMs ?? n * 1_000);
  return store.createSession({
    session: {
      id: sessionId(n),
      createdAt,
      task: `task ${n}`,
      repo: '/repos/demo',
      agent: 'mock',
      requestedBy: 'alice',
      labels: options.labels ?? ['demo'],
    },
    run: { id: runId(n), createdAt, jobSpec: { task: `task ${n}`, limits: { seconds: 60 } } },
    events: options.events ?? [event('session.created', n * 1_000, { n })],
  });
}

/** Recomputes the chain from genesis: seq 1..n, each prevHash the previous hash, each hash valid. */
function expectValidChain(chain: readonly StoredEvent[], session: SessionRecord | null): void {
  let prevHash = GENESIS_HASH;
  chain.forEach((stored, index) => {
    expect(stored.seq).toBe(index + 1);
    expect(stored.prevHash).toBe(prevHash);
    expect(computeEventHash(stored)).toBe(stored.hash);
    prevHash = stored.hash;
  });
  expect(session?.lastSeq).toBe(chain.length);
  expect(session?.lastHash).toBe(prevHash);
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  const outcome = await promise.then(
    () => new Error(`expected ${code}, but the call succeeded`),
    (error: unknown) => error,
  );
  expect(isAasError(outcome) ? outcome.code : outcome).toBe(code);
}

const dialects = await storeDialects();

for (const dialect of dialects) {
  describe.skipIf(!dialect.available)(`store conformance: ${dialect.name}`, () => {
    let fixture: StoreFixture;
    let store: Store;

    beforeEach(async () => {
      fixture = await dialect.open();
      store = fixture.store;
    });

    afterEach(async () => {
      await fixture.cleanup();
    });

    it('reports its dialect', () => {
      expect(store.dialect).toBe(dialect.name);
    });

    describe('sessions and runs', () => {
      it('creates a session with its queued run and first events', async () => {
        const created = await createSession(store, 1, {
          events: [event('session.created', 10, { task: 'x' }), event('run.queued', 20)],
          labels: ['a', 'b'],
        });
        const session = await store.getSession(sessionId(1));
        expect(session).toEqual({
          id: sessionId(1),
          createdAt: at(1_000),
          updatedAt: at(20),
          task: 'task 1',
          repo: '/repos/demo',
          agent: 'mock',
          requestedBy: 'alice',
          labels: ['a', 'b'],
          status: 'queued',
          reasonCode: null,
          lastSeq: 2,
          lastHash: created[1]?.hash ?? 'missing',
        } satisfies SessionRecord);
        expect(created.map((e) => e.seq)).toEqual([1, 2]);
        expect(await store.readEvents(sessionId(1))).toEqual(created);
        expectValidChain(created, session);

        const run = await store.getRun(runId(1));
        expect(run).toEqual({
          id: runId(1),
          sessionId: sessionId(1),
          status: 'queued',
          reasonCode: null,
          reasonDetail: null,
          jobSpec: { task: 'task 1', limits: { seconds: 60 } },
          baseRef: null,
          baseCommit: null,
          patchSha256: null,
          summary: null,
          createdAt: at(1_000),
          updatedAt: at(1_000),
          startedAt: null,
          finishedAt: null,
          leaseOwner: null,
          leaseExpiresAt: null,
          version: 1,
          repo: '/repos/demo',
          priority: 0,
          fencingToken: 0,
          claimCount: 0,
          maxClaims: 1,
          renewedFencingToken: null,
          unacknowledgedClaims: 0,
          notBefore: null,
          cancelRequestedAt: null,
          cancelRequestedBy: null,
        } satisfies RunRecord);
        expect(await store.listRunsForSession(sessionId(1))).toEqual([run]);
      });

      it('creates a session without events at the genesis head', async () => {
        expect(await createSession(store, 1, { events: [] })).toEqual([]);
        const session = await store.getSession(sessionId(1));
        expect(session?.lastSeq).toBe(0);
        expect(session?.lastHash).toBe(GENESIS_HASH);
        expect(session?.updatedAt).toBe(session?.createdAt);
        expect(await store.readEvents(sessionId(1))).toEqual([]);
      });

      it('rejects a duplicate session id with CONFLICT and changes nothing', async () => {
        await createSession(store, 1);
        const before = await store.getSession(sessionId(1));
        await expectCode(
          store.createSession({
            session: {
              id: sessionId(1),
              createdAt: at(5),
              task: 'other',
              repo: '/r',
              agent: 'mock',
              requestedBy: 'bob',
              labels: [],
            },
            run: { id: runId(99), createdAt: at(5), jobSpec: {} },
            events: [event('session.created', 5)],
          }),
          'CONFLICT',
        );
        expect(await store.getSession(sessionId(1))).toEqual(before);
        expect(await store.getRun(runId(99))).toBeNull();
        expect(await store.readEvents(sessionId(1))).toHaveLength(1);
      });

      it('returns null for unknown sessions and runs', async () => {
        expect(await store.getSession(sessionId(404))).toBeNull();
        expect(await store.getRun(runId(404))).toBeNull();
        await expectCode(store.listRunsForSession(sessionId(404)), 'NOT_FOUND');
      });

      it('lists sessions newest first, filtered by status, paged by cursor', async () => {
        for (let n = 1; n <= 7; n += 1) await createSession(store, n);
        // Sessions 2, 4 and 6 start running.
        for (const n of [2, 4, 6]) {
          await store.updateRun({ runId: runId(n), changes: { status: 'running' }, events: [] });
        }

        const all = await store.listSessions();
        expect(all.map((s) => s.id)).toEqual([7, 6, 5, 4, 3, 2, 1].map(sessionId));

        const running = await store.listSessions({ status: 'running' });
        expect(running.map((s) => s.id)).toEqual([6, 4, 2].map(sessionId));

        const pages: string[][] = [];
        let beforeId: string | undefined;
        for (;;) {
          const page = await store.listSessions({ limit: 3, ...(beforeId ? { beforeId } : {}) });
          if (page.length === 0) break;
          pages.push(page.map((s) => s.id));
          beforeId = page.at(-1)?.id;
        }
        expect(pages).toEqual([[7, 6, 5].map(sessionId), [4, 3, 2].map(sessionId), [sessionId(1)]]);

        const runningPage = await store.listSessions({
          status: 'running',
          beforeId: sessionId(6),
          limit: 1,
        });
        expect(runningPage.map((s) => s.id)).toEqual([sessionId(4)]);
        expect(await store.listSessions({ limit: 0 })).toEqual([]);
        await expectCode(store.listSessions({ limit: -1 }), 'INVALID_ARGUMENT');

        expect(await store.listSessionIds()).toEqual([1, 2, 3, 4, 5, 6, 7].map(sessionId));
      });

      it("lists each session with its latest run's id", async () => {
        for (let n = 1; n <= 3; n += 1) await createSession(store, n);
        const listed = await store.listSessions();
        expect(listed.map((s) => [s.id, s.runId])).toEqual(
          [3, 2, 1].map((n) => [sessionId(n), runId(n)]),
        );
        // Apart from the run id, a listed session is the session record itself.
        const { runId: _, ...session } = listed[0] ?? { runId: null };
        expect(session).toEqual(await store.getSession(sessionId(3)));
        const labelled = await store.listSessions({ label: 'demo', limit: 1 });
        expect(labelled.map((s) => s.runId)).toEqual([runId(3)]);
      });

      describe('q: substring search over task, repo, agent and requester', () => {
        const sessions: Record<number, { task: string; repo: string; agent: string; by: string }> =
          {
            1: { task: 'Fix the TYPO', repo: '/repos/demo', agent: 'mock', by: 'alice' },
            2: { task: 'add tests', repo: '/repos/Alpha', agent: 'mock', by: 'alice' },
            3: { task: 'refactor', repo: '/repos/demo', agent: 'Claude-Code', by: 'alice' },
            4: { task: 'refactor', repo: '/repos/demo', agent: 'mock', by: 'BOB.smith' },
            5: { task: 'reach 100% coverage', repo: '/repos/demo', agent: 'mock', by: 'alice' },
            6: { task: 'rename snake_case', repo: '/repos/demo', agent: 'mock', by: 'alice' },
            7: { task: 'rename snakeXcase', repo: '/repos/demo', agent: 'mock', by: 'alice' },
            8: { task: 'say hi! loudly', repo: '/repos/demo', agent: 'mock', by: 'alice' },
            9: { task: 'Über-refactor', repo: '/repos/demo', agent: 'mock', by: 'alice' },
            10: { task: 'path C:\\temp', repo: '/repos/demo', agent: 'mock', by: 'alice' },
          };

        beforeEach(async () => {
          for (const [key, s] of Object.entries(sessions)) {
            const n = Number(key);
            await store.createSession({
              session: {
                id: sessionId(n),
                createdAt: at(n * 1_000),
                task: s.task,
                repo: s.repo,
                agent: s.agent,
                requestedBy: s.by,
                labels: n % 2 === 0 ? ['even'] : ['odd'],
              },
              run: { id: runId(n), createdAt: at(n * 1_000), jobSpec: {} },
              events: [event('session.created', n * 1_000)],
            });
          }
        });

        const found = async (filter: Parameters<Store['listSessions']>[0]) =>
          (await store.listSessions(filter)).map((s) => Number.parseInt(s.id.slice(4), 16));

        it('matches any of the four fields, ignoring the case of ASCII letters', async () => {
          expect(await found({ q: 'typo' })).toEqual([1]);
          expect(await found({ q: 'fIX tHE' })).toEqual([1]);
          expect(await found({ q: 'ALPHA' })).toEqual([2]);
          expect(await found({ q: 'claude-code' })).toEqual([3]);
          expect(await found({ q: 'bob.S' })).toEqual([4]);
          expect(await found({ q: 'refactor' })).toEqual([9, 4, 3]);
          expect(await found({ q: 'no such text' })).toEqual([]);
        });

        it('matches %, _, ! and backslashes literally', async () => {
          expect(await found({ q: '100%' })).toEqual([5]);
          expect(await found({ q: '%' })).toEqual([5]);
          expect(await found({ q: 'snake_case' })).toEqual([6]);
          expect(await found({ q: '_' })).toEqual([6]);
          expect(await found({ q: 'hi!' })).toEqual([8]);
          expect(await found({ q: '!' })).toEqual([8]);
          expect(await found({ q: 'C:\\temp' })).toEqual([10]);
          expect(await found({ q: '\\' })).toEqual([10]);
        });

        it('folds only ASCII letters, the same in both dialects', async () => {
          expect(await found({ q: 'Über' })).toEqual([9]);
          expect(await found({ q: 'ÜBER' })).toEqual([9]);
          // PostgreSQL's locale could fold Ü; the store does not, so both dialects agree.
          expect(await found({ q: 'über' })).toEqual([]);
        });

        it('combines with the other filters and pages without gap or duplicate', async () => {
          expect(await found({ q: 'refactor', status: 'queued', agent: 'mock' })).toEqual([9, 4]);
          expect(await found({ q: 'refactor', label: 'odd' })).toEqual([9, 3]);
          expect(await found({ q: 'rename', requestedBy: 'alice', label: 'even' })).toEqual([6]);
          await store.updateRun({ runId: runId(4), changes: { status: 'running' }, events: [] });
          expect(await found({ q: 'refactor', status: 'running' })).toEqual([4]);

          for (const filter of [{ q: 'r' }, { q: 'R', label: 'odd' }]) {
            const all = await found(filter);
            expect(all.length).toBeGreaterThan(2);
            const paged: number[] = [];
            let beforeId: string | undefined;
            for (;;) {
              const page = await store.listSessions({
                ...filter,
                limit: 2,
                ...(beforeId ? { beforeId } : {}),
              });
              if (page.length === 0) break;
              paged.push(...page.map((s) => Number.parseInt(s.id.slice(4), 16)));
              beforeId = page.at(-1)?.id;
            }
            expect(paged).toEqual(all);
          }
        });
      });
    });

    describe('appendEvents', () => {
      it('assigns gap-free seqs and a verifiable hash chain across appends', async () => {
        const first = await createSession(store, 1, { events: events(3) });
        const second = await store.appendEvents(sessionId(1), events(1, 100));
        const third = await store.appendEvents(sessionId(1), events(5, 200));
        expect([...first, ...second, ...third].map((e) => e.seq)).toEqual([
          1, 2, 3, 4, 5, 6, 7, 8, 9,
        ]);
        expect(second[0]?.prevHash).toBe(first.at(-1)?.hash);
        const chain = await store.readEvents(sessionId(1));
        expect(chain).toEqual([...first, ...second, ...third]);
        const session = await store.getSession(sessionId(1));
        expectValidChain(chain, session);
        expect(session?.updatedAt).toBe(at(204));
      });

      it('stores data as JSON and hashes what it reads back', async () => {
        await createSession(store, 1, { events: [] });
        const data = {
          text: 'héllo ✓ "quoted" \\ \n newline',
          nested: { list: [1, 2.5, null, true], empty: {} },
          dropped: undefined,
          when: new Date(T0_MS),
        };
        const [stored] = await store.appendEvents(sessionId(1), [
          event('x', 1, data),
          // Not `event('y', 2, undefined)`: that would take the helper's default data.
          { type: 'y', at: at(2), actor: 'tester', data: undefined },
        ]);
        const expected = {
          text: data.text,
          nested: data.nested,
          when: '2026-01-01T00:00:00.000Z',
        };
        expect(stored?.data).toEqual(expected);
        const chain = await store.readEvents(sessionId(1));
        expect(chain[0]?.data).toEqual(expected);
        expect(chain[1]?.data).toBeNull();
        expectValidChain(chain, await store.getSession(sessionId(1)));
      });

      it('appends a large batch in one call without gaps', async () => {
        await createSession(store, 1);
        // 1,000 = 512 + 256 + 128 + 64 + 32 + 8 rows: several INSERT chunk shapes.
        const stored = await store.appendEvents(sessionId(1), events(1_000, 10));
        expect(stored.map((e) => e.seq)).toEqual(Array.from({ length: 1_000 }, (_, i) => i + 2));
        const chain = await store.readEvents(sessionId(1));
        expect(chain).toHaveLength(1_001);
        expectValidChain(chain, await store.getSession(sessionId(1)));
      });

      it('treats an empty append as a no-op', async () => {
        await createSession(store, 1);
        const before = await store.getSession(sessionId(1));
        expect(await store.appendEvents(sessionId(1), [])).toEqual([]);
        expect(await store.getSession(sessionId(1))).toEqual(before);
      });

      it('keeps a NUL in event data; a NUL in a text column is stored or refused as INVALID_ARGUMENT', async () => {
        await createSession(store, 1);
        const nul = [event('agent.event', 1, { text: 'a\u0000b' })];
        await store.appendEvents(sessionId(1), nul);
        const read = await store.readEvents(sessionId(1), { afterSeq: 1 });
        expect(read.map((stored) => stored.data)).toEqual([{ text: 'a\u0000b' }]);

        // A text column holds the character itself, which PostgreSQL cannot store (22021).
        const outcome = await store
          .createToken({
            id: 'tok_000000000000000000000001',
            name: 'nul\u0000name',
            role: 'viewer',
            secretSha256: 'a'.repeat(64),
            createdAt: at(2),
            createdBy: 'tester',
          })
          .then(
            (token) => token,
            (error: unknown) => error,
          );
        if (dialect.name === 'postgres') {
          expect(isAasError(outcome) && outcome.code, String(outcome)).toBe('INVALID_ARGUMENT');
          expect(await store.listTokens()).toEqual([]);
        } else {
          expect(outcome).toMatchObject({ name: 'nul\u0000name' });
        }
      });

      it('throws NOT_FOUND for an unknown session and writes nothing', async () => {
        await expectCode(store.appendEvents(sessionId(404), events(2)), 'NOT_FOUND');
        await expectCode(store.appendEvents(sessionId(404), []), 'NOT_FOUND');
        expect(await store.listSessionIds()).toEqual([]);
      });
    });

    describe('readEvents', () => {
      it('reads ranges after a seq, limited, in ascending order', async () => {
        await createSession(store, 1, { events: events(10) });
        const seqs = async (range: { afterSeq?: number; limit?: number }) =>
          (await store.readEvents(sessionId(1), range)).map((e) => e.seq);
        expect(await seqs({})).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        expect(await seqs({ afterSeq: 7 })).toEqual([8, 9, 10]);
        expect(await seqs({ limit: 3 })).toEqual([1, 2, 3]);
        expect(await seqs({ afterSeq: 4, limit: 2 })).toEqual([5, 6]);
        expect(await seqs({ afterSeq: 10 })).toEqual([]);
        expect(await seqs({ limit: 0 })).toEqual([]);
        await expectCode(store.readEvents(sessionId(1), { afterSeq: -1 }), 'INVALID_ARGUMENT');
        await expectCode(store.readEvents(sessionId(1), { limit: 1.5 }), 'INVALID_ARGUMENT');
      });

      it('throws NOT_FOUND for an unknown session', async () => {
        await expectCode(store.readEvents(sessionId(404)), 'NOT_FOUND');
      });
    });

    describe('lastSeqs', () => {
      it("gives each known session's last seq, leaving unknown ids out", async () => {
        await createSession(store, 1, { events: events(3) });
        await createSession(store, 2, { events: events(1) });
        await store.appendEvents(sessionId(2), events(4));
        expect(await store.lastSeqs([])).toEqual(new Map());
        // Repeated and unknown ids, and more ids than one statement takes.
        const ids = [sessionId(2), sessionId(404), sessionId(1), sessionId(2)];
        for (let n = 1_000; n < 1_700; n += 1) ids.push(sessionId(n));
        ids.push(sessionId(1));
        expect(await store.lastSeqs(ids)).toEqual(
          new Map([
            [sessionId(2), 5],
            [sessionId(1), 3],
          ]),
        );
        expect(await store.lastSeqs([sessionId(1), sessionId(2), sessionId(3)])).toEqual(
          new Map([
            [sessionId(1), 3],
            [sessionId(2), 5],
          ]),
        );
      });
    });

    describe('updateRun', () => {
      it('applies changes, bumps the version, appends events and mirrors status', async () => {
        await createSession(store, 1);
        const result = await store.updateRun({
          runId: runId(1),
          expect: { status: ['queued'], version: 1 },
          changes: {
            status: 'running',
            baseRef: 'main',
            baseCommit: 'a'.repeat(40),
            startedAt: at(50),
            leaseOwner: 'worker-1',
            leaseExpiresAt: at(60_000),
            summary: { files: ['a.ts'], lines: 3 },
          },
          events: [event('run.started', 50), event('lease.acquired', 51)],
        });
        expect(result.run).toMatchObject({
          status: 'running',
          reasonCode: null,
          baseRef: 'main',
          baseCommit: 'a'.repeat(40),
          startedAt: at(50),
          leaseOwner: 'worker-1',
          leaseExpiresAt: at(60_000),
          summary: { files: ['a.ts'], lines: 3 },
          updatedAt: at(51),
          version: 2,
        });
        expect(await store.getRun(runId(1))).toEqual(result.run);
        expect(result.events.map((e) => e.seq)).toEqual([2, 3]);
        const session = await store.getSession(sessionId(1));
        expect(session?.status).toBe('running');
        expectValidChain(await store.readEvents(sessionId(1)), session);

        const finished = await store.updateRun({
          runId: runId(1),
          changes: {
            status: 'failed',
            reasonCode: 'AGENT_FAILED',
            reasonDetail: 'exit 1',
            finishedAt: at(90),
            leaseOwner: null,
            leaseExpiresAt: null,
            summary: null,
          },
          events: [event('run.completed', 90)],
        });
        expect(finished.run).toMatchObject({
          status: 'failed',
          reasonCode: 'AGENT_FAILED',
          reasonDetail: 'exit 1',
          baseRef: 'main',
          leaseOwner: null,
          leaseExpiresAt: null,
          summary: null,
          finishedAt: at(90),
          version: 3,
        });
        expect(await store.getSession(sessionId(1))).toMatchObject({
          status: 'failed',
          reasonCode: 'AGENT_FAILED',
          lastSeq: 4,
          updatedAt: at(90),
        });
      });

      it('without events takes updatedAt from finishedAt and leaves the chain alone', async () => {
        await createSession(store, 1);
        const before = await store.getSession(sessionId(1));
        const { run, events: appended } = await store.updateRun({
          runId: runId(1),
          changes: { patchSha256: 'b'.repeat(64), finishedAt: at(77) },
          events: [],
        });
        expect(appended).toEqual([]);
        expect(run).toMatchObject({ patchSha256: 'b'.repeat(64), updatedAt: at(77), version: 2 });
        // No status change, no event: the session row is untouched.
        expect(await store.getSession(sessionId(1))).toEqual(before);
        const again = await store.updateRun({ runId: runId(1), changes: {}, events: [] });
        expect(again.run).toMatchObject({ updatedAt: at(77), version: 3 });
      });

      it('throws CONFLICT and writes nothing when the expectation fails', async () => {
        await createSession(store, 1);
        const beforeRun = await store.getRun(runId(1));
        const beforeSession = await store.getSession(sessionId(1));
        const attempt = (expectation: {
          status?: readonly ('queued' | 'running')[];
          version?: number;
        }) =>
          store.updateRun({
            runId: runId(1),
            expect: expectation,
            changes: { status: 'cancelled', reasonCode: 'CANCELLED' },
            events: [event('run.cancelled', 5)],
          });
        await expectCode(attempt({ status: ['running'] }), 'CONFLICT');
        await expectCode(attempt({ version: 2 }), 'CONFLICT');
        await expectCode(attempt({ status: ['queued'], version: 7 }), 'CONFLICT');
        await expectCode(attempt({ status: [] }), 'CONFLICT');
        expect(await store.getRun(runId(1))).toEqual(beforeRun);
        expect(await store.getSession(sessionId(1))).toEqual(beforeSession);
        expect(await store.readEvents(sessionId(1))).toHaveLength(1);

        const { run } = await attempt({ status: ['queued', 'running'], version: 1 });
        expect(run.status).toBe('cancelled');
      });

      it('lets exactly one of several racing updates with the same version win', async () => {
        await createSession(store, 1);
        const other = await fixture.openAnother();
        const outcomes = await Promise.allSettled(
          Array.from({ length: 6 }, (_, i) =>
            (i % 2 === 0 ? store : other).updateRun({
              runId: runId(1),
              expect: { status: ['queued'], version: 1 },
              changes: { status: 'running', leaseOwner: `worker-${i}` },
              events: [event('run.started', 10 + i)],
            }),
          ),
        );
        const won = outcomes.filter((o) => o.status === 'fulfilled');
        const lost = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason] : []));
        expect(won).toHaveLength(1);
        expect(lost.map((e: unknown) => (isAasError(e) ? e.code : e))).toEqual(
          Array(5).fill('CONFLICT'),
        );
        expect((await store.getRun(runId(1)))?.version).toBe(2);
        expect(await store.readEvents(sessionId(1))).toHaveLength(2);
      });

      it('throws NOT_FOUND for an unknown run', async () => {
        await expectCode(
          store.updateRun({ runId: runId(404), changes: { status: 'running' }, events: events(1) }),
          'NOT_FOUND',
        );
      });
    });

    describe('attempts', () => {
      it('creates and finishes attempts with their events', async () => {
        await createSession(store, 1);
        expect(await store.listAttempts(runId(1))).toEqual([]);
        const started = await store.createAttempt({
          attempt: {
            id: attemptId(1),
            runId: runId(1),
            number: 1,
            agentId: 'mock',
            startedAt: at(10),
          },
          events: [event('attempt.started', 10)],
        });
        expect(started.map((e) => e.seq)).toEqual([2]);
        await store.createAttempt({
          attempt: {
            id: attemptId(2),
            runId: runId(1),
            number: 2,
            agentId: 'mock',
            startedAt: at(20),
          },
          events: [],
        });
        const finished = await store.finishAttempt({
          attemptId: attemptId(1),
          status: 'failed',
          reasonCode: 'AGENT_TIMEOUT',
          finishedAt: at(30),
          detail: { exitCode: null, signal: 'SIGKILL' },
          events: [event('attempt.finished', 30)],
        });
        expect(finished.map((e) => e.seq)).toEqual([3]);
        expect(await store.listAttempts(runId(1))).toEqual([
          {
            id: attemptId(1),
            runId: runId(1),
            number: 1,
            agentId: 'mock',
            status: 'failed',
            reasonCode: 'AGENT_TIMEOUT',
            startedAt: at(10),
            finishedAt: at(30),
            detail: { exitCode: null, signal: 'SIGKILL' },
          },
          {
            id: attemptId(2),
            runId: runId(1),
            number: 2,
            agentId: 'mock',
            status: 'running',
            reasonCode: null,
            startedAt: at(20),
            finishedAt: null,
            detail: null,
          },
        ]);
        expectValidChain(
          await store.readEvents(sessionId(1)),
          await store.getSession(sessionId(1)),
        );
      });

      it('rejects a duplicate attempt number or a second finish with CONFLICT, writing nothing', async () => {
        await createSession(store, 1);
        const base = { runId: runId(1), number: 1, agentId: 'mock', startedAt: at(10) };
        await store.createAttempt({ attempt: { ...base, id: attemptId(1) }, events: [] });
        await expectCode(
          store.createAttempt({
            attempt: { ...base, id: attemptId(2) },
            events: [event('attempt.started', 11)],
          }),
          'CONFLICT',
        );
        const finish = () =>
          store.finishAttempt({
            attemptId: attemptId(1),
            status: 'succeeded',
            reasonCode: null,
            finishedAt: at(20),
            detail: {},
            events: [event('attempt.finished', 20)],
          });
        await finish();
        await expectCode(finish(), 'CONFLICT');
        expect(await store.listAttempts(runId(1))).toHaveLength(1);
        expect((await store.readEvents(sessionId(1))).map((e) => e.type)).toEqual([
          'session.created',
          'attempt.finished',
        ]);
      });

      it("ends running attempts with their run's update, their events first, or writes nothing", async () => {
        await createSession(store, 1);
        const base = { runId: runId(1), agentId: 'mock', startedAt: at(10) };
        await store.createAttempt({
          attempt: { ...base, id: attemptId(1), number: 1 },
          events: [],
        });
        const end = (id: string) => ({
          attemptId: id,
          status: 'failed' as const,
          reasonCode: 'INTERRUPTED',
          finishedAt: at(20),
          detail: { interrupted: 'lease expired' },
          event: event('attempt.finished', 20),
        });
        const updated = await store.updateRun({
          runId: runId(1),
          changes: { status: 'queued' },
          events: [event('run.requeued', 20)],
          finishAttempts: [end(attemptId(1))],
        });
        expect(updated.events.map((e) => [e.seq, e.type])).toEqual([
          [2, 'attempt.finished'],
          [3, 'run.requeued'],
        ]);
        expect((await store.listAttempts(runId(1)))[0]).toMatchObject({
          status: 'failed',
          reasonCode: 'INTERRUPTED',
          finishedAt: at(20),
        });
        // An attempt no longer running (its holder finished it first): nothing is written.
        await expectCode(
          store.updateRun({
            runId: runId(1),
            changes: { status: 'failed' },
            events: [event('run.completed', 30)],
            finishAttempts: [end(attemptId(1))],
          }),
          'CONFLICT',
        );
        expect((await store.getRun(runId(1)))?.status).toBe('queued');
        expect(await store.readEvents(sessionId(1))).toHaveLength(3);
        expectValidChain(
          await store.readEvents(sessionId(1)),
          await store.getSession(sessionId(1)),
        );
      });

      it('throws NOT_FOUND for an unknown run or attempt', async () => {
        await expectCode(
          store.createAttempt({
            attempt: {
              id: attemptId(1),
              runId: runId(404),
              number: 1,
              agentId: 'mock',
              startedAt: at(1),
            },
            events: events(1),
          }),
          'NOT_FOUND',
        );
        await expectCode(
          store.finishAttempt({
            attemptId: attemptId(404),
            status: 'succeeded',
            reasonCode: null,
            finishedAt: at(1),
            detail: null,
            events: events(1),
          }),
          'NOT_FOUND',
        );
        await expectCode(store.listAttempts(runId(404)), 'NOT_FOUND');
      });
    });

    describe('leases', () => {
      it('renews only for the holder, bumping the version', async () => {
        await createSession(store, 1);
        await store.updateRun({
          runId: runId(1),
          changes: { status: 'running', leaseOwner: 'worker-1', leaseExpiresAt: at(10_000) },
          events: [],
        });
        expect(
          await store.renewRunLease({ runId: runId(1), leaseOwner: 'worker-1' }, at(20_000)),
        ).toEqual({ held: true, cancelRequested: false });
        expect(await store.getRun(runId(1))).toMatchObject({
          leaseOwner: 'worker-1',
          leaseExpiresAt: at(20_000),
          version: 3,
        });
        expect(
          await store.renewRunLease({ runId: runId(1), leaseOwner: 'worker-2' }, at(30_000)),
        ).toEqual({ held: false, cancelRequested: false });
        expect(await store.getRun(runId(1))).toMatchObject({
          leaseExpiresAt: at(20_000),
          version: 3,
        });
        await expectCode(
          store.renewRunLease({ runId: runId(404), leaseOwner: 'worker-1' }, at(1)),
          'NOT_FOUND',
        );
      });

      it('lists leased runs whose lease expired, oldest first: running, and queued-but-reserved', async () => {
        const lease = async (n: number, status: 'running' | 'queued', expiresMs: number | null) => {
          await createSession(store, n);
          await store.updateRun({
            runId: runId(n),
            changes: {
              status,
              leaseOwner: expiresMs === null ? null : `worker-${n}`,
              leaseExpiresAt: expiresMs === null ? null : at(expiresMs),
            },
            events: [],
          });
        };
        await lease(1, 'running', 5_000);
        await lease(2, 'running', 1_000);
        await lease(3, 'running', 50_000); // not yet expired
        await lease(4, 'queued', 500); // reserved by a process that never claimed it
        await lease(5, 'running', null); // never leased
        await lease(6, 'running', 3_000);
        await lease(7, 'queued', null); // waiting for any worker: never listed

        const expired = await store.listRunsWithExpiredLease(at(10_000));
        expect(expired.map((r) => r.id)).toEqual([4, 2, 6, 1].map(runId));
        expect(expired[1]).toEqual(await store.getRun(runId(2)));
        expect((await store.listRunsWithExpiredLease(at(10_000), 2)).map((r) => r.id)).toEqual(
          [4, 2].map(runId),
        );

        // Once recovered (no longer running) a run is not listed again.
        await store.updateRun({
          runId: runId(2),
          expect: { status: ['running'], version: 2 },
          changes: { status: 'failed', reasonCode: 'INTERRUPTED', leaseOwner: null },
          events: [event('run.interrupted', 10_000)],
        });
        expect((await store.listRunsWithExpiredLease(at(10_000))).map((r) => r.id)).toEqual(
          [4, 6, 1].map(runId),
        );
      });
    });

    describe('fencing', () => {
      const fence = { runId: runId(1), leaseOwner: 'worker-1' };

      /** Session 1 with its run running under worker-1's lease, and one running attempt. */
      async function leasedRun(): Promise<void> {
        await createSession(store, 1);
        await store.updateRun({
          runId: runId(1),
          expect: { status: ['queued'] },
          changes: { status: 'running', leaseOwner: 'worker-1', leaseExpiresAt: at(10_000) },
          events: [event('run.started', 10)],
        });
        await store.createAttempt({
          attempt: {
            id: attemptId(1),
            runId: runId(1),
            number: 1,
            agentId: 'mock',
            startedAt: at(20),
          },
          events: [event('attempt.started', 20)],
        });
      }

      /** What recovery does to a run whose lease expired, through a store of its own. */
      async function recover(through?: Store): Promise<void> {
        const recoverer = through ?? (await fixture.openAnother());
        const run = await recoverer.getRun(runId(1));
        await recoverer.updateRun({
          runId: runId(1),
          expect: { status: ['running'], ...(run ? { version: run.version } : {}) },
          changes: {
            status: 'failed',
            reasonCode: 'INTERRUPTED',
            finishedAt: at(20_000),
            leaseOwner: null,
            leaseExpiresAt: null,
          },
          events: [event('run.interrupted', 20_000)],
        });
      }

      /** One of each fenced write, all on behalf of `with`. */
      function fencedWrites(with_: { runId: string; leaseOwner: string }) {
        return {
          append: () => store.appendEvents(sessionId(1), events(2, 30_000), with_),
          createAttempt: () =>
            store.createAttempt({
              attempt: {
                id: attemptId(2),
                runId: runId(1),
                number: 2,
                agentId: 'mock',
                startedAt: at(30_001),
              },
              events: [event('attempt.started', 30_001)],
              fence: with_,
            }),
          finishAttempt: () =>
            store.finishAttempt({
              attemptId: attemptId(1),
              status: 'succeeded',
              reasonCode: null,
              finishedAt: at(30_002),
              detail: {},
              events: [event('attempt.finished', 30_002)],
              fence: with_,
            }),
          updateRun: () =>
            store.updateRun({
              runId: with_.runId,
              expect: { status: ['running'], leaseOwner: with_.leaseOwner },
              changes: { status: 'ready_for_promotion', finishedAt: at(30_003) },
              events: [event('run.completed', 30_003)],
            }),
        };
      }

      async function snapshot() {
        return {
          session: await store.getSession(sessionId(1)),
          run: await store.getRun(runId(1)),
          attempts: await store.listAttempts(runId(1)),
          events: await store.readEvents(sessionId(1)),
        };
      }

      it('accepts every fenced write while the lease is held', async () => {
        await leasedRun();
        const writes = fencedWrites(fence);
        expect((await writes.append()).map((e) => e.seq)).toEqual([4, 5]);
        expect((await writes.createAttempt()).map((e) => e.seq)).toEqual([6]);
        expect((await writes.finishAttempt()).map((e) => e.seq)).toEqual([7]);
        const { run, events: appended } = await writes.updateRun();
        expect(appended.map((e) => e.seq)).toEqual([8]);
        expect(run).toMatchObject({ status: 'ready_for_promotion', leaseOwner: 'worker-1' });
        expect((await store.listAttempts(runId(1))).map((a) => a.status)).toEqual([
          'succeeded',
          'running',
        ]);
        expectValidChain(
          await store.readEvents(sessionId(1)),
          await store.getSession(sessionId(1)),
        );
      });

      it('refuses every fenced write once recovery ended the run, writing nothing', async () => {
        await leasedRun();
        await recover();
        const before = await snapshot();
        expect(before.session?.lastSeq).toBe(4);
        const writes = fencedWrites(fence);
        for (const write of [
          writes.append,
          writes.createAttempt,
          writes.finishAttempt,
          writes.updateRun,
        ]) {
          const outcome = await write().then(
            () => undefined,
            (error: unknown) => error,
          );
          expect(isAasError(outcome) ? outcome.code : outcome).toBe('LEASE_FENCED');
          expect(isAasError(outcome) ? outcome.message : '').toBe(
            `run ${runId(1)} is no longer leased to worker-1 (now: none, status failed)`,
          );
        }
        // Also with an empty batch: the refusal does not depend on there being events.
        await expectCode(store.appendEvents(sessionId(1), [], fence), 'LEASE_FENCED');
        expect(await snapshot()).toEqual(before);
        const [lastSeq] = await fixture.rawQuery(
          `SELECT last_seq FROM sessions WHERE id = '${sessionId(1)}'`,
        );
        expect(lastSeq).toEqual({ last_seq: 4 });
      });

      it('refuses a fence naming another owner, an unknown run or another session', async () => {
        await leasedRun();
        await createSession(store, 2);
        await store.updateRun({
          runId: runId(2),
          changes: { status: 'running', leaseOwner: 'worker-2', leaseExpiresAt: at(10_000) },
          events: [],
        });
        const before = await snapshot();
        const impostor = fencedWrites({ runId: runId(1), leaseOwner: 'worker-2' });
        for (const write of Object.values(impostor)) await expectCode(write(), 'LEASE_FENCED');
        const unknown = fencedWrites({ runId: runId(404), leaseOwner: 'worker-1' });
        await expectCode(unknown.append(), 'LEASE_FENCED');
        await expectCode(unknown.finishAttempt(), 'LEASE_FENCED');
        // Run 2's lease is held, but it guards session 2, not writes to session 1.
        const foreign = fencedWrites({ runId: runId(2), leaseOwner: 'worker-2' });
        await expectCode(foreign.append(), 'LEASE_FENCED');
        await expectCode(foreign.finishAttempt(), 'LEASE_FENCED');
        // A fence must guard the attempt's own run.
        await expectCode(foreign.createAttempt(), 'INVALID_ARGUMENT');
        expect(await snapshot()).toEqual(before);

        // The lease holds, so a status or version mismatch stays CONFLICT.
        await expectCode(
          store.updateRun({
            runId: runId(1),
            expect: { status: ['queued'], leaseOwner: 'worker-1' },
            changes: { status: 'cancelled' },
            events: [event('run.cancelled', 40_000)],
          }),
          'CONFLICT',
        );
        await expectCode(
          store.updateRun({
            runId: runId(1),
            expect: { version: 99, leaseOwner: 'worker-1' },
            changes: {},
            events: [],
          }),
          'CONFLICT',
        );
        // A lost lease outranks a status mismatch.
        await expectCode(
          store.updateRun({
            runId: runId(1),
            expect: { status: ['queued'], leaseOwner: 'worker-2' },
            changes: {},
            events: [],
          }),
          'LEASE_FENCED',
        );
        expect(await snapshot()).toEqual(before);
      });

      it('keeps unfenced writes working after the lease is gone', async () => {
        await leasedRun();
        await recover();
        await store.appendEvents(sessionId(1), events(1, 50_000));
        await store.createAttempt({
          attempt: {
            id: attemptId(2),
            runId: runId(1),
            number: 2,
            agentId: 'mock',
            startedAt: at(50_001),
          },
          events: [],
        });
        await store.finishAttempt({
          attemptId: attemptId(1),
          status: 'failed',
          reasonCode: 'INTERRUPTED',
          finishedAt: at(50_002),
          detail: null,
          events: [event('attempt.finished', 50_002)],
        });
        const { run } = await store.updateRun({
          runId: runId(1),
          expect: { status: ['failed'] },
          changes: { reasonDetail: 'recovered' },
          events: [],
        });
        expect(run.reasonDetail).toBe('recovered');
        expectValidChain(
          await store.readEvents(sessionId(1)),
          await store.getSession(sessionId(1)),
        );
      });

      it('orders fenced appends racing recovery: each lands before the end or is refused', async () => {
        await leasedRun();
        // Opened first, so recovery starts while the appenders are running.
        const recoverer = await fixture.openAnother();
        const appended: StoredEvent[] = [];
        const refusals: unknown[] = [];
        /** Appends under the fence until refused; bounded so a broken fence fails, not hangs. */
        const appender = async (name: string) => {
          for (let i = 0; i < 2_000; i += 1) {
            try {
              appended.push(
                ...(await store.appendEvents(sessionId(1), events(2, 30_000 + i, name), fence)),
              );
            } catch (error) {
              refusals.push(error);
              return;
            }
          }
        };
        await Promise.all([recover(recoverer), appender('a'), appender('b'), appender('c')]);

        expect(refusals.map((e) => (isAasError(e) ? e.code : e))).toEqual(
          Array(3).fill('LEASE_FENCED'),
        );
        const chain = await store.readEvents(sessionId(1));
        const endSeq = chain.find((e) => e.type === 'run.interrupted')?.seq ?? 0;
        expect(endSeq).toBeGreaterThan(0);
        expect(chain.at(-1)?.seq).toBe(endSeq);
        for (const stored of appended) expect(stored.seq).toBeLessThan(endSeq);
        expect(chain).toHaveLength(4 + appended.length);
        expectValidChain(chain, await store.getSession(sessionId(1)));
      });
    });

    describe('model spend', () => {
      const DAY_MS = 86_400_000;

      /** One model call as the runner records it (agent.usage). */
      function usage(
        run: number,
        offsetMs: number,
        spend: { input?: number; output?: number; cached?: number; costUsd?: number } = {},
        refused: string | null = null,
      ): NewEvent {
        return event('agent.usage', offsetMs, {
          runId: runId(run),
          attempt: 1,
          provider: 'anthropic',
          api: 'messages',
          model: 'claude-sonnet-4-5',
          status: refused === null ? 200 : 429,
          stream: false,
          inputTokens: spend.input ?? 150,
          outputTokens: spend.output ?? 50,
          cachedInputTokens: spend.cached ?? 30,
          costUsd: spend.costUsd ?? 0.001,
          latencyMs: 12,
          refused,
        });
      }

      async function sessionOnRepo(n: number, repo: string): Promise<void> {
        const createdAt = at(n);
        await store.createSession({
          session: {
            id: sessionId(n),
            createdAt,
            task: 't',
            repo,
            agent: 'mock',
            requestedBy: 'alice',
            labels: [],
          },
          run: { id: runId(n), createdAt, jobSpec: {} },
          events: [event('session.created', n)],
        });
      }

      it('sums the calls of a run, a session and a repository-day from the events that record them', async () => {
        await sessionOnRepo(1, '/repos/demo');
        await sessionOnRepo(2, '/repos/demo');
        await sessionOnRepo(3, '/repos/other');
        await store.appendEvents(sessionId(1), [
          usage(1, 100, { input: 100, output: 10, cached: 5, costUsd: 0.25 }),
          event('agent.event', 101),
          usage(1, 102, { input: 200, output: 20, cached: 0, costUsd: 0.5 }),
          // Refused by the gateway before anything was forwarded: spent nothing.
          usage(1, 103, { input: 0, output: 0, cached: 0, costUsd: 0 }, 'budget'),
        ]);
        // A stream the upstream cut off is still charged.
        await store.appendEvents(sessionId(2), [
          usage(2, 200, { input: 7, output: 3, cached: 1, costUsd: 0.125 }, 'upstream_error'),
        ]);
        await store.appendEvents(sessionId(3), [usage(3, 300, { costUsd: 4 })]);

        expect(await store.modelSpend({ runId: runId(1) })).toEqual({
          calls: 2,
          inputTokens: 300,
          outputTokens: 30,
          cachedInputTokens: 5,
          costUsd: 0.75,
        });
        expect(await store.modelSpend({ sessionId: sessionId(1) })).toEqual(
          await store.modelSpend({ runId: runId(1) }),
        );
        expect(await store.modelSpend({ sessionId: sessionId(2) })).toMatchObject({
          calls: 1,
          costUsd: 0.125,
        });
        const day = { fromIso: at(0), toIso: at(DAY_MS) };
        expect(await store.modelSpend({ repo: '/repos/demo', ...day })).toEqual({
          calls: 3,
          inputTokens: 307,
          outputTokens: 33,
          cachedInputTokens: 6,
          costUsd: 0.875,
        });
        expect((await store.modelSpend({ repo: '/repos/other', ...day })).costUsd).toBe(4);
        // Nothing spent is zero, not an error; an unknown run or session is NOT_FOUND.
        expect(await store.modelSpend({ repo: '/repos/none', ...day })).toEqual({
          calls: 0,
          inputTokens: 0,
          outputTokens: 0,
          cachedInputTokens: 0,
          costUsd: 0,
        });
        await sessionOnRepo(4, '/repos/demo');
        expect((await store.modelSpend({ runId: runId(4) })).calls).toBe(0);
        expect((await store.modelSpend({ sessionId: sessionId(4) })).calls).toBe(0);
        await expectCode(store.modelSpend({ runId: runId(99) }), 'NOT_FOUND');
        await expectCode(store.modelSpend({ sessionId: sessionId(99) }), 'NOT_FOUND');
      });

      it('counts a repository-day from its first millisecond up to, not including, the next day', async () => {
        await sessionOnRepo(1, '/repos/demo');
        await store.appendEvents(sessionId(1), [
          usage(1, -1, { costUsd: 1 }),
          usage(1, 0, { costUsd: 2 }),
          usage(1, DAY_MS - 1, { costUsd: 4 }),
          usage(1, DAY_MS, { costUsd: 8 }),
        ]);
        const spent = async (fromMs: number) =>
          (
            await store.modelSpend({
              repo: '/repos/demo',
              fromIso: at(fromMs),
              toIso: at(fromMs + DAY_MS),
            })
          ).costUsd;
        expect(await spent(-DAY_MS)).toBe(1);
        expect(await spent(0)).toBe(6);
        expect(await spent(DAY_MS)).toBe(8);
        expect((await store.modelSpend({ runId: runId(1) })).costUsd).toBe(15);
      });

      it('records spend in the same transaction as the event, whatever operation appends it', async () => {
        await sessionOnRepo(1, '/repos/demo');
        await store.updateRun({
          runId: runId(1),
          changes: { status: 'running', leaseOwner: 'worker-1', leaseExpiresAt: at(10_000) },
          events: [usage(1, 10, { costUsd: 0.5 })],
        });
        await store.createAttempt({
          attempt: {
            id: attemptId(1),
            runId: runId(1),
            number: 1,
            agentId: 'a',
            startedAt: at(20),
          },
          events: [usage(1, 20, { costUsd: 0.25 })],
          fence: { runId: runId(1), leaseOwner: 'worker-1' },
        });
        await store.finishAttempt({
          attemptId: attemptId(1),
          status: 'failed',
          reasonCode: 'GATE_FAILED',
          finishedAt: at(30),
          detail: {},
          events: [usage(1, 30, { costUsd: 0.125 })],
        });
        expect((await store.modelSpend({ runId: runId(1) })).costUsd).toBe(0.875);
        // A fenced append refused for a lost lease records neither the event nor its spend.
        await expectCode(
          store.appendEvents(sessionId(1), [usage(1, 40, { costUsd: 8 })], {
            runId: runId(1),
            leaseOwner: 'worker-2',
          }),
          'LEASE_FENCED',
        );
        expect((await store.modelSpend({ runId: runId(1) })).costUsd).toBe(0.875);
      });

      it('refuses a usage event it cannot account for, and writes nothing of its batch', async () => {
        await sessionOnRepo(1, '/repos/demo');
        await sessionOnRepo(2, '/repos/demo');
        const before = await store.getSession(sessionId(1));
        const malformed = event('agent.usage', 10, { runId: runId(1), provider: 'anthropic' });
        await expectCode(
          store.appendEvents(sessionId(1), [usage(1, 9), malformed]),
          'INVALID_ARGUMENT',
        );
        // A run of another session must not be charged through this one.
        await expectCode(store.appendEvents(sessionId(1), [usage(2, 11)]), 'INVALID_ARGUMENT');
        expect(await store.getSession(sessionId(1))).toEqual(before);
        expect(await store.readEvents(sessionId(1))).toHaveLength(1);
        expect((await store.modelSpend({ runId: runId(1) })).calls).toBe(0);
        expect((await store.modelSpend({ runId: runId(2) })).calls).toBe(0);
      });

      it.runIf(dialect.name === 'sqlite')(
        'sums a repository-day through its index, without reading events',
        async () => {
          const plan = (await fixture.rawQuery(
            "EXPLAIN QUERY PLAN SELECT count(*), sum(cost_usd) FROM model_spend WHERE repo = '/r' AND at >= '2026-01-01' AND at < '2026-01-02'",
          )) as { detail: string }[];
          expect(plan.map((row) => row.detail).join('\n')).toMatch(
            /USING .*INDEX model_spend_repo_at/,
          );
        },
      );
    });

    describe('durability', () => {
      it('keeps everything across close and reopen, migrating only once', async () => {
        await createSession(store, 1, { events: events(4) });
        await store.createAttempt({
          attempt: {
            id: attemptId(1),
            runId: runId(1),
            number: 1,
            agentId: 'mock',
            startedAt: at(5),
          },
          events: events(2, 5),
        });
        const snapshot = async (s: Store) => ({
          session: await s.getSession(sessionId(1)),
          run: await s.getRun(runId(1)),
          attempts: await s.listAttempts(runId(1)),
          events: await s.readEvents(sessionId(1)),
        });
        const before = await snapshot(store);
        await store.close();

        const reopened = await fixture.openAnother();
        expect(await snapshot(reopened)).toEqual(before);
        await reopened.close();
        const again = await fixture.openAnother();
        expect(await snapshot(again)).toEqual(before);
        await again.appendEvents(sessionId(1), events(1, 100));
        expectValidChain(
          await again.readEvents(sessionId(1)),
          await again.getSession(sessionId(1)),
        );

        const migrations = await fixture.rawQuery(
          'SELECT name FROM kysely_migration ORDER BY name',
        );
        expect(migrations).toEqual([
          { name: '0001-initial' },
          { name: '0002-queue-and-tokens' },
          { name: '0003-promotion' },
          { name: '0004-model-spend' },
          { name: '0005-schedules' },
          { name: '0006-remote-workers' },
          { name: '0007-run-artifacts' },
          { name: '0008-heartbeat-only-heap' },
          { name: '0009-worker-self-drain' },
          { name: '0010-claim-acknowledgement' },
          { name: '0011-schedule-job-author' },
          { name: '0012-installation-facts' },
        ]);
      });

      it('refuses calls after close with STORE_UNAVAILABLE', async () => {
        await store.close();
        await store.close(); // idempotent
        await expectCode(store.getSession(sessionId(1)), 'STORE_UNAVAILABLE');
        await expectCode(store.appendEvents(sessionId(1), events(1)), 'STORE_UNAVAILABLE');
      });
    });

    describe('concurrency', () => {
      it('serialises concurrent appenders across separately opened stores', async () => {
        await createSession(store, 1, { events: [] });
        const stores = [store, await fixture.openAnother(), await fixture.openAnother()];
        const appenders = 12;
        const appendsPerAppender = 15;
        const returned: StoredEvent[][] = [];
        await Promise.all(
          Array.from({ length: appenders }, async (_, appender) => {
            const target = stores[appender % stores.length] ?? store;
            for (let i = 0; i < appendsPerAppender; i += 1) {
              const batch = events(
                1 + ((appender + i) % 4),
                appender * 1_000 + i * 10,
                `a${appender}`,
              );
              returned.push(await target.appendEvents(sessionId(1), batch));
            }
          }),
        );
        const total = returned.reduce((sum, batch) => sum + batch.length, 0);
        // Each batch got consecutive seqs: batches were never interleaved.
        for (const batch of returned) {
          expect(batch.map((e) => e.seq - (batch[0]?.seq ?? 0))).toEqual(batch.map((_, i) => i));
          expect(new Set(batch.map((e) => e.type)).size).toBe(1);
        }
        const chain = await stores[1]?.readEvents(sessionId(1));
        expect(chain).toHaveLength(total);
        expect(new Set(chain?.map((e) => e.seq)).size).toBe(total);
        expect(chain).toEqual(returned.flat().sort((a, b) => a.seq - b.seq));
        expectValidChain(chain ?? [], await store.getSession(sessionId(1)));
      });

      it('keeps state changes and appends of one session consistent under contention', async () => {
        await createSession(store, 1);
        const other = await fixture.openAnother();
        await Promise.all([
          ...Array.from({ length: 8 }, (_, i) =>
            (i % 2 === 0 ? store : other).appendEvents(sessionId(1), events(3, i * 100)),
          ),
          ...Array.from({ length: 4 }, (_, i) =>
            (i % 2 === 0 ? other : store).createAttempt({
              attempt: {
                id: attemptId(i + 1),
                runId: runId(1),
                number: i + 1,
                agentId: 'mock',
                startedAt: at(i),
              },
              events: [event('attempt.started', i)],
            }),
          ),
          ...Array.from({ length: 4 }, (_, i) =>
            (i % 2 === 0 ? store : other).updateRun({
              runId: runId(1),
              changes: { reasonDetail: `update ${i}` },
              events: [event('run.note', i)],
            }),
          ),
        ]);
        const chain = await store.readEvents(sessionId(1));
        expect(chain).toHaveLength(1 + 8 * 3 + 4 + 4);
        expectValidChain(chain, await store.getSession(sessionId(1)));
        // Every run update and every attempt started is a new version of the run.
        expect((await store.getRun(runId(1)))?.version).toBe(1 + 4 + 4);
        expect(await store.listAttempts(runId(1))).toHaveLength(4);
      });
    });
  });
}

describe.runIf(POSTGRES_REQUIRED)('PostgreSQL requirement (AAS_REQUIRE_POSTGRES=1)', () => {
  it('reaches PostgreSQL', () => {
    const postgres = dialects.find((d) => d.name === 'postgres');
    expect(postgres?.unavailableReason).toBeUndefined();
  });
});
