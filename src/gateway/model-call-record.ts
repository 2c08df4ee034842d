/** The providers whose APIs the gateway speaks; each has its own upstream and error shapes. */
export const MODEL_PROVIDERS = ['anthropic', 'openai', 'google'] as const;
export type ModelProvider = (typeof MODEL_PROVIDERS)[number];

/**
 * The model APIs the gateway forwards. Only `count_tokens` (Anthropic's `/v1/messages/count_tokens`
 * and Google's `:countTokens`) is never costed. `generate_content` is Google's
 * `:generateContent` and `:streamGenerateContent`, told apart by the record's `stream`.
 */
export const MODEL_APIS = [
  'messages',
  'count_tokens',
  'responses',
  'chat.completions',
  'generate_content',
] as const;
export type ModelApi = (typeof MODEL_APIS)[number];

/**
 * Why the gateway answered a call itself instead of (or after) the upstream:
 * - `budget`: a budget limit was already reached, or an earlier call answered without usage left
 *   the budget unenforceable; nothing was forwarded.
 * - `auth`: the placeholder key was missing or wrong; nothing was forwarded.
 * - `unknown_route`: not one of the forwarded routes.
 * - `no_price`: the run has a cost budget and the model has no price, so its cost could not be
 *   counted (fail closed); nothing was forwarded.
 * - `no_upstream`: the provider has no upstream configured.
 * - `bad_request`: the body is not a JSON object, is too large, or uses an unsupported encoding.
 * - `upstream_error`: the upstream could not be reached, timed out or broke off its answer.
 */
export const CALL_REFUSALS = [
  'budget',
  'auth',
  'unknown_route',
  'no_price',
  'no_upstream',
  'bad_request',
  'upstream_error',
] as const;
export type CallRefusal = (typeof CALL_REFUSALS)[number];

/** Tokens of one call. `inputTokens` includes the cached ones; 0 when the answer said nothing. */
export interface TokenUsage {
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly cachedInputTokens: number;
}

export const NO_USAGE: TokenUsage = { inputTokens: 0, outputTokens: 0, cachedInputTokens: 0 };

/** One call through the gateway, reported once it has completed or failed. */
export interface ModelCallRecord extends TokenUsage {
  readonly provider: ModelProvider;
  /** null only for `unknown_route`, where the path names no API. */
  readonly api: ModelApi | null;
  /**
   * The model asked for: the request body's `model`, or for Google the one the path names
   * (`/v1beta/models/{model}:…`); null when the body was not read or named none.
   */
  readonly model: string | null;
  /**
   * The status the client got: the upstream's, or the gateway's own for a refusal. 499 when the
   * client went away before any status was sent.
   */
  readonly status: number;
  /** The request asked for a stream (`"stream": true`, or Google's `:streamGenerateContent`). */
  readonly stream: boolean;
  /** 0 for count_tokens, refusals, and models without a price. */
  readonly costUsd: number;
  readonly latencyMs: number;
  /** null when the upstream answered in full (whatever its status) or the client left early. */
  readonly refused: CallRefusal | null;
  /**
   * The call was forwarded, costs money (not count_tokens) and was answered 2xx, but no usage
   * could be read from the answer (none reported, an unreadable format, or a stream cut before
   * its first report), so its tokens and cost are recorded as 0 although they were not. Under a
   * budget the gateway refuses every later call: the budget can no longer be enforced.
   */
  readonly unmetered: boolean;
}

/** Running totals over every call that was forwarded to an upstream. */
export interface SpentTotals extends TokenUsage {
  readonly calls: number;
  readonly costUsd: number;
  /** Forwarded calls whose usage could not be read (see `ModelCallRecord.unmetered`). */
  readonly unmeteredCalls: number;
}
