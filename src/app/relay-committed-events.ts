import type { Logger } from '../kernel/index.js';
import type { EventBus } from '../sessions/index.js';
import {
  type CommittedEventsFeed,
  followCommittedEvents,
  type ListenerTiming,
  type Store,
} from '../store/index.js';
import { atMostOncePer } from './at-most-once-per.js';

/**
 * Puts the events other replicas commit to the shared database on this process's bus, beside
 * the ones this process publishes itself, so SSE streams and waiting remote-worker claims wake
 * for both at once instead of at their next poll. Each event reaches the bus once: the feed
 * skips what this store wrote, which its writer has published already. Order holds per writer
 * and session; events of one session written by two replicas may reach the bus out of seq
 * order, which is why the bus is only a wake-up for readers of the store. When events may have
 * been missed (the connection came back after a loss, or a read failed), the bus says so
 * (`reportMissed`), so that listeners holding state learnt from it re-read the store.
 */
export function relayCommittedEvents(
  deps: {
    readonly store: Store;
    readonly bus: EventBus;
    readonly log: Logger;
  },
  options: { readonly timing?: Partial<ListenerTiming> } = {},
): CommittedEventsFeed {
  const { store, bus, log } = deps;
  const missed = atMostOncePer(MISSED_REPORT_GAP_MS, () => bus.reportMissed());
  const feed = followCommittedEvents(
    store,
    {
      onEvents: (events) => bus.publish(events, 'replica'),
      onConnected: (reconnected) => {
        if (!reconnected) return;
        log.info({}, 'following the events of other replicas again');
        // What they committed while the connection was down was never announced here.
        missed.call();
      },
      onTrouble: (error, retryInMs) => {
        if (retryInMs !== undefined) {
          log.warn(
            { err: error.message, retryInMs },
            'lost the event feed of other replicas; their events wake streams at polls only until it is back',
          );
          return;
        }
        log.warn({ err: error.message }, 'could not relay events of another replica');
        missed.call();
      },
    },
    options,
  );
  return {
    ready: feed.ready,
    async close() {
      missed.stop();
      await feed.close();
    },
  };
}

/**
 * Every report makes each stream, waiting claim and list-feed client read the store again: a
 * database blip that fails many relay reads at once must not multiply that.
 */
const MISSED_REPORT_GAP_MS = 1_000;
