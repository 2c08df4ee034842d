import type { BudgetExceeded, BudgetLimit, ModelBudget } from '../gateway/index.js';
import type { EffectiveLimits } from '../policy/index.js';
import { type ModelSpend, NO_MODEL_SPEND } from '../store/index.js';
import type { ExecutionDeps, RunnerDeps } from './runner-deps.js';

/**
 * Whose budget: the run's (policy `limits.*`, every attempt and claim of the run together), the
 * session's (AAS_SESSION_MAX_COST_USD) or the repository's for the current UTC day
 * (AAS_REPO_DAILY_MAX_COST_USD).
 */
export const BudgetScope = {
  run: 'run',
  session: 'session',
  repositoryDay: 'repository-day',
} as const;
export type BudgetScope = (typeof BudgetScope)[keyof typeof BudgetScope];

/** A limit of one scope, and what the scope had spent before the attempt. */
export interface ScopeLimit {
  readonly scope: BudgetScope;
  readonly limit: BudgetLimit;
  readonly limitValue: number;
  readonly spentBefore: number;
  /** Where the limit is set, for the person who reads why a run stopped. */
  readonly setBy: string;
}

/** A limit that is reached, in the terms of its scope (never of the gateway's remainder). */
export interface BudgetBreach {
  readonly scope: BudgetScope;
  readonly limit: BudgetLimit;
  readonly limitValue: number;
  readonly spentValue: number;
  /** `run budget (limits.maxCostUsd): spent $0.0023 of the $0.002 cost limit`. */
  readonly detail: string;
}

/**
 * What one attempt may still spend. The gateway is given the remainder of every limit (cost: the
 * tightest remainder of all scopes), so a budget spent by earlier attempts, runs or sessions is
 * refused before anything is forwarded; `exhausted` says the attempt must not start at all.
 */
export interface ModelAllowance {
  /** For the gateway: what is left of each limit; an absent limit is no limit. */
  readonly budget: ModelBudget;
  /** The limit behind each of `budget`'s entries, to put a gateway report in its scope's terms. */
  readonly limits: Readonly<Partial<Record<BudgetLimit, ScopeLimit>>>;
  /** The first limit already reached before the attempt, or null. */
  readonly exhausted: BudgetBreach | null;
}

/** The day the repository-day budget counts: UTC midnight to midnight. */
export interface UtcDay {
  /** `2026-01-31`. */
  readonly date: string;
  readonly startIso: string;
  readonly endIso: string;
}

const DAY_MS = 86_400_000;

export function utcDayOf(nowMs: number): UtcDay {
  const startMs = Math.floor(nowMs / DAY_MS) * DAY_MS;
  const startIso = new Date(startMs).toISOString();
  return {
    date: startIso.slice(0, 10),
    startIso,
    endIso: new Date(startMs + DAY_MS).toISOString(),
  };
}

/**
 * A remainder below a nano-dollar is spent: sums of float costs can leave 1e-18 where the
 * limit was met exactly, and that must not buy one more call.
 */
const COST_EPSILON_USD = 1e-9;

const dollars = (value: number) => `$${Number(value.toPrecision(6))}`;

function describeBreach(limit: ScopeLimit, spentValue: number): string {
  const scopeWords = limit.scope === BudgetScope.run ? 'run budget' : `${limit.scope} budget`;
  if (limit.limitValue === 0) {
    // "spent $0 of the $0 cost limit" reads as a fault; a limit of 0 is a choice.
    const kind =
      limit.limit === 'maxCostUsd'
        ? 'cost limit is $0'
        : `${limit.limit === 'maxInputTokens' ? 'input' : 'output'}-token limit is 0`;
    return `${scopeWords} (${limit.setBy}): the ${kind}, which allows no model call`;
  }
  const spent =
    limit.limit === 'maxCostUsd'
      ? `spent ${dollars(spentValue)} of the ${dollars(limit.limitValue)} cost limit`
      : `spent ${spentValue} ${limit.limit === 'maxInputTokens' ? 'input' : 'output'} tokens of the ${limit.limitValue}-token ${limit.limit === 'maxInputTokens' ? 'input' : 'output'} limit`;
  return `${scopeWords} (${limit.setBy}): ${spent}`;
}

function reached(limit: ScopeLimit): boolean {
  const epsilon = limit.limit === 'maxCostUsd' ? COST_EPSILON_USD : 0;
  return limit.spentBefore >= limit.limitValue - epsilon;
}

/**
 * The allowance of one attempt from the limits and what each scope has spent. Pure: the
 * arithmetic of budgets, separate from where the numbers come from.
 */
