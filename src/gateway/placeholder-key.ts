import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ModelProvider } from './model-call-record.js';

/**
 * A fresh per-run key for the agent's environment (ANTHROPIC_API_KEY, OPENAI_API_KEY). It is
 * worth nothing outside the gateway of its run, so the agent may read, log or leak it.
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
 * Every key the request presents: `Authorization: Bearer K` for both providers and, for
 * Anthropic, `x-api-key: K`. An Authorization header of any other form presents null, which
 * never matches: the key is accepted only where the providers' clients put it.
 */
function presentedKeys(rawHeaders: readonly string[], provider: ModelProvider): (string | null)[] {
  const keys: (string | null)[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]?.toLowerCase();
    const value = (rawHeaders[i + 1] ?? '').trim();
    if (name === 'authorization') {
      const bearer = /^bearer\s+(\S+)$/i.exec(value);
      keys.push(bearer?.[1] ?? null);
    } else if (name === 'x-api-key' && provider === 'anthropic') {
      keys.push(value);
    }
  }
  return keys;
}

/** At least one key is presented and every presented key is the placeholder. */
export function presentsPlaceholder(
  rawHeaders: readonly string[],
  provider: ModelProvider,
  placeholder: string,
): boolean {
  const keys = presentedKeys(rawHeaders, provider);
  let allMatch = keys.length > 0;
  // No early exit: every presented key is compared.
  for (const key of keys)
    allMatch = key !== null && constantTimeEqual(key, placeholder) && allMatch;
  return allMatch;
}
