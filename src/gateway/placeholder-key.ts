import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ModelProvider } from './model-call-record.js';
import { GOOGLE_KEY_PARAMS, queryParams } from './model-routes.js';

/**
 * A fresh per-run key for the agent's environment (ANTHROPIC_API_KEY, OPENAI_API_KEY,
 * GEMINI_API_KEY). It is worth nothing outside the gateway of its run, so the agent may read,
 * log or leak it.
 */
export function newPlaceholderKey(): string {
  return `aas-run-${randomBytes(24).toString('base64url')}`;
}

/** Printable ASCII without spaces: safe in a header, and free of line breaks. */
export function isHeaderSafeKey(key: string): boolean {
  return /^[\x21-\x7e]+$/.test(key);
}

/**
 * Equal in time that does not depend on where the strings differ, or on their lengths: both
 * sides are hashed to the same length first.
 */
function constantTimeEqual(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/**
 * Every key the request presents: `Authorization: Bearer K` for every provider; for Anthropic,
 * `x-api-key: K`; for Google, `x-goog-api-key: K` (what `@google/genai` sends) and the `?key=K`,
 * `?$key=K` and `?access_token=K` query parameters. An Authorization header of any other form,
 * or a query value that does not decode, presents null, which never matches: the key is accepted
 * only where the providers' clients put it.
 */
function presentedKeys(
  rawHeaders: readonly string[],
  provider: ModelProvider,
  target: string,
): (string | null)[] {
  const keys: (string | null)[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]?.toLowerCase();
    const value = (rawHeaders[i + 1] ?? '').trim();
    if (name === 'authorization') {
      const bearer = /^bearer\s+(\S+)$/i.exec(value);
      keys.push(bearer?.[1] ?? null);
    } else if (
      (name === 'x-api-key' && provider === 'anthropic') ||
      (name === 'x-goog-api-key' && provider === 'google')
    ) {
      keys.push(value);
    }
  }
  if (provider === 'google') {
    for (const param of queryParams(target)) {
      if (GOOGLE_KEY_PARAMS.has(param.name)) keys.push(param.value);
    }
  }
  return keys;
}

/** At least one key is presented and every presented key is the placeholder. */
export function presentsPlaceholder(
  request: { readonly rawHeaders: readonly string[]; readonly target: string },
  provider: ModelProvider,
  placeholder: string,
): boolean {
  const keys = presentedKeys(request.rawHeaders, provider, request.target);
  let allMatch = keys.length > 0;
  // No early exit: every presented key is compared.
  for (const key of keys)
    allMatch = key !== null && constantTimeEqual(key, placeholder) && allMatch;
  return allMatch;
}
