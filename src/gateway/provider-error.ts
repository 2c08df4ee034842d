import type { CallRefusal, ModelProvider } from './model-call-record.js';

/**
 * An error answer in the provider's own shape, so the agent's client library reports it as it
 * would a real one (and decides about retrying as it would for a real one).
 */
export interface ProviderErrorAnswer {
  readonly status: number;
  readonly body: string;
}

/**
 * The situations the gateway answers itself; each maps to a status and a provider error type
 * (for Google, its canonical status name: `{"error":{"code","message","status"}}`).
 */
export const GATEWAY_ERRORS = {
  auth: {
    status: 401,
    anthropic: 'authentication_error',
    openai: 'invalid_request_error',
    google: 'UNAUTHENTICATED',
  },
  unknown_route: {
    status: 404,
    anthropic: 'not_found_error',
    openai: 'invalid_request_error',
    google: 'NOT_FOUND',
  },
  bad_request: {
    status: 400,
    anthropic: 'invalid_request_error',
    openai: 'invalid_request_error',
    google: 'INVALID_ARGUMENT',
  },
  too_large: {
    status: 413,
    anthropic: 'request_too_large',
    openai: 'invalid_request_error',
    google: 'INVALID_ARGUMENT',
  },
  no_upstream: {
    status: 503,
    anthropic: 'api_error',
    openai: 'server_error',
    google: 'UNAVAILABLE',
  },
  upstream_error: {
    status: 502,
    anthropic: 'api_error',
    openai: 'server_error',
    google: 'UNAVAILABLE',
  },
  // Clients retry 429 and 5xx. Anthropic's do not retry a 400; OpenAI's agents (Codex) stop on
  // a 429 whose code is `insufficient_quota`, which is what a spent account looks like. A model
  // without a price under a cost budget is answered the same way: retrying cannot help either.
  //
  // Gemini CLI (@google/gemini-cli 0.61, through @google/genai) stops on a 400 and must not be
  // given a 429: its `isRetryableError` returns false for an `ApiError` whose status is 400 and
  // true for 429, 499 and 5xx, and `retryWithBackoff` retries up to 10 attempts; its
  // `classifyGoogleError` turns a 429 (or 503) into a `RetryableQuotaError`, or into a
  // `TerminalQuotaError` that `onPersistent429` answers by switching to a fallback model and
  // calling again. So a spent budget is a 400 INVALID_ARGUMENT, whose message must not say
  // "Please retry in …" (which that classifier reads as a retry delay at any status).
  budget: {
    status: 400,
    anthropic: 'invalid_request_error',
    openai: 'insufficient_quota',
    openaiStatus: 429,
    google: 'INVALID_ARGUMENT',
  },
  no_price: {
    status: 400,
    anthropic: 'invalid_request_error',
    openai: 'insufficient_quota',
    openaiStatus: 429,
    google: 'INVALID_ARGUMENT',
  },
} as const satisfies Record<
  string,
  {
    readonly status: number;
    readonly anthropic: string;
    readonly openai: string;
    readonly openaiStatus?: number;
    /** Google's canonical status name; its `code` is the HTTP status. */
    readonly google: string;
  }
>;
export type GatewayError = keyof typeof GATEWAY_ERRORS;

/** OpenAI's `code` field for the errors that have one. */
const OPENAI_CODES: Partial<Record<GatewayError, string>> = {
  auth: 'invalid_api_key',
  unknown_route: 'unknown_url',
  too_large: 'request_too_large',
  budget: 'insufficient_quota',
  no_price: 'insufficient_quota',
};

export function providerError(
  provider: ModelProvider,
  kind: GatewayError,
  message: string,
): ProviderErrorAnswer {
  const entry = GATEWAY_ERRORS[kind];
  if (provider === 'google') {
    return {
      status: entry.status,
      body: JSON.stringify({ error: { code: entry.status, message, status: entry.google } }),
    };
  }
  if (provider === 'anthropic') {
    return {
      status: entry.status,
      body: JSON.stringify({ type: 'error', error: { type: entry.anthropic, message } }),
    };
  }
  return {
    status: 'openaiStatus' in entry ? entry.openaiStatus : entry.status,
    body: JSON.stringify({
      error: { message, type: entry.openai, code: OPENAI_CODES[kind] ?? null, param: null },
    }),
  };
}

/** The refusal a gateway error is recorded as. */
export function refusalOf(kind: GatewayError): CallRefusal {
  return kind === 'too_large' ? 'bad_request' : kind;
}
