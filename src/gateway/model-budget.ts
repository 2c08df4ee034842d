import { AasError } from '../kernel/index.js';
import type { SpentTotals } from './model-call-record.js';

/** Limits on what one run may spend on model calls; a missing limit is no limit. */
export interface ModelBudget {
  readonly maxCostUsd?: number;
  readonly maxInputTokens?: number;
  readonly maxOutputTokens?: number;
}

export type BudgetLimit = keyof ModelBudget;

/** Which limit was reached, by how much, in words a person reads in a run's history. */
export interface BudgetExceeded {
  readonly limit: BudgetLimit;
  readonly limitValue: number;
  readonly spentValue: number;
  /**
   * `spent $0.0123 of the $0.01 cost limit`, `spent 120 output tokens of the 100-token output
   * limit`. Names no model, key or upstream.
   */
  readonly detail: string;
  /**
   * Set when no limit was reached but a forwarded call's answer carried no usage: its cost is
   * unknown, so no limit can be held any longer. `limit`, `limitValue` and `spentValue` then
   * name the first limit the budget sets and what was counted against it.
   */
  readonly unmetered?: true;
}

/** The detail of a budget given up on because a call could not be counted. */
export const UNMETERED_DETAIL =
  'a model answer carried no usage, so the budget can no longer be enforced';

/** What a limit counts. */
type Spend = Pick<SpentTotals, 'costUsd' | 'inputTokens' | 'outputTokens'>;

const LIMITS: ReadonlyArray<
  readonly [limit: BudgetLimit, spent: (spend: Spend) => number, unit: string]
> = [
  ['maxCostUsd', (totals) => totals.costUsd, 'cost'],
  ['maxInputTokens', (totals) => totals.inputTokens, 'input'],
  ['maxOutputTokens', (totals) => totals.outputTokens, 'output'],
];

function describeSpend(limit: BudgetLimit, unit: string, spent: number, max: number): string {
  if (limit !== 'maxCostUsd')
    return `spent ${spent} ${unit} tokens of the ${max}-token ${unit} limit`;
  // Enough digits that a small spend is not shown as $0.00.
  const dollars = (value: number) => `$${Number(value.toPrecision(6))}`;
  return `spent ${dollars(spent)} of the ${dollars(max)} cost limit`;
}

/** Whether the budget sets any limit at all. */
export function hasLimit(budget: ModelBudget): boolean {
  return LIMITS.some(([limit]) => budget[limit] !== undefined);
}

/**
 * The first limit the totals have reached, or null. Reaching a limit is enough: the call that
 * crosses it could not be priced before it ran, so it completes, and the next one is refused.
 * Under any limit, a forwarded call that could not be counted (`unmeteredCalls`) spends the
 * budget too: what it cost is unknown, so nothing more may be let through (fail closed).
 */
export function budgetExceeded(totals: SpentTotals, budget: ModelBudget): BudgetExceeded | null {
  let first: { limit: BudgetLimit; limitValue: number; spentValue: number } | null = null;
  for (const [limit, spentOf, unit] of LIMITS) {
    const limitValue = budget[limit];
    if (limitValue === undefined) continue;
    const spentValue = spentOf(totals);
    first ??= { limit, limitValue, spentValue };
    if (spentValue >= limitValue) {
      return {
        limit,
        limitValue,
        spentValue,
        detail: describeSpend(limit, unit, spentValue, limitValue),
      };
    }
  }
  if (first !== null && totals.unmeteredCalls > 0) {
    return { ...first, detail: UNMETERED_DETAIL, unmetered: true };
  }
  return null;
}

/**
 * Whether the totals plus `reserved` (what the calls still in flight may yet add) stay below
 * every limit the budget sets.
 */
export function leavesRoom(totals: Spend, reserved: Spend, budget: ModelBudget): boolean {
  return LIMITS.every(([limit, spentOf]) => {
    const limitValue = budget[limit];
    return limitValue === undefined || spentOf(totals) + spentOf(reserved) < limitValue;
  });
}

/** The error a runner ends the run with once the gateway reported the budget spent. */
export function budgetExceededError(reason: BudgetExceeded): AasError {
  return new AasError('BUDGET_EXCEEDED', `the run spent its model budget: ${reason.detail}`, {
    field: `budget.${reason.limit}`,
    limit: reason.limitValue,
    spent: reason.spentValue,
    hint: 'raise the limit in the job or policy, or make the task smaller',
  });
}

export function validateBudget(budget: ModelBudget): void {
  const problems: string[] = [];
  for (const [limit] of LIMITS) {
    const value = budget[limit];
    if (value !== undefined && !(Number.isFinite(value) && value >= 0)) {
      problems.push(`${limit} must be a number >= 0, got ${value}`);
    }
  }
  if (problems.length > 0) {
    throw new AasError('INVALID_ARGUMENT', `invalid model budget: ${problems.join('; ')}`, {
      field: 'budget',
    });
  }
}
