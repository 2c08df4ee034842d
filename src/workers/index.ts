export {
  type LeaseOrder,
  REPORTABLE_STATUSES,
  type RemoteLease,
  type RemoteWorkerSettings,
  RemoteWorkers,
  type ReportableStatus,
} from './remote-workers.js';
export {
  type EmbeddedWorkerStatus,
  WorkerPool,
  type WorkerPoolSettings,
  type WorkerState,
} from './worker-pool.js';
