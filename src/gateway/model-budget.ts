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
}

const LIMITS: ReadonlyArray<
  readonly [limit: BudgetLimit, spent: (totals: SpentTotals) => number, unit: string]
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

/**
 * The first limit the totals have reached, or null. Reaching a limit is enough: the call that
 * crosses it could not be priced before it ran, so it completes, and the next one is refused.
 */
export function budgetExceeded(totals: SpentTotals, budget: ModelBudget): BudgetExceeded | null {
  for (const [limit, spentOf, unit] of LIMITS) {
    const limitValue = budget[limit];
    if (limitValue === undefined) continue;
    const spentValue = spentOf(totals);
    if (spentValue >= limitValue) {
      return {
        limit,
        limitValue,
        spentValue,
        detail: describeSpend(limit, unit, spentValue, limitValue),
      };
    }
  }
  return null;
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
