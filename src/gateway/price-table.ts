import { AasError } from '../kernel/index.js';
import type { TokenUsage } from './model-call-record.js';

/** US dollars per million tokens. Cached input costs the input price unless it has its own. */
export interface ModelPrice {
  readonly inputPerMTokUsd: number;
  readonly outputPerMTokUsd: number;
  readonly cachedInputPerMTokUsd?: number;
}

/**
 * Keys are model ids (`claude-sonnet-4-5`) or prefix patterns ending in `*` (`gpt-5*`; a bare
 * `*` prices every model). An exact id wins over any pattern; among patterns the longest wins.
 */
export type PriceTable = Readonly<Record<string, ModelPrice>>;

export function priceFor(prices: PriceTable, model: string): ModelPrice | null {
  const exact = Object.hasOwn(prices, model) ? prices[model] : undefined;
  if (exact !== undefined && !model.endsWith('*')) return exact;
  let best: ModelPrice | null = null;
  let bestLength = -1;
  for (const [pattern, price] of Object.entries(prices)) {
    if (!pattern.endsWith('*')) continue;
    const prefix = pattern.slice(0, -1);
    if (prefix.length > bestLength && model.startsWith(prefix)) {
      best = price;
      bestLength = prefix.length;
    }
  }
  return best;
}

/** Cost of one call: uncached input, cached input and output, each at its own price. */
export function costOf(usage: TokenUsage, price: ModelPrice): number {
  const cached = Math.min(usage.cachedInputTokens, usage.inputTokens);
  const uncached = usage.inputTokens - cached;
  const cachedPrice = price.cachedInputPerMTokUsd ?? price.inputPerMTokUsd;
  return (
    (uncached * price.inputPerMTokUsd +
      cached * cachedPrice +
      usage.outputTokens * price.outputPerMTokUsd) /
    1_000_000
  );
}

/** Refuses a table a budget could not be trusted with: negative, infinite or missing prices. */
export function validatePriceTable(prices: PriceTable): void {
  const problems: string[] = [];
  const valid = (value: unknown): boolean =>
    typeof value === 'number' && Number.isFinite(value) && value >= 0;
  for (const [pattern, price] of Object.entries(prices)) {
    if (pattern === '' || pattern.indexOf('*') !== pattern.lastIndexOf('*')) {
      problems.push(`${JSON.stringify(pattern)} is not a model id or a prefix ending in '*'`);
    } else if (pattern.includes('*') && !pattern.endsWith('*')) {
      problems.push(`${JSON.stringify(pattern)}: '*' may only end a pattern`);
    }
    for (const field of ['inputPerMTokUsd', 'outputPerMTokUsd'] as const) {
      if (!valid(price[field])) problems.push(`${pattern}.${field} must be a number >= 0`);
    }
    if (price.cachedInputPerMTokUsd !== undefined && !valid(price.cachedInputPerMTokUsd)) {
      problems.push(`${pattern}.cachedInputPerMTokUsd must be a number >= 0`);
    }
  }
  if (problems.length > 0) {
    throw new AasError('INVALID_ARGUMENT', `invalid model price table: ${problems.join('; ')}`, {
      field: 'prices',
    });
  }
}
