export {
  type EmbeddedWorkerStatus,
  WorkerPool,
  type WorkerPoolSettings,
  type WorkerState,
} from './worker-pool.js';
