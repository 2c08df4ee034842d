import { describe, expect, it } from 'vitest';
import { isAasError } from '../kernel/index.js';
import { DEFAULT_PRICES } from './default-prices.js';
import { costOf, type PriceTable, priceFor, validatePriceTable } from './price-table.js';

const price = (input: number) => ({ inputPerMTokUsd: input, outputPerMTokUsd: input * 4 });

const TABLE: PriceTable = {
  '*': price(100),
  'gpt-*': price(1),
  'gpt-5*': price(2),
  'gpt-5-mini*': price(3),
  'gpt-5-mini': price(4),
  'claude-sonnet-4-5': price(5),
};

describe('priceFor', () => {
  it('prefers an exact id to any pattern', () => {
    expect(priceFor(TABLE, 'gpt-5-mini')).toEqual(price(4));
    expect(priceFor(TABLE, 'claude-sonnet-4-5')).toEqual(price(5));
  });

  it('takes the longest matching prefix pattern', () => {
    expect(priceFor(TABLE, 'gpt-5-mini-2025-08-07')).toEqual(price(3));
    expect(priceFor(TABLE, 'gpt-5-codex')).toEqual(price(2));
    expect(priceFor(TABLE, 'gpt-4o')).toEqual(price(1));
    // A bare '*' is the default for everything else.
    expect(priceFor(TABLE, 'claude-opus-4-1')).toEqual(price(100));
  });

  it('is null when nothing matches, and patterns are prefixes, not substrings', () => {
    const table: PriceTable = { 'gpt-5*': price(2), 'claude-sonnet-4-5': price(5) };
    expect(priceFor(table, 'mystery')).toBeNull();
    expect(priceFor(table, 'my-gpt-5')).toBeNull();
    // An exact id is not a prefix.
    expect(priceFor(table, 'claude-sonnet-4-5-20250929')).toBeNull();
    // Keys are the table's own, not Object.prototype's.
    expect(priceFor(table, 'constructor')).toBeNull();
    expect(priceFor(table, '__proto__')).toBeNull();
  });
});

describe('DEFAULT_PRICES', () => {
  it('is a valid table', () => {
    expect(() => validatePriceTable(DEFAULT_PRICES)).not.toThrow();
  });

  it('prices Gemini models, as the request path names them, by their most specific family', () => {
    const input = (model: string) => priceFor(DEFAULT_PRICES, model)?.inputPerMTokUsd ?? null;
    expect(input('gemini-2.5-pro')).toBe(1.25);
    expect(input('gemini-2.5-flash')).toBe(0.3);
    expect(input('gemini-2.5-flash-preview-09-2025')).toBe(0.3);
    expect(input('gemini-2.5-flash-lite')).toBe(0.1);
    expect(input('gemini-2.5-flash-lite-preview-09-2025')).toBe(0.1);
    expect(input('gemini-3-pro-preview')).toBe(2);
    expect(input('gemini-3.1-pro-preview-customtools')).toBe(2);
    expect(input('gemini-3-flash-preview')).toBe(0.5);
    expect(input('gemini-3.1-flash-lite-preview')).toBe(0.25);
    // A family without a published price here is not guessed at.
    expect(input('gemini-3.5-flash')).toBeNull();
    expect(priceFor(DEFAULT_PRICES, 'gemini-2.5-pro')?.outputPerMTokUsd).toBe(10);
  });

  it('prices image and speech models as such, not as the text family whose prefix they share', () => {
    const price = (model: string) => {
      const found = priceFor(DEFAULT_PRICES, model);
      return found === null ? null : [found.inputPerMTokUsd, found.outputPerMTokUsd];
    };
    expect(price('gemini-2.5-flash-image')).toEqual([0.3, 30]);
    expect(price('gemini-2.5-flash-image-preview')).toEqual([0.3, 30]);
    expect(price('gemini-3-pro-image-preview')).toEqual([2, 120]);
    expect(price('gemini-2.5-flash-preview-tts')).toEqual([0.5, 10]);
    expect(price('gemini-2.5-pro-preview-tts')).toEqual([1, 20]);
    expect(price('gemini-2.5-flash-native-audio-preview-09-2025')).toEqual([3, 12]);
    // Cached input, which these models do not offer, costs the input price.
    expect(priceFor(DEFAULT_PRICES, 'gemini-2.5-flash-image')?.cachedInputPerMTokUsd).toBe(
      undefined,
    );
    // The text models of those families keep their own prices.
    expect(price('gemini-2.5-flash-preview-09-2025')).toEqual([0.3, 2.5]);
    expect(price('gemini-3-pro-preview')).toEqual([2, 12]);
    // An image model of a family priced here only for text is not guessed at.
    expect(price('gemini-3.1-flash-image-preview')).toBeNull();
  });
});

describe('costOf', () => {
  it('prices uncached input, cached input and output per million tokens', () => {
    const sonnet = { inputPerMTokUsd: 3, outputPerMTokUsd: 15, cachedInputPerMTokUsd: 0.3 };
    const usage = { inputTokens: 1_000_000, cachedInputTokens: 400_000, outputTokens: 100_000 };
    expect(costOf(usage, sonnet)).toBeCloseTo(600_000 * 3e-6 + 400_000 * 0.3e-6 + 1.5, 12);
  });

  it('charges cached input at the input price when it has no price of its own', () => {
    const plain = { inputPerMTokUsd: 2, outputPerMTokUsd: 8 };
    const usage = { inputTokens: 500, cachedInputTokens: 200, outputTokens: 10 };
    expect(costOf(usage, plain)).toBeCloseTo((500 * 2 + 10 * 8) / 1e6, 15);
  });

  it('never counts more cached tokens than input tokens', () => {
    const prices = { inputPerMTokUsd: 1, outputPerMTokUsd: 1, cachedInputPerMTokUsd: 0 };
    expect(costOf({ inputTokens: 10, cachedInputTokens: 50, outputTokens: 0 }, prices)).toBe(0);
  });
});

describe('validatePriceTable', () => {
  it('accepts ids and trailing patterns, and refuses anything a budget could not trust', () => {
    expect(() => validatePriceTable(TABLE)).not.toThrow();
    const bad: PriceTable[] = [
      { 'gpt-*-mini': price(1) },
      { '': price(1) },
      { 'gpt**': price(1) },
      { 'gpt-5': { inputPerMTokUsd: -1, outputPerMTokUsd: 1 } },
      { 'gpt-5': { inputPerMTokUsd: 1, outputPerMTokUsd: Number.POSITIVE_INFINITY } },
      { 'gpt-5': { inputPerMTokUsd: 1, outputPerMTokUsd: 1, cachedInputPerMTokUsd: Number.NaN } },
    ];
    for (const table of bad) {
      let thrown: unknown = null;
      try {
        validatePriceTable(table);
      } catch (error) {
        thrown = error;
      }
      expect(isAasError(thrown) && thrown.code, JSON.stringify(table)).toBe('INVALID_ARGUMENT');
    }
  });
});
