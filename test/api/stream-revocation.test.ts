import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StoreFixture, storeDialects } from '../store/dialects.js';
import { type RunningApi, startApi, submitQueued } from './api-fixture.js';
import { openSse } from './sse-client.js';

/**
 * A stream is one request that lasts: the token that opened it is asked again at every
 * keep-alive, so revoking it cuts the streams it holds open (the list feed and a session's
 * events), while streams of other tokens go on.
 */

const dialects = await storeDialects();

for (const dialect of dialects) {
  describe.skipIf(!dialect.available)(`stream revocation: ${dialect.name}`, () => {
    let fixture: StoreFixture;
    let api: RunningApi;

    beforeAll(async () => {
      fixture = await dialect.open();
      // Keep-alives every 50 ms: the check runs often; nothing below waits on a duration.
      api = await startApi(fixture, { streamKeepAliveMs: 50 });
    });
    afterAll(async () => {
      await api?.close();
      await fixture?.cleanup();
    });

    it('a revoked token loses its open streams at the next keep-alive; others keep theirs', async () => {
      const issued = await api.json<{ secret: string }>('/api/v1/tokens', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: `watcher-${dialect.name}`, role: 'viewer' }),
      });
      const { sessionId } = await submitQueued(api);
      const asWatcher = { authorization: `Bearer ${issued.secret}` };
      const feed = await openSse(`${api.url}/api/v1/stream`, asWatcher);
      const events = await openSse(
        `${api.url}/api/v1/sessions/${sessionId}/events/stream`,
        asWatcher,
      );
      const other = await openSse(`${api.url}/api/v1/stream`, {
        authorization: `Bearer ${api.secrets.viewer}`,
      });
      try {
        expect([feed.status, events.status, other.status]).toEqual([200, 200, 200]);
        await events.take(1);
        const revoked = await api.request(`/api/v1/tokens/watcher-${dialect.name}`, {
          method: 'DELETE',
        });
        expect(revoked.status).toBe(200);
        await Promise.all([feed.ended, events.ended]);
        // The other client still receives keep-alives after both were cut.
        const seen = other.comments.length;
        await other.until(() => other.comments.length > seen + 1);
      } finally {
        feed.close();
        events.close();
        other.close();
      }
    });
  });
}
