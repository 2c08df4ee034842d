import { describe, expect, it } from 'vitest';
import { ManualClock } from '../kernel/index.js';
import {
  type ModelSpend,
  type ModelSpendScope,
  NO_MODEL_SPEND,
  type Store,
} from '../store/index.js';
import {
  breachOf,
  loadModelAllowance,
  type ModelAllowanceLimits,
  modelAllowance,
  utcDayOf,
} from './model-allowance.js';

const NO_LIMITS: ModelAllowanceLimits = {
  maxCostUsd: null,
  maxInputTokens: null,
  maxOutputTokens: null,
};
const DAY = utcDayOf(Date.UTC(2026, 0, 31, 15));

const spend = (costUsd: number, tokens: Partial<ModelSpend> = {}): ModelSpend => ({
  ...NO_MODEL_SPEND,
  calls: 1,
  costUsd,
  ...tokens,
});

function allowance(input: {
  limits?: Partial<ModelAllowanceLimits>;
  budgets?: { sessionMaxCostUsd?: number; repoDailyMaxCostUsd?: number };
  run?: ModelSpend;
  session?: ModelSpend;
  repositoryDay?: ModelSpend;
}) {
  return modelAllowance({
    policyLimits: { ...NO_LIMITS, ...input.limits },
    budgets: input.budgets ?? {},
    spent: {
      run: input.run ?? NO_MODEL_SPEND,
      session: input.session ?? NO_MODEL_SPEND,
      repositoryDay: input.repositoryDay ?? NO_MODEL_SPEND,
    },
    repo: '/repos/demo',
    day: DAY,
  });
}

describe('modelAllowance', () => {
  it('gives the gateway no limit when nothing is limited', () => {
    expect(allowance({ run: spend(100) })).toEqual({ budget: {}, limits: {}, exhausted: null });
  });

  it('gives a later attempt only what earlier attempts of the run left', () => {
    const result = allowance({
      limits: { maxCostUsd: 2, maxInputTokens: 1_000, maxOutputTokens: 100 },
      run: spend(0.5, { inputTokens: 400, outputTokens: 100 - 1 }),
    });
    expect(result.budget).toEqual({ maxCostUsd: 1.5, maxInputTokens: 600, maxOutputTokens: 1 });
    expect(result.exhausted).toBeNull();
  });

  it('takes the tightest remainder of run, session and repository-day, and remembers whose', () => {
    const budgets = { sessionMaxCostUsd: 5, repoDailyMaxCostUsd: 20 };
    const limits = { maxCostUsd: 3 };
    // Run: 3 - 1 = 2 left; session: 5 - 4 = 1 left; repository-day: 20 - 19.5 = 0.5 left.
    const repoTightest = allowance({
      limits,
      budgets,
      run: spend(1),
      session: spend(4),
      repositoryDay: spend(19.5),
    });
    expect(repoTightest.budget).toEqual({ maxCostUsd: 0.5 });
    expect(repoTightest.limits.maxCostUsd?.scope).toBe('repository-day');

    const sessionTightest = allowance({
      limits,
      budgets,
      run: spend(1),
      session: spend(4),
      repositoryDay: spend(4),
    });
    expect(sessionTightest.budget).toEqual({ maxCostUsd: 1 });
    expect(sessionTightest.limits.maxCostUsd?.scope).toBe('session');

    const runTightest = allowance({ limits, budgets, run: spend(2.5), session: spend(2.5) });
    expect(runTightest.budget).toEqual({ maxCostUsd: 0.5 });
    expect(runTightest.limits.maxCostUsd?.scope).toBe('run');
  });

  it('names the narrower scope when two leave the same', () => {
    const result = allowance({
      limits: { maxCostUsd: 2 },
      budgets: { sessionMaxCostUsd: 2 },
      run: spend(1),
      session: spend(1),
    });
    expect(result.limits.maxCostUsd?.scope).toBe('run');
  });

  it('refuses the attempt when a scope is already spent, naming the scope and its knob', () => {
    const session = allowance({
      limits: { maxCostUsd: 10 },
      budgets: { sessionMaxCostUsd: 1 },
      run: spend(1),
      session: spend(1),
    });
    expect(session.exhausted).toEqual({
      scope: 'session',
      limit: 'maxCostUsd',
      limitValue: 1,
      spentValue: 1,
      detail: 'session budget (AAS_SESSION_MAX_COST_USD): spent $1 of the $1 cost limit',
    });
    expect(session.budget).toEqual({ maxCostUsd: 0 });

    const repositoryDay = allowance({
      budgets: { repoDailyMaxCostUsd: 3 },
      repositoryDay: spend(3.25),
    });
    expect(repositoryDay.exhausted?.scope).toBe('repository-day');
    expect(repositoryDay.exhausted?.detail).toBe(
      'repository-day budget (AAS_REPO_DAILY_MAX_COST_USD, /repos/demo on 2026-01-31 UTC): spent $3.25 of the $3 cost limit',
    );

    const tokens = allowance({
      limits: { maxOutputTokens: 50 },
      run: spend(0, { outputTokens: 50 }),
    });
    expect(tokens.exhausted).toMatchObject({ scope: 'run', limit: 'maxOutputTokens' });
    expect(tokens.exhausted?.detail).toBe(
      'run budget (limits.maxOutputTokens): spent 50 output tokens of the 50-token output limit',
    );
  });

  it('treats a limit of 0 as spent before anything is called', () => {
    expect(allowance({ limits: { maxCostUsd: 0 } }).exhausted?.scope).toBe('run');
  });

  it('does not let float dust buy one more call', () => {
    // 0.1 + 0.2 is 0.30000000000000004; 0.3 - 0.1 - 0.2 leaves -2.8e-17, and sums go both ways.
    const dust = allowance({ budgets: { sessionMaxCostUsd: 0.3 }, session: spend(0.3 - 1e-12) });
    expect(dust.exhausted?.scope).toBe('session');
    const real = allowance({ budgets: { sessionMaxCostUsd: 0.3 }, session: spend(0.3 - 1e-6) });
    expect(real.exhausted).toBeNull();
  });
});

