export { retryBackoffMs } from './retry-backoff.js';
export {
  type CancelOutcome,
  type ClaimedRun,
  type ClaimFence,
  LEASE_WRITE_RETENTION_MS,
  type QueueDeps,
  type QueueSettings,
  RunQueue,
  type SweepReport,
} from './run-queue.js';
