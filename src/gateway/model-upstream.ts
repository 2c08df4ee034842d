import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { AasError } from '../kernel/index.js';
import type { ModelProvider } from './model-call-record.js';
import { isHeaderSafeKey } from './placeholder-key.js';

/** Where a provider's calls really go, and the key they really carry. */
export interface UpstreamConfig {
  /** `https://api.anthropic.com`, or with a path prefix: `https://proxy.example/openai`. */
  readonly baseUrl: string;
  readonly apiKey: string;
}

/** A validated upstream, ready to send to. */
export interface ModelUpstream {
  readonly provider: ModelProvider;
  readonly secure: boolean;
  /** Without IPv6 brackets, as node:http wants it. */
  readonly hostname: string;
  readonly port: number;
  /** The base URL's path without a trailing slash; '' for none. */
  readonly pathPrefix: string;
  /** `user:password` from the base URL, sent as basic auth; never shown. */
  readonly auth: string | undefined;
  readonly apiKey: string;
  /** `scheme://host:port` without credentials: the only form that appears in a log line. */
  readonly origin: string;
  /** What must never reach the agent or a log: the key and the URL's password. */
  readonly secrets: readonly string[];
  /** Kept-alive connections, so a call does not pay a TCP (and TLS) handshake each time. */
  readonly agent: HttpAgent;
}

export function parseUpstream(provider: ModelProvider, config: UpstreamConfig): ModelUpstream {
  const field = `upstreams.${provider}`;
  let url: URL;
  try {
    url = new URL(config.baseUrl);
  } catch {
    // The URL is not repeated: it may carry credentials.
    throw new AasError('INVALID_ARGUMENT', `${field}.baseUrl is not a valid URL`, { field });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new AasError('INVALID_ARGUMENT', `${field}.baseUrl must be http or https`, { field });
  }
  if (url.search !== '' || url.hash !== '') {
    throw new AasError('INVALID_ARGUMENT', `${field}.baseUrl may not have a query or fragment`, {
      field,
    });
  }
  if (!isHeaderSafeKey(config.apiKey)) {
    throw new AasError(
      'INVALID_ARGUMENT',
      `${field}.apiKey must be non-empty printable ASCII without spaces`,
      { field },
    );
  }
  const secure = url.protocol === 'https:';
  const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const port = url.port === '' ? (secure ? 443 : 80) : Number(url.port);
  const username = decodeURIComponent(url.username);
  const password = decodeURIComponent(url.password);
  const agentOptions = { keepAlive: true, noDelay: true };
  return {
    provider,
    secure,
    hostname,
    port,
    pathPrefix: url.pathname.replace(/\/+$/, ''),
    auth: username === '' && password === '' ? undefined : `${username}:${password}`,
    apiKey: config.apiKey,
    origin: `${url.protocol}//${url.host}`,
    secrets: [config.apiKey, ...(password.length >= 4 ? [password] : [])],
    agent: secure ? new HttpsAgent(agentOptions) : new HttpAgent(agentOptions),
  };
}

/** An API version segment: `v1`, `v1beta`, `v2alpha1`. */
const VERSION_SEGMENT = /^v\d+(?:(?:alpha|beta)\d*)?$/;

/**
 * The path a call to `target` (as the agent asked: `/v1/chat/completions`) takes upstream:
 * after the base URL's path, except that a version segment both end and begin with is said
 * once. OpenAI-compatible proxies are configured with the version in the base URL
 * (`http://proxy/v1`, as OpenAI's SDKs take OPENAI_BASE_URL), and their calls went to
 * `/v1/v1/chat/completions`.
 */
export function upstreamPath(upstream: Pick<ModelUpstream, 'pathPrefix'>, target: string): string {
  const last = upstream.pathPrefix.slice(upstream.pathPrefix.lastIndexOf('/') + 1);
  if (VERSION_SEGMENT.test(last) && (target === `/${last}` || target.startsWith(`/${last}/`))) {
    return `${upstream.pathPrefix}${target.slice(last.length + 1)}`;
  }
  return `${upstream.pathPrefix}${target}`;
}