export function modelAllowance(input: {
  readonly policyLimits: ModelAllowanceLimits;
  readonly budgets: RunnerDeps['budgets'];
  readonly spent: {
    readonly run: ModelSpend;
    readonly session: ModelSpend;
    readonly repositoryDay: ModelSpend;
  };
  readonly repo: string;
  readonly day: UtcDay;
}): ModelAllowance {
  const { policyLimits, budgets, spent } = input;
  const costLimits: ScopeLimit[] = [];
  if (policyLimits.maxCostUsd !== null) {
    costLimits.push({
      scope: BudgetScope.run,
      limit: 'maxCostUsd',
      limitValue: policyLimits.maxCostUsd,
      spentBefore: spent.run.costUsd,
      setBy: 'limits.maxCostUsd',
    });
  }
  if (budgets.sessionMaxCostUsd !== undefined) {
    costLimits.push({
      scope: BudgetScope.session,
      limit: 'maxCostUsd',
      limitValue: budgets.sessionMaxCostUsd,
      spentBefore: spent.session.costUsd,
      setBy: 'AAS_SESSION_MAX_COST_USD',
    });
  }
  if (budgets.repoDailyMaxCostUsd !== undefined) {
    costLimits.push({
      scope: BudgetScope.repositoryDay,
      limit: 'maxCostUsd',
      limitValue: budgets.repoDailyMaxCostUsd,
      spentBefore: spent.repositoryDay.costUsd,
      setBy: `AAS_REPO_DAILY_MAX_COST_USD, ${input.repo} on ${input.day.date} UTC`,
    });
  }
  const tokenLimits: ScopeLimit[] = [];
  if (policyLimits.maxInputTokens !== null) {
    tokenLimits.push({
      scope: BudgetScope.run,
      limit: 'maxInputTokens',
      limitValue: policyLimits.maxInputTokens,
      spentBefore: spent.run.inputTokens,
      setBy: 'limits.maxInputTokens',
    });
  }
  if (policyLimits.maxOutputTokens !== null) {
    tokenLimits.push({
      scope: BudgetScope.run,
      limit: 'maxOutputTokens',
      limitValue: policyLimits.maxOutputTokens,
      spentBefore: spent.run.outputTokens,
      setBy: 'limits.maxOutputTokens',
    });
  }

  const all = [...costLimits, ...tokenLimits];
  const first = all.find(reached);
  const exhausted =
    first === undefined
      ? null
      : {
          scope: first.scope,
          limit: first.limit,
          limitValue: first.limitValue,
          spentValue: first.spentBefore,
          detail: describeBreach(first, first.spentBefore),
        };

  // The tightest remainder wins; on a tie the narrower scope (run, then session) is named.
  const remainder = (limit: ScopeLimit) => Math.max(0, limit.limitValue - limit.spentBefore);
  const tightestCost = costLimits.reduce<ScopeLimit | undefined>(
    (best, limit) => (best === undefined || remainder(limit) < remainder(best) ? limit : best),
    undefined,
  );
  const budget: { -readonly [K in BudgetLimit]?: number } = {};
  const limits: Partial<Record<BudgetLimit, ScopeLimit>> = {};
  for (const limit of tightestCost === undefined ? tokenLimits : [tightestCost, ...tokenLimits]) {
    budget[limit.limit] = remainder(limit);
    limits[limit.limit] = limit;
  }
  return { budget, limits, exhausted };
}

/**
 * The gateway reports against the remainder it was given; the run's history names the scope
 * whose limit that remainder was, with that scope's own limit and total.
 */
export function breachOf(allowance: ModelAllowance, reason: BudgetExceeded): BudgetBreach {
  const limit = allowance.limits[reason.limit];
  // An answer without usage makes any limit unenforceable: its own words say so.
  if (limit === undefined || reason.unmetered === true) {
    // The gateway enforces only what it was given, so this is not expected; keep its words.
    return { scope: limit?.scope ?? BudgetScope.run, ...reason };
  }
  const spentValue = limit.spentBefore + reason.spentValue;
  return {
    scope: limit.scope,
    limit: limit.limit,
    limitValue: limit.limitValue,
    spentValue,
    detail: describeBreach(limit, spentValue),
  };
}

/**
 * Reads what each limited scope has spent and works out the attempt's allowance. Only scopes
 * with a limit are read; each read sums an index of the spend rows (see Store.modelSpend).
 */
export async function loadModelAllowance(
  deps: Pick<ExecutionDeps, 'store' | 'clock' | 'budgets'>,
  input: {
    readonly runId: string;
    readonly sessionId: string;
    readonly repo: string;
    readonly policyLimits: ModelAllowanceLimits;
  },
): Promise<ModelAllowance> {
  const { policyLimits } = input;
  const day = utcDayOf(deps.clock.nowMs());
  const runLimited =
    policyLimits.maxCostUsd !== null ||
    policyLimits.maxInputTokens !== null ||
    policyLimits.maxOutputTokens !== null;
  const [run, session, repositoryDay] = await Promise.all([
    runLimited ? deps.store.modelSpend({ runId: input.runId }) : NO_MODEL_SPEND,
    deps.budgets.sessionMaxCostUsd === undefined
      ? NO_MODEL_SPEND
      : deps.store.modelSpend({ sessionId: input.sessionId }),
    deps.budgets.repoDailyMaxCostUsd === undefined
      ? NO_MODEL_SPEND
      : deps.store.modelSpend({ repo: input.repo, fromIso: day.startIso, toIso: day.endIso }),
  ]);
  return modelAllowance({
    policyLimits,
    budgets: deps.budgets,
    spent: { run, session, repositoryDay },
    repo: input.repo,
    day,
  });
}

export type ModelAllowanceLimits = Pick<
  EffectiveLimits,
  'maxCostUsd' | 'maxInputTokens' | 'maxOutputTokens'
>;
