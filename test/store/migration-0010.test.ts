import { afterEach, describe, expect, it } from 'vitest';
import type { Store } from '../../src/store/index.js';
import { storeDialects } from './dialects.js';
import { databaseMigratedBefore, type OldDatabase } from './old-database.js';
import { runId, sessionId } from './queue-helpers.js';

/**
 * Upgrading to 0010 while runs are held: their claims count as acknowledged (a holder may have
 * renewed before the column existed), so the sweep spends them as it always did; runs not held
 * have nothing to acknowledge.
 */

const AT = '2026-01-01T00:00:00.000Z';

const dialects = await storeDialects();

for (const dialect of dialects) {
  describe.skipIf(!dialect.available)(`migration 0010 on ${dialect.name}`, () => {
    let old: OldDatabase | undefined;
    let store: Store | undefined;

    afterEach(async () => {
      await store?.close();
      await old?.cleanup();
    });

    it('counts the claims held during the upgrade as acknowledged', async () => {
      old = await databaseMigratedBefore(dialect.name, '0010-claim-acknowledgement');
      for (const [n, held] of [
        [1, true],
        [2, false],
      ] as const) {
        await old.db
          .insertInto('sessions' as never)
          .values({
            id: sessionId(n),
            created_at: AT,
            updated_at: AT,
            task: 't',
            repo: '/repos/demo',
            agent: 'mock',
            requested_by: 'alice',
            labels: '[]',
            status: held ? 'running' : 'queued',
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
            status: held ? 'running' : 'queued',
            job_spec: '{}',
            created_at: AT,
            updated_at: AT,
            version: 1,
            repo: '/repos/demo',
            fencing_token: held ? 3 : 0,
            claim_count: held ? 1 : 0,
            lease_owner: held ? 'w1' : null,
            lease_expires_at: held ? AT : null,
          } as never)
          .execute();
      }

      store = await old.openStore();
      expect(await store.getRun(runId(1))).toMatchObject({
        fencingToken: 3,
        renewedFencingToken: 3,
        unacknowledgedClaims: 0,
      });
      expect(await store.getRun(runId(2))).toMatchObject({
        renewedFencingToken: null,
        unacknowledgedClaims: 0,
      });
    });
  });
}
