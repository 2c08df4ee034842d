import { afterEach, describe, expect, it } from 'vitest';
import type { Store } from '../../src/store/index.js';
import * as initial from '../../src/store/migrations/0001-initial.js';
import * as queueAndTokens from '../../src/store/migrations/0002-queue-and-tokens.js';
import * as promotion from '../../src/store/migrations/0003-promotion.js';
import { storeDialects } from './dialects.js';
import { databaseMigratedTo, type OldDatabase } from './old-database.js';
import { runId, sessionId } from './queue-helpers.js';

/**
 * Upgrading a database whose history already holds model calls: 0004 projects every charged
 * `agent.usage` event into the spend table (more than one backfill page of them), so budgets
 * count what was spent before the upgrade. Events that spent nothing or do not parse are skipped.
 */

const SESSIONS = 3;
const CALLS_PER_SESSION = 210;
const T0_MS = Date.parse('2026-01-01T00:00:00.000Z');

const dialects = await storeDialects();

for (const dialect of dialects) {
  describe.skipIf(!dialect.available)(`migration 0004 on ${dialect.name}`, () => {
    let old: OldDatabase | undefined;
    let store: Store | undefined;

    afterEach(async () => {
      await store?.close();
      await old?.cleanup();
    });

    it('fills the spend table from the recorded agent.usage events', async () => {
      old = await databaseMigratedTo(dialect.name, {
        '0001-initial': initial,
        '0002-queue-and-tokens': queueAndTokens,
        '0003-promotion': promotion,
      });
      const at = (offsetMs: number) => new Date(T0_MS + offsetMs).toISOString();
      for (let n = 1; n <= SESSIONS; n += 1) {
        const repo = n === 3 ? '/repos/other' : '/repos/demo';
        await old.db
          .insertInto('sessions' as never)
          .values({
            id: sessionId(n),
            created_at: at(0),
            updated_at: at(0),
            task: 't',
            repo,
            agent: 'mock',
            requested_by: 'alice',
            labels: '[]',
            status: 'running',
            reason_code: null,
            last_seq: 0,
            last_hash: '0'.repeat(64),
          } as never)
          .execute();
        await old.db
          .insertInto('runs' as never)
          .values({
            id: runId(n),
            session_id: sessionId(n),
            status: 'running',
            job_spec: '{}',
            created_at: at(0),
            updated_at: at(0),
            version: 1,
            repo,
          } as never)
          .execute();
        const rows = Array.from({ length: CALLS_PER_SESSION }, (_, index) => {
          const seq = index + 1;
          const usage = {
            runId: runId(n),
            attempt: 1,
            provider: 'anthropic',
            api: 'messages',
            model: 'claude-sonnet-4-5',
            status: 200,
            stream: false,
            inputTokens: 10,
            outputTokens: 2,
            cachedInputTokens: 1,
            costUsd: 0.5,
            latencyMs: 3,
            refused: null,
          };
          // Every 10th call was refused by the gateway, every 35th event is something else.
          const data =
            seq % 35 === 0
              ? '{"not json'
              : JSON.stringify(
                  seq % 10 === 0
                    ? {
                        ...usage,
                        inputTokens: 0,
                        outputTokens: 0,
                        cachedInputTokens: 0,
                        costUsd: 0,
                        refused: 'budget',
                      }
                    : usage,
                );
          return {
            session_id: sessionId(n),
            seq,
            type: seq % 7 === 0 ? 'agent.event' : 'agent.usage',
            // Session 2's calls are on the next day.
            at: at(n === 2 ? 86_400_000 + seq : seq),
            actor: 'runner',
            data,
            prev_hash: '0'.repeat(64),
            hash: `${n}${String(seq).padStart(63, '0')}`,
          };
        });
        await old.db
          .insertInto('events' as never)
          .values(rows as never)
          .execute();
      }

      store = await old.openStore();
      // Other event types, refused calls and payloads that do not parse are not spend.
      const charged = Array.from({ length: CALLS_PER_SESSION }, (_, i) => i + 1).filter(
        (seq) => seq % 7 !== 0 && seq % 10 !== 0 && seq % 35 !== 0,
      ).length;
      expect(await store.modelSpend({ runId: runId(1) })).toEqual({
        calls: charged,
        inputTokens: charged * 10,
        outputTokens: charged * 2,
        cachedInputTokens: charged,
        costUsd: charged * 0.5,
      });
      expect((await store.modelSpend({ sessionId: sessionId(2) })).calls).toBe(charged);
      const day = (offsetMs: number) => ({
        fromIso: at(offsetMs),
        toIso: at(offsetMs + 86_400_000),
      });
      expect((await store.modelSpend({ repo: '/repos/demo', ...day(0) })).calls).toBe(charged);
      expect((await store.modelSpend({ repo: '/repos/demo', ...day(86_400_000) })).calls).toBe(
        charged,
      );
      expect((await store.modelSpend({ repo: '/repos/other', ...day(0) })).costUsd).toBe(
        charged * 0.5,
      );
    });
  });
}
