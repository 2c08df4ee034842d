import { describe, expect, it } from 'vitest';
import { budgetExceeded, hasLimit, leavesRoom, UNMETERED_DETAIL } from './model-budget.js';
import type { SpentTotals } from './model-call-record.js';

const totals = (overrides: Partial<SpentTotals> = {}): SpentTotals => ({
  calls: 1,
  inputTokens: 100,
  outputTokens: 50,
  cachedInputTokens: 0,
  costUsd: 0.01,
  unmeteredCalls: 0,
  ...overrides,
});

describe('budgetExceeded', () => {
  it('names the first limit reached', () => {
    expect(budgetExceeded(totals({ costUsd: 0.02 }), { maxCostUsd: 0.02 })).toEqual({
      limit: 'maxCostUsd',
      limitValue: 0.02,
      spentValue: 0.02,
      detail: 'spent $0.02 of the $0.02 cost limit',
    });
    expect(budgetExceeded(totals(), { maxCostUsd: 1, maxOutputTokens: 10_000 })).toBeNull();
  });

  it('gives any budget up once a call could not be counted, and no budget has nothing to give up', () => {
    const unmetered = totals({ unmeteredCalls: 1 });
    expect(budgetExceeded(unmetered, { maxOutputTokens: 1000, maxInputTokens: 500 })).toEqual({
      limit: 'maxInputTokens',
      limitValue: 500,
      spentValue: 100,
      detail: UNMETERED_DETAIL,
      unmetered: true,
    });
    expect(budgetExceeded(unmetered, {})).toBeNull();
    // A limit actually reached is named as such.
    expect(
      budgetExceeded(totals({ unmeteredCalls: 1, costUsd: 2 }), { maxCostUsd: 1 }),
    ).toMatchObject({ limit: 'maxCostUsd', detail: 'spent $2 of the $1 cost limit' });
    expect(hasLimit({})).toBe(false);
    expect(hasLimit({ maxOutputTokens: 0 })).toBe(true);
  });
});

describe('leavesRoom', () => {
  const none = { costUsd: 0, inputTokens: 0, outputTokens: 0 };

  it('is true only while the totals and the reserve stay below every limit', () => {
    const spent = totals();
    expect(leavesRoom(spent, none, {})).toBe(true);
    expect(leavesRoom(spent, { ...none, costUsd: 0.03 }, { maxCostUsd: 0.05 })).toBe(true);
    expect(leavesRoom(spent, { ...none, costUsd: 0.04 }, { maxCostUsd: 0.05 })).toBe(false);
    expect(
      leavesRoom(spent, { ...none, outputTokens: 50 }, { maxCostUsd: 1, maxOutputTokens: 100 }),
    ).toBe(false);
  });
});
