import type { Store } from './store.js';

/** What a PostgreSQL store's replica coordination needs beyond the store itself. */
export interface ReplicaLink {
  /** The database, for the dedicated connections LISTEN and leadership hold. */
  readonly databaseUrl: string;
  /** This store's id in its own announcements, so it can skip what it wrote itself. */
  readonly origin: string;
}

/** Set by openStore for PostgreSQL stores only: one SQLite file is one process's to follow. */
const links = new WeakMap<Store, ReplicaLink>();

export function linkReplica(store: Store, link: ReplicaLink): void {
  links.set(store, link);
}

export function replicaLinkOf(store: Store): ReplicaLink | undefined {
  return links.get(store);
}
