import { COMMITTED_EVENTS_CHANNEL } from './commit-announcements.js';
import { CommittedEventRelay, type CommittedEventsHandler } from './committed-event-relay.js';
import { type ListenerTiming, PostgresListener } from './postgres-listener.js';
import { replicaLinkOf } from './replica-links.js';
import type { Store } from './store.js';

export interface CommittedEventsFeed {
  /** Resolves once the feed first tried to connect, listening or not (it retries regardless). */
  readonly ready: Promise<void>;
  /** Stops following and waits for a read in flight: close it before its store. */
  close(): Promise<void>;
}

const NOTHING_TO_FOLLOW: CommittedEventsFeed = {
  ready: Promise.resolve(),
  close: async () => undefined,
};

/**
 * Hands `handler` the events that OTHER stores (other replicas, other processes) commit to
 * `store`'s database, once each, soon after their commit, never the ones `store` committed
 * itself (its caller publishes those). PostgreSQL: every append is announced by NOTIFY in its
 * own transaction, and the feed LISTENs on a dedicated connection that reconnects after a loss
 * and reads each announced range from the store. A wake-up service, not a log: what is
 * committed while the connection is down is not replayed, so readers that must not miss
 * anything keep reading the store. SQLite: nothing to follow (one process serves a file), the
 * feed is inert.
 */
export function followCommittedEvents(
  store: Store,
  handler: CommittedEventsHandler,
  options: { readonly timing?: Partial<ListenerTiming> } = {},
): CommittedEventsFeed {
  const link = replicaLinkOf(store);
  if (link === undefined) return NOTHING_TO_FOLLOW;
  const relay = new CommittedEventRelay(
    link.origin,
    (sessionId, range) => store.readEvents(sessionId, range),
    handler,
  );
  const listener = new PostgresListener(
    link.databaseUrl,
    COMMITTED_EVENTS_CHANNEL,
    {
      onNotification: (payload) => relay.announce(payload),
      onConnected: (reconnected) => handler.onConnected?.(reconnected),
      onLost: (error, retryInMs) => handler.onTrouble?.(error, retryInMs),
    },
    options.timing,
  );
  return {
    ready: listener.start(),
    async close() {
      await listener.close();
      await relay.close();
    },
  };
}
