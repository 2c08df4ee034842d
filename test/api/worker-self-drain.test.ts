import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { remoteWorkerState, SELF_DRAIN_CURRENT_MS } from '../../src/api/index.js';
import type { RemoteWorkerRecord } from '../../src/store/index.js';
import { type StoreFixture, storeDialects } from '../store/dialects.js';
import { type RunningApi, startApi } from './api-fixture.js';

/**
 * A worker's own drain (SIGTERM) as the control plane shows it: heard by one replica, shown by
 * every replica, for display only (the administrator's drain flag is never touched), cleared by
 * the worker's next claim or a heartbeat that does not say it, and stale after a bounded time.
 */

const V1 = '/api/v1';
const dialects = await storeDialects();

for (const dialect of dialects) {
  describe.skipIf(!dialect.available)(`a worker draining itself: ${dialect.name}`, () => {
    let fixture: StoreFixture;
    let heard: RunningApi;
    let other: RunningApi;

    beforeAll(async () => {
      fixture = await dialect.open();
      heard = await startApi(fixture);
      // Another replica: its own store on the same database, its own process state.
      other = await startApi(fixture, { store: await fixture.openAnother() });
    });
    afterAll(async () => {
      await heard?.close();
      await other?.close();
      await other?.store.close();
      await fixture?.cleanup();
    });

    async function stateOn(api: RunningApi): Promise<string | undefined> {
      const listed = await api.json<{ items: { id: string; state: string }[] }>(`${V1}/workers`);
      return listed.items.find((item) => item.id === heard.workerId)?.state;
    }

    function heartbeat(draining: boolean) {
      return heard.request(`${V1}/workers/heartbeat`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ leases: [], draining }),
        secret: heard.secrets.worker,
      });
    }

    it('is shown by every replica, and cleared by a heartbeat without it or a claim', async () => {
      expect((await heartbeat(true)).status).toBe(200);
      expect(await stateOn(heard)).toBe('draining');
      expect(await stateOn(other)).toBe('draining');
      // Display only: the administrator's order is not set by it.
      expect((await other.store.getWorker(heard.workerId))?.draining).toBe(false);

      expect((await heartbeat(false)).status).toBe(200);
      expect(await stateOn(other)).toBe('online');

      expect((await heartbeat(true)).status).toBe(200);
      const claim = await heard.request(`${V1}/workers/claim`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ waitSec: 0 }),
        secret: heard.secrets.worker,
      });
      expect(claim.status).toBe(204);
      expect(await stateOn(other)).toBe('online');
    });
  });
}

describe('remoteWorkerState', () => {
  const seenAt = '2026-03-01T00:00:00.000Z';
  const seenMs = Date.parse(seenAt);
  const worker: RemoteWorkerRecord = {
    id: 'wrk_x',
    name: 'x',
    labels: [],
    capabilities: { agents: [], sandbox: [] },
    enrolledAt: seenAt,
    enrolledBy: 'test',
    revokedAt: null,
    lastSeenAt: seenAt,
    draining: false,
    selfDrainReportedAt: seenAt,
  };

  it('counts a self-drain report for a bounded time, an administrator drain until resumed', () => {
    expect(remoteWorkerState(worker, true, seenMs + SELF_DRAIN_CURRENT_MS - 1)).toBe('draining');
    // A later heartbeat without the report would have cleared it; none came, so it lapses.
    const later = { ...worker, lastSeenAt: new Date(seenMs + SELF_DRAIN_CURRENT_MS).toISOString() };
    expect(remoteWorkerState(later, true, seenMs + SELF_DRAIN_CURRENT_MS)).toBe('busy');
    const ordered = { ...later, draining: true, selfDrainReportedAt: null };
    expect(remoteWorkerState(ordered, false, seenMs + SELF_DRAIN_CURRENT_MS)).toBe('draining');
  });
});
