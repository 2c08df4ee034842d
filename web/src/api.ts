import createClient, { type Middleware } from 'openapi-fetch';
import type { paths } from './api-schema';
import { clearToken, readToken } from './auth';

/** Every call goes to the server that served the panel, with the pasted token. */
export const api = createClient<paths>({ baseUrl: window.location.origin });

/** Listeners told when the server refuses the token (expired, revoked): the panel signs out. */
const onUnauthorized = new Set<() => void>();
export function whenUnauthorized(listener: () => void): () => void {
  onUnauthorized.add(listener);
  return () => onUnauthorized.delete(listener);
}

const auth: Middleware = {
  onRequest({ request }) {
    const token = readToken();
    if (token !== null) request.headers.set('authorization', `Bearer ${token}`);
    return request;
  },
  onResponse({ response }) {
    if (response.status === 401) {
      clearToken();
      for (const listener of onUnauthorized) listener();
    }
    return response;
  },
};
api.use(auth);

type Json<Path extends keyof paths, Method extends 'get' | 'post'> = paths[Path][Method] extends {
  responses: infer R;
}
  ? R extends { 200: { content: { 'application/json': infer T } } }
    ? T
    : R extends { 201: { content: { 'application/json': infer T } } }
      ? T
      : never
  : never;

export type SessionList = Json<'/api/v1/sessions', 'get'>;
export type SessionItem = SessionList['items'][number];
export type SessionDetail = Json<'/api/v1/sessions/{id}', 'get'>;
export type RunDetail = Json<'/api/v1/runs/{id}', 'get'>;
export type RunStatus = SessionItem['status'];
export type Approvals = Json<'/api/v1/runs/{id}/approvals', 'get'>;
export type PromotionResult = Json<'/api/v1/runs/{id}/promote', 'post'>;
export type PromotionRecord = Json<'/api/v1/runs/{id}/promotion', 'get'>;
export type Workers = Json<'/api/v1/workers', 'get'>;
export type ScheduleList = Json<'/api/v1/schedules', 'get'>;
export type Identity = Json<'/api/v1/whoami', 'get'>;

/** Whether this identity's role may submit jobs (the server's role table: operator, admin). */
export function canSubmit(identity: Identity): boolean {
  return identity.role === 'operator' || identity.role === 'admin';
}
export type StoredEvent = Json<'/api/v1/sessions/{id}/events', 'get'>['items'][number];

/** The server's error body: a code from its closed set, a message, and what to do. */
export interface ApiError {
  readonly code: string;
  readonly message: string;
  readonly details: {
    readonly field?: string;
    readonly hint?: string;
    readonly [key: string]: unknown;
  };
}

export function asApiError(error: unknown, status?: number): ApiError {
  if (typeof error === 'object' && error !== null && 'code' in error && 'message' in error) {
    const body = error as { code: unknown; message: unknown; details?: unknown };
    return {
      code: String(body.code),
      message: String(body.message),
      details:
        typeof body.details === 'object' && body.details !== null
          ? (body.details as ApiError['details'])
          : {},
    };
  }
  return {
    code: 'NETWORK',
    message:
      status === undefined
        ? 'the server could not be reached'
        : `the server answered ${status} without an error body`,
    details: {},
  };
}

/** A raw authenticated GET (text, downloads) for what openapi-fetch does not parse. */
export async function fetchWithToken(path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  const token = readToken();
  if (token !== null) headers.set('authorization', `Bearer ${token}`);
  const response = await fetch(path, { ...init, headers });
  if (response.status === 401) {
    clearToken();
    for (const listener of onUnauthorized) listener();
  }
  return response;
}
