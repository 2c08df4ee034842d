import type { ModelApi, ModelProvider } from './model-call-record.js';

export interface ModelRoute {
  readonly provider: ModelProvider;
  readonly api: ModelApi;
  /** The model the path names (Google's `/v1beta/models/{model}:…`); null where the body does. */
  readonly model: string | null;
  /** Whether the path asks for a stream (`:streamGenerateContent`); null where the body does. */
  readonly stream: boolean | null;
}

/**
 * The only requests forwarded, by exact path; the query string (`?beta=true`) is kept as sent,
 * except Google's (see `googleQuery`).
 */
const ROUTES: ReadonlyMap<string, ModelRoute> = new Map<string, ModelRoute>([
  ['/v1/messages', { provider: 'anthropic', api: 'messages', model: null, stream: null }],
  [
    '/v1/messages/count_tokens',
    { provider: 'anthropic', api: 'count_tokens', model: null, stream: null },
  ],
  ['/v1/responses', { provider: 'openai', api: 'responses', model: null, stream: null }],
  [
    '/v1/chat/completions',
    { provider: 'openai', api: 'chat.completions', model: null, stream: null },
  ],
]);

/**
 * Google's routes name the model in the path: `/{version}/models/{model}:{method}`. The model is
 * one path segment of letters, digits, `.`, `-` and `_`; anything else (`/`, `%2F`, `..`) is not
 * a route, so nothing the agent writes there can reach another path of the upstream.
 */
const GOOGLE_ROUTE =
  /^\/(?:v1beta|v1|v1alpha)\/models\/([A-Za-z0-9._-]+):(generateContent|streamGenerateContent|countTokens)$/;

const GOOGLE_METHODS: Readonly<Record<string, { api: ModelApi; stream: boolean }>> = {
  generateContent: { api: 'generate_content', stream: false },
  streamGenerateContent: { api: 'generate_content', stream: true },
  countTokens: { api: 'count_tokens', stream: false },
};

/**
 * The query parameters Google reads a credential from: an API key (`?key=`, what older clients
 * send, or its system-parameter spelling `?$key=`) or an OAuth token (`?access_token=`, the
 * query form of `Authorization: Bearer`). Each must be the placeholder, and none is forwarded:
 * the real key goes in `x-goog-api-key`.
 */
export const GOOGLE_KEY_PARAMS: ReadonlySet<string> = new Set(['key', '$key', 'access_token']);

/** The path part of a request target, without the query. */
export function pathnameOf(target: string): string {
  const query = target.indexOf('?');
  return query === -1 ? target : target.slice(0, query);
}

/** A query component as a server reads it (`+` is a space); null when it does not decode. */
export function decodeQueryComponent(raw: string): string | null {
  try {
    return decodeURIComponent(raw.replaceAll('+', ' '));
  } catch {
    return null;
  }
}

/** One `name=value` of a query string, with the raw text it was read from. */
export interface QueryParam {
  /** Decoded; the raw name when it does not decode. */
  readonly name: string;
  /** Decoded; null when it does not decode. '' for a parameter without `=`. */
  readonly value: string | null;
  readonly raw: string;
}

/** The parameters of a request target's query string, in order; [] when it has none. */
export function queryParams(target: string): QueryParam[] {
  const at = target.indexOf('?');
  if (at === -1) return [];
  return target
    .slice(at + 1)
    .split('&')
    .map((raw) => {
      const eq = raw.indexOf('=');
      const rawName = eq === -1 ? raw : raw.slice(0, eq);
      const rawValue = eq === -1 ? '' : raw.slice(eq + 1);
      return {
        name: decodeQueryComponent(rawName) ?? rawName,
        value: decodeQueryComponent(rawValue),
        raw,
      };
    });
}

export function routeFor(method: string, target: string): ModelRoute | null {
  if (method !== 'POST') return null;
  const path = pathnameOf(target);
  const fixed = ROUTES.get(path);
  if (fixed !== undefined) return fixed;
  const google = GOOGLE_ROUTE.exec(path);
  const model = google?.[1];
  const googleMethod = GOOGLE_METHODS[google?.[2] ?? ''];
  // `.` and `..` are dot-segments: a URL resolver anywhere on the way would climb with them.
  if (model === undefined || googleMethod === undefined || /^\.+$/.test(model)) return null;
  return { provider: 'google', api: googleMethod.api, model, stream: googleMethod.stream };
}

/**
 * Whose error shape an unknown route is answered in: Anthropic's clients send `x-api-key` or
 * `anthropic-version` on every request; Google's (`@google/genai`) send `x-goog-api-key` and use
 * `/v1beta/` paths of the form `/models/{model}:{method}`; OpenAI's send none of these.
 */
export function guessProvider(target: string, headerNames: readonly string[]): ModelProvider {
  const path = pathnameOf(target);
  if (path.startsWith('/v1/messages')) return 'anthropic';
  const names = new Set(headerNames.map((name) => name.toLowerCase()));
  const models = path.indexOf('/models/');
  if (
    path.startsWith('/v1beta/') ||
    path.startsWith('/v1alpha/') ||
    (models !== -1 && path.indexOf(':', models) !== -1) ||
    names.has('x-goog-api-key')
  ) {
    return 'google';
  }
  return names.has('x-api-key') || names.has('anthropic-version') ? 'anthropic' : 'openai';
}
