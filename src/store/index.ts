export { openStore } from './open-store.js';
export * from './records.js';
export type { Dialect, OpenStoreOptions, Store } from './store.js';
