import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StoreFixture, storeDialects } from '../store/dialects.js';
import {
  type ErrorBody,
  PROMOTABLE,
  postJson,
  type RunningApi,
  seedFinishedRun,
  startApi,
} from './api-fixture.js';

/**
 * What the API answers at its edges, against each real database: concurrent requests that must
 * not both succeed, and refusals that say what was wrong and what to do.
 */

const dialects = await storeDialects();
const V1 = '/api/v1';

for (const dialect of dialects) {
  describe.skipIf(!dialect.available)(`API answers: ${dialect.name}`, () => {
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

    describe('concurrent decisions of one approver', () => {
      async function decideAtOnce(decisions: readonly string[]) {
        const run = await seedFinishedRun(api, '/repos/demo', PROMOTABLE);
        const responses = await Promise.all(
          decisions.map((decision) =>
            api.request(
              `${V1}/runs/${run.runId}/approvals`,
              postJson({ decision }, { secret: api.secrets.approver }),
            ),
          ),
        );
        const statuses = responses.map((response) => response.status);
        const bodies = await Promise.all(responses.map((response) => response.json()));
        const recorded = await api.store.listApprovals({ runId: run.runId });
        return { statuses, bodies: bodies as ErrorBody[], recorded };
      }

      it('eight identical approvals at once: one is recorded, the others are 409', async () => {
        const { statuses, bodies, recorded } = await decideAtOnce(Array(8).fill('approved'));
        expect(statuses.filter((status) => status === 201)).toHaveLength(1);
        expect(statuses.filter((status) => status === 409)).toHaveLength(7);
        expect(recorded).toHaveLength(1);
        const refused = bodies.filter((body) => body.code === 'CONFLICT');
        for (const body of refused) {
          expect(body.message).toMatch(/^approver-\w+ already approved this patch \(apr_/);
        }
      });

      it('an approval and a rejection at once: only one of them stands', async () => {
        const { statuses, recorded } = await decideAtOnce(['approved', 'rejected']);
        expect(statuses.filter((status) => status === 201)).toHaveLength(1);
        expect(statuses.filter((status) => status === 409)).toHaveLength(1);
        expect(recorded).toHaveLength(1);
      });
    });
  });
}
