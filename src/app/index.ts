export {
  type CacheCollectionReport,
  collectCaches,
  collectLeftWorkspaces,
  createRuntime,
  type RecoveryReport,
  type Runtime,
  type RuntimeOptions,
  recover,
} from './create-runtime.js';
export { type AgentStatus, describeAgents } from './describe-agents.js';
export { diagnoseHost, type HostDiagnosis } from './diagnose-host.js';
export {
  describeHolder,
  lockSqliteDatabase,
  type SqliteHolder,
  sqliteLockPaths,
} from './lock-sqlite-database.js';
export { lockWorkerHome, type WorkerHomeLock } from './lock-worker-home.js';
export { createPromotionDeps, forgeHostOf, forgeHttpEnv } from './promotion-deps.js';
export { relayCommittedEvents } from './relay-committed-events.js';
export { type RunningServer, type StartServerOptions, startServer } from './start-server.js';
export {
  createWorkerHost,
  readWorkerCredential,
  type WorkerCapabilities,
  type WorkerCredential,
  type WorkerHost,
  workerPaths,
  writeWorkerCredential,
} from './start-worker.js';