describe('breachOf', () => {
  it("puts the gateway's report about its remainder in the scope's own terms", () => {
    const result = allowance({
      limits: { maxCostUsd: 10, maxInputTokens: 1_000 },
      budgets: { repoDailyMaxCostUsd: 2 },
      run: spend(0.25, { inputTokens: 900 }),
      repositoryDay: spend(1.5),
    });
    // The gateway was given 0.5 (the day's remainder) and reports having spent 0.6 of it.
    expect(result.budget.maxCostUsd).toBe(0.5);
    const cost = breachOf(result, {
      limit: 'maxCostUsd',
      limitValue: 0.5,
      spentValue: 0.6,
      detail: 'spent $0.6 of the $0.5 cost limit',
    });
    expect(cost).toMatchObject({ scope: 'repository-day', limitValue: 2, spentValue: 2.1 });
    expect(cost.detail).toMatch(/^repository-day budget .*: spent \$2\.1 of the \$2 cost limit$/);

    const input = breachOf(result, {
      limit: 'maxInputTokens',
      limitValue: 100,
      spentValue: 120,
      detail: 'spent 120 input tokens of the 100-token input limit',
    });
    expect(input).toMatchObject({
      scope: 'run',
      limitValue: 1_000,
      spentValue: 1_020,
      detail:
        'run budget (limits.maxInputTokens): spent 1020 input tokens of the 1000-token input limit',
    });
  });
});

describe('utcDayOf', () => {
  it('is UTC midnight to midnight, the last millisecond included', () => {
    expect(utcDayOf(Date.UTC(2026, 0, 31, 23, 59, 59, 999))).toEqual({
      date: '2026-01-31',
      startIso: '2026-01-31T00:00:00.000Z',
      endIso: '2026-02-01T00:00:00.000Z',
    });
    expect(utcDayOf(Date.UTC(2026, 1, 1)).date).toBe('2026-02-01');
  });
});

describe('loadModelAllowance', () => {
  /** A store that answers modelSpend from a table and records what was asked. */
  function spendStore(answer: (scope: ModelSpendScope) => ModelSpend) {
    const asked: ModelSpendScope[] = [];
    const store = {
      modelSpend: async (scope: ModelSpendScope) => {
        asked.push(scope);
        return answer(scope);
      },
    } as Pick<Store, 'modelSpend'> as Store;
    return { store, asked };
  }

  it('reads only the scopes that have a limit, the repository over the clock’s UTC day', async () => {
    const clock = new ManualClock(Date.UTC(2026, 2, 1, 23, 59));
    const { store, asked } = spendStore((scope) =>
      'repo' in scope ? spend(7) : 'sessionId' in scope ? spend(1) : spend(0.5),
    );
    const ids = { runId: 'run_1', sessionId: 'ses_1', repo: '/repos/demo' };
    const unlimited = await loadModelAllowance(
      { store, clock, budgets: {} },
      { ...ids, policyLimits: NO_LIMITS },
    );
    expect(unlimited.budget).toEqual({});
    expect(asked).toEqual([]);

    const limited = await loadModelAllowance(
      { store, clock, budgets: { sessionMaxCostUsd: 3, repoDailyMaxCostUsd: 10 } },
      { ...ids, policyLimits: { ...NO_LIMITS, maxCostUsd: 5 } },
    );
    expect(asked).toEqual([
      { runId: 'run_1' },
      { sessionId: 'ses_1' },
      {
        repo: '/repos/demo',
        fromIso: '2026-03-01T00:00:00.000Z',
        toIso: '2026-03-02T00:00:00.000Z',
      },
    ]);
    // Run 4.5 left, session 2, repository-day 3: the session's is the budget.
    expect(limited.budget).toEqual({ maxCostUsd: 2 });
    expect(limited.limits.maxCostUsd?.scope).toBe('session');
  });
});
