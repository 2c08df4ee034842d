import type { Leadership, LeadershipOptions } from './leadership.js';
import { PostgresLeadership } from './postgres-leadership.js';
import { replicaLinkOf } from './replica-links.js';
import type { Store } from './store.js';

const ALWAYS_LEADING: Leadership = {
  check: async () => true,
  release: async () => undefined,
};

/**
 * The leadership `name` among the stores sharing `store`'s database. PostgreSQL: a
 * session-level advisory lock on a dedicated connection (see PostgresLeadership), so a dead
 * leader's lead passes on as soon as its session ends. SQLite: always this process, as one
 * process serves a file. Leadership saves duplicate work; it must not be what makes work
 * safe (a leader cut off from the database may still act until it notices).
 */
export function openLeadership(store: Store, name: string, options: LeadershipOptions): Leadership {
  const link = replicaLinkOf(store);
  return link === undefined
    ? ALWAYS_LEADING
    : new PostgresLeadership(link.databaseUrl, name, options);
}
