export { CLAIM_WAKE_EVENT_TYPES, onClaimableChange } from './claim-wake-events.js';
export type { ControlPlaneLink, LeaseGrant, LeaseOrderWire } from './control-plane-link.js';
export type { LeaseDeadline } from './lease-deadline.js';
export { type LeaseOp, type LeaseOpResult, RUNNER_EVENT_TYPES } from './lease-ops.js';
export { RemoteRunStore } from './remote-run-store.js';
export {
  RemoteWorkerAgent,
  type RemoteWorkerAgentSettings,
  type RemoteWorkerStatus,
  type WorkerExecutionDeps,
} from './remote-worker-agent.js';
export {
  type LeaseOrder,
  REPORTABLE_STATUSES,
  type RemoteLease,
  type RemoteWorkerSettings,
  RemoteWorkers,
  type ReportableStatus,
} from './remote-workers.js';
export type { HeldLeaseView } from './send-while-held.js';
export {
  type EmbeddedWorkerStatus,
  WorkerPool,
  type WorkerPoolSettings,
  type WorkerState,
} from './worker-pool.js';
