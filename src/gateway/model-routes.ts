import type { ModelApi, ModelProvider } from './model-call-record.js';

export interface ModelRoute {
  readonly provider: ModelProvider;
  readonly api: ModelApi;
}

/** The only requests forwarded, by exact path; the query string (`?beta=true`) is kept as sent. */
const ROUTES: ReadonlyMap<string, ModelRoute> = new Map([
  ['/v1/messages', { provider: 'anthropic', api: 'messages' }],
  ['/v1/messages/count_tokens', { provider: 'anthropic', api: 'count_tokens' }],
  ['/v1/responses', { provider: 'openai', api: 'responses' }],
  ['/v1/chat/completions', { provider: 'openai', api: 'chat.completions' }],
]);

/** The path part of a request target, without the query. */
export function pathnameOf(target: string): string {
  const query = target.indexOf('?');
  return query === -1 ? target : target.slice(0, query);
}

export function routeFor(method: string, target: string): ModelRoute | null {
  if (method !== 'POST') return null;
  return ROUTES.get(pathnameOf(target)) ?? null;
}

/**
 * Whose error shape an unknown route is answered in: Anthropic's clients send `x-api-key` or
 * `anthropic-version` on every request, OpenAI's send neither.
 */
export function guessProvider(target: string, headerNames: readonly string[]): ModelProvider {
  if (pathnameOf(target).startsWith('/v1/messages')) return 'anthropic';
  const names = new Set(headerNames.map((name) => name.toLowerCase()));
  return names.has('x-api-key') || names.has('anthropic-version') ? 'anthropic' : 'openai';
}
