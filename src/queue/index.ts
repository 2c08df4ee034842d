export { retryBackoffMs } from './retry-backoff.js';
export {
  type CancelOutcome,
  type ClaimedRun,
  type ClaimFence,
  type QueueDeps,
  type QueueSettings,
  RunQueue,
  type SweepReport,
} from './run-queue.js';
