import type { ModelCallRecord } from '../gateway/index.js';
import { normaliseError } from '../kernel/index.js';
import { sessionEvent } from '../sessions/index.js';
import type { AgentEventBatcher } from './agent-event-batcher.js';
import {
  type BudgetBreach,
  loadModelAllowance,
  type ModelAllowanceLimits,
} from './model-allowance.js';
import type { ExecutionDeps } from './runner-deps.js';

/**
 * Stops an attempt's agent once one of its budgets is spent, and records which, once. Two
 * sources report: the gateway, when the remainder it was given at the start is spent; and a
 * re-read of the shared scopes after every call that cost something. Runs of the same session
 * or repository executing at the same time spend those scopes too, and the gateway cannot see
 * that: without the re-read each of them would spend the remainder it saw at its start.
 */
export class BudgetWatch {
  #breach: BudgetBreach | null = null;
  #check: Promise<void> = Promise.resolve();
  #queued = false;

  constructor(
    private readonly deps: Pick<ExecutionDeps, 'store' | 'clock' | 'budgets' | 'log'>,
    private readonly attempt: {
      readonly runId: string;
      readonly sessionId: string;
      readonly repo: string;
      readonly number: number;
      readonly policyLimits: ModelAllowanceLimits;
    },
    private readonly batcher: AgentEventBatcher,
    private readonly stopAgent: () => void,
  ) {}

  /** The first budget found spent during the attempt, or null. */
  get breach(): BudgetBreach | null {
    return this.#breach;
  }

  /**
   * A spent budget stops the agent: it can no longer do anything useful, and waiting for it to
   * give up on its own would spend wall-clock time for nothing.
   */
  reached(breach: BudgetBreach): void {
    if (this.#breach !== null) return;
    this.#breach = breach;
    this.batcher.push(
      sessionEvent('budget.exceeded', {
        runId: this.attempt.runId,
        attempt: this.attempt.number,
        limit: breach.limit,
        limitValue: breach.limitValue,
        spentValue: breach.spentValue,
        detail: breach.detail,
        scope: breach.scope,
        stage: 'during_attempt',
      }),
    );
    this.stopAgent();
  }

  /** After a call: re-reads the shared scopes when it cost something and one is limited. */
  afterCall(record: ModelCallRecord): void {
    const shared =
      this.deps.budgets.sessionMaxCostUsd !== undefined ||
      this.deps.budgets.repoDailyMaxCostUsd !== undefined;
    if (!shared || record.costUsd <= 0 || this.#breach !== null || this.#queued) return;
    // One re-read at a time; calls that finish meanwhile are covered by the one queued next.
    this.#queued = true;
    this.#check = this.#check
      .then(async () => {
        this.#queued = false;
        // The call's own usage event must be in the store before the scopes are summed.
        await this.batcher.flush();
        const now = await loadModelAllowance(this.deps, {
          runId: this.attempt.runId,
          sessionId: this.attempt.sessionId,
          repo: this.attempt.repo,
          policyLimits: this.attempt.policyLimits,
        });
        if (now.exhausted !== null) this.reached(now.exhausted);
      })
      .catch((error: unknown) => {
        // The gateway still enforces what the attempt was given; this only tightens it.
        this.deps.log.warn(
          { err: normaliseError(error).message, runId: this.attempt.runId },
          'could not re-read the shared model budgets',
        );
      });
  }

  /** Resolves once every re-read has finished (and so recorded what it found). */
  settled(): Promise<void> {
    return this.#check;
  }
}
