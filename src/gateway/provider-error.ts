import type { CallRefusal, ModelProvider } from './model-call-record.js';

/**
 * An error answer in the provider's own shape, so the agent's client library reports it as it
 * would a real one (and decides about retrying as it would for a real one).
 */
export interface ProviderErrorAnswer {
  readonly status: number;
  readonly body: string;
}

/** The situations the gateway answers itself; each maps to a status and a provider error type. */
export const GATEWAY_ERRORS = {
  auth: { status: 401, anthropic: 'authentication_error', openai: 'invalid_request_error' },
  unknown_route: { status: 404, anthropic: 'not_found_error', openai: 'invalid_request_error' },
  bad_request: { status: 400, anthropic: 'invalid_request_error', openai: 'invalid_request_error' },
  too_large: { status: 413, anthropic: 'request_too_large', openai: 'invalid_request_error' },
  no_upstream: { status: 503, anthropic: 'api_error', openai: 'server_error' },
  upstream_error: { status: 502, anthropic: 'api_error', openai: 'server_error' },
  // Clients retry 429 and 5xx. Anthropic's do not retry a 400; OpenAI's agents (Codex) stop on
  // a 429 whose code is `insufficient_quota`, which is what a spent account looks like. A model
  // without a price under a cost budget is answered the same way: retrying cannot help either.
  budget: {
    status: 400,
    anthropic: 'invalid_request_error',
    openai: 'insufficient_quota',
    openaiStatus: 429,
  },
  no_price: {
    status: 400,
    anthropic: 'invalid_request_error',
    openai: 'insufficient_quota',
    openaiStatus: 429,
  },
} as const satisfies Record<
  string,
  {
    readonly status: number;
    readonly anthropic: string;
    readonly openai: string;
    readonly openaiStatus?: number;
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
