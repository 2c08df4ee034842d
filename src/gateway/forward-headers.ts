import type { OutgoingHttpHeaders } from 'node:http';
import type { ModelProvider } from './model-call-record.js';
import { pathnameOf, queryParams } from './model-routes.js';

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
 * client's Host, and the framing and encoding of a body the gateway re-sends itself. Also the
 * Google system parameters sent as headers that change what the answer says or what the request
 * does: `X-Goog-FieldMask` (the header form of `?fields=`) can leave `usageMetadata` out of the
 * answer, so the call could not be counted; `X-HTTP-Method-Override` turns the POST into another
 * method; `X-Goog-Api-Version` picks another version of the API and its answer shape. The other
 * system headers (`X-Goog-Api-Client`, `X-Goog-User-Project`, `X-Goog-Quota-User`,
 * `X-Goog-Request-Reason`, `X-Server-Timeout`) only attribute or bound the call, and pass.
 * They are dropped for every provider: an upstream behind Google's front end (its
 * OpenAI-compatible endpoint) reads them too.
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
  'x-goog-fieldmask',
  'x-http-method-override',
  'x-goog-api-version',
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
 * x-goog-api-client, user agent, …) minus credentials, cookies, framing and the Google system
 * headers that reshape the answer (`DROPPED_REQUEST_HEADERS`), plus the real key in
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

/** The only values of Google's `alt` system parameter the gateway forwards. */
const GOOGLE_ALT_VALUES: ReadonlySet<string> = new Set(['sse', 'json']);

/** What the gateway makes of a Google request's query: the `alt` it forwards, or why not. */
export type GoogleQuery =
  | { readonly kind: 'ok'; readonly alt: 'sse' | 'json' | null }
  | { readonly kind: 'bad'; readonly message: string };

/**
 * A Google request's query is reduced to one system parameter, `alt` (or `$alt`), whose value
 * must be `sse` or `json`; `proto` or `media` would answer in a format the gateway cannot read
 * the usage from, so they, and `alt`s that disagree, are a bad request. Every other parameter is
 * dropped: `generateContent` takes none of its own, and Google's system parameters include
 * `fields` / `$fields`, a field mask that leaves `usageMetadata` out of the answer (so the call
 * would count $0), `$key` and `$ct`, besides `key` and `access_token`.
 */
export function googleQuery(target: string): GoogleQuery {
  let alt: string | null = null;
  for (const param of queryParams(target)) {
    if (param.name !== 'alt' && param.name !== '$alt') continue;
    const value = param.value ?? '';
    if (!GOOGLE_ALT_VALUES.has(value) || (alt !== null && alt !== value)) {
      return {
        kind: 'bad',
        message: `AAS: the gateway forwards only alt=sse or alt=json, not alt=${shownValue(value)}`,
      };
    }
    alt = value;
  }
  return { kind: 'ok', alt: alt as 'sse' | 'json' | null };
}

function shownValue(value: string): string {
  return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
}

/**
 * The upstream request's path and query. For Google, the path and at most `alt=sse` or
 * `alt=json` (see `googleQuery`; a request with another `alt` is refused before this). For the
 * other providers the client's query as sent (`?beta=true`), minus any parameter whose text
 * contains the placeholder: the placeholder opens nothing upstream, but it is the agent's
 * credential for this gateway and stays out of the upstream's logs. (It can still reach the
 * upstream as part of a path, such as a Google model name the agent chose, where it is harmless.)
 */
export function upstreamTarget(
  target: string,
  provider: ModelProvider,
  placeholder: string,
): string {
  const path = pathnameOf(target);
  if (provider === 'google') {
    const query = googleQuery(target);
    return query.kind === 'ok' && query.alt !== null ? `${path}?alt=${query.alt}` : path;
  }
  if (path.length === target.length) return target;
  const kept = queryParams(target)
    .filter(
      (param) =>
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
  options: { readonly decoded?: boolean } = {},
): OutgoingHttpHeaders {
  return copyHeaders(
    rawHeaders,
    (name, value) =>
      !DROPPED_RESPONSE_HEADERS.has(name) &&
      // A body the gateway decompressed goes on uncompressed, at a length not known up front.
      !(options.decoded === true && (name === 'content-encoding' || name === 'content-length')) &&
      !secrets.some((secret) => secret !== '' && value.includes(secret)),
  );
}
