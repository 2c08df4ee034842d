export { API_PREFIX } from './api-app.js';
export type {
  ApiDeps,
  ControlPlane,
  Identity,
  WorkerGateway,
  WorkerLease,
  WorkerStatus,
} from './api-deps.js';
export type { ErrorBody, SubmittedJob, SubmitWarning } from './api-schemas.js';
export { API_VERSION, createApiServer } from './create-api-server.js';
export { defaultPanelDir } from './panel-routes.js';
export {
  ALL_PERMISSIONS,
  PERMISSIONS,
  type Permission,
  type RouteAccess,
  roleAllows,
} from './permissions.js';
export type { StreamLimits } from './stream-slots.js';
export {
  hashTokenSecret,
  issueToken,
  isTokenSecretFormat,
  newTokenSecret,
  TOKEN_NAME_PATTERN,
} from './tokens.js';
export {
  enrolWorker,
  isEnrolmentSecretFormat,
  isWorkerCredentialFormat,
  newEnrolmentSecret,
  newWorkerCredential,
  revokeWorker,
  withdrawEnrolments,
} from './worker-secrets.js';
export {
  embeddedWorkerState,
  remoteWorkerState,
  SELF_DRAIN_CURRENT_MS,
  WORKER_OFFLINE_AFTER_MS,
  WORKER_STALE_AFTER_MS,
  type WorkerState as ListedWorkerState,
} from './worker-state.js';
