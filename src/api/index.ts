export { API_PREFIX } from './api-app.js';
export type { ApiDeps, ControlPlane, Identity, WorkerStatus } from './api-deps.js';
export type { ErrorBody } from './api-schemas.js';
export { API_VERSION, createApiServer } from './create-api-server.js';
export { defaultPanelDir } from './panel-routes.js';
export {
  ALL_PERMISSIONS,
  PERMISSIONS,
  type Permission,
  type RouteAccess,
  roleAllows,
} from './permissions.js';
export {
  hashTokenSecret,
  issueToken,
  isTokenSecretFormat,
  newTokenSecret,
  TOKEN_NAME_PATTERN,
} from './tokens.js';
