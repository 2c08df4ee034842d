import { TokenRole } from '../store/index.js';

/**
 * Which roles hold each permission: the one table every route's access is decided by. The
 * `worker` role holds only `workers:work`: remote workers get routes of their own, so a leaked
 * worker credential cannot read history, submit work or mint tokens.
 */
export const PERMISSIONS = {
  read: [TokenRole.viewer, TokenRole.operator, TokenRole.approver, TokenRole.admin],
  submit: [TokenRole.operator, TokenRole.admin],
  cancel: [TokenRole.operator, TokenRole.admin],
  approve: [TokenRole.approver, TokenRole.admin],
  promote: [TokenRole.operator, TokenRole.approver, TokenRole.admin],
  tokens: [TokenRole.admin],
  'workers:read': [TokenRole.viewer, TokenRole.operator, TokenRole.approver, TokenRole.admin],
  /** Enrol and revoke remote workers: hands out the power to run jobs, so admins only. */
  'workers:enrol': [TokenRole.admin],
  /** Claim, heartbeat, report: a remote worker's own credential (the route checks the binding). */
  'workers:work': [TokenRole.worker],
} as const satisfies Record<string, readonly TokenRole[]>;

export type Permission = keyof typeof PERMISSIONS;
export const ALL_PERMISSIONS = Object.keys(PERMISSIONS) as Permission[];

/** What a route demands: a permission, or nothing at all (health and documentation). */
export type RouteAccess = Permission | 'public';

export function roleAllows(role: TokenRole, permission: Permission): boolean {
  return (PERMISSIONS[permission] as readonly TokenRole[]).includes(role);
}
