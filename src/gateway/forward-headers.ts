import type { OutgoingHttpHeaders } from 'node:http';
import type { ModelProvider } from './model-call-record.js';
import { GOOGLE_KEY_PARAMS, pathnameOf, queryParams } from './model-routes.js';

/** Hop-by-hop headers describe one connection, not the message; they never cross the gateway. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'te',
  'trailer',
  'trailers',
  'transfer-encoding',
  'upgrade',
]);

/**
 * Client headers the gateway replaces or drops: the placeholder credentials, cookies, the
 * client's Host, and the framing and encoding of a body the gateway re-sends itself.
 */
const DROPPED_REQUEST_HEADERS = new Set([
  'host',
  'authorization',
  'x-api-key',
  'x-goog-api-key',
  'cookie',
  'content-length',
  'content-type',
  'content-encoding',
  'accept-encoding',
  'expect',
]);

/** Upstream headers the client never sees: cookies are the upstream's business, not the agent's. */
const DROPPED_RESPONSE_HEADERS = new Set(['set-cookie', 'set-cookie2']);

function connectionNamed(rawHeaders: readonly string[]): Set<string> {
  const named = new Set<string>();
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if (rawHeaders[i]?.toLowerCase() !== 'connection') continue;
    for (const token of (rawHeaders[i + 1] ?? '').split(',')) named.add(token.trim().toLowerCase());
  }
  return named;
}

function copyHeaders(
  rawHeaders: readonly string[],
  keep: (name: string, value: string) => boolean,
): Record<string, string[]> {
  const named = connectionNamed(rawHeaders);
  const headers: Record<string, string[]> = {};
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = (rawHeaders[i] ?? '').toLowerCase();
    const value = rawHeaders[i + 1] ?? '';
    if (HOP_BY_HOP.has(name) || named.has(name) || name.startsWith('proxy-')) continue;
    if (!keep(name, value)) continue;
    const existing = headers[name];
    if (existing === undefined) headers[name] = [value];
    else existing.push(value);
  }
  return headers;
}

/**
 * The upstream request's headers: the client's (anthropic-version, anthropic-beta,
 * x-goog-api-client, user agent, …) minus credentials, cookies and framing, plus the real key in
 * the provider's own header. The placeholder is never sent: every header that could carry it is
 * dropped, and any other header whose value contains it is dropped as well.
 */
export function upstreamRequestHeaders(
  rawHeaders: readonly string[],
  provider: ModelProvider,
  options: { readonly apiKey: string; readonly placeholder: string; readonly bodyBytes: number },
): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = copyHeaders(
    rawHeaders,
    (name, value) => !DROPPED_REQUEST_HEADERS.has(name) && !value.includes(options.placeholder),
  );
  headers['content-type'] = 'application/json';
  headers['content-length'] = String(options.bodyBytes);
  // Usage is read from the answer on its way through, so it has to arrive uncompressed.
  headers['accept-encoding'] = 'identity';
  if (provider === 'anthropic') headers['x-api-key'] = options.apiKey;
  else if (provider === 'google') headers['x-goog-api-key'] = options.apiKey;
  else headers.authorization = `Bearer ${options.apiKey}`;
  return headers;
}

/**
 * The upstream request's path and query: the client's, as sent (`?beta=true`, `?alt=sse`), minus
 * the query parameters that carry a credential. For Google that is every `key` and
 * `access_token` (the real key travels in `x-goog-api-key` instead); for every provider, any
 * parameter whose text contains the placeholder, so it is never sent anywhere.
 */
export function upstreamTarget(
  target: string,
  provider: ModelProvider,
  placeholder: string,
): string {
  const path = pathnameOf(target);
  if (path.length === target.length) return target;
  const kept = queryParams(target)
    .filter(
      (param) =>
        !(provider === 'google' && GOOGLE_KEY_PARAMS.has(param.name)) &&
        !param.raw.includes(placeholder) &&
        !(param.value ?? '').includes(placeholder) &&
        !param.name.includes(placeholder),
    )
    .map((param) => param.raw);
  return kept.length === 0 ? path : `${path}?${kept.join('&')}`;
}

/**
 * The answer's headers for the client: status and content type pass through with everything
 * else the client may use (request ids, rate-limit and retry-after headers), minus hop-by-hop
 * headers, cookies and any header that carries a secret.
 */
export function clientResponseHeaders(
  rawHeaders: readonly string[],
  secrets: readonly string[],
): OutgoingHttpHeaders {
  return copyHeaders(
    rawHeaders,
    (name, value) =>
      !DROPPED_RESPONSE_HEADERS.has(name) &&
      !secrets.some((secret) => secret !== '' && value.includes(secret)),
  );
}
