export type { CommittedEventsHandler } from './committed-event-relay.js';
export { type CommittedEventsFeed, followCommittedEvents } from './follow-committed-events.js';
export type { Leadership, LeadershipOptions } from './leadership.js';
export { openLeadership } from './open-leadership.js';
export { openStore } from './open-store.js';
export { describeLeaseKey, type RunGuard, writerLeaseKey } from './promotion-operations.js';
export * from './records.js';
export type { FireScheduleInput, NewSessionWithRun } from './schedule-operations.js';
export type { Dialect, OpenStoreOptions, Store } from './store.js';
