import type { AgentRegistry } from '../drivers/index.js';
import type { PriceTable, UpstreamConfig } from '../gateway/index.js';
import type { Clock, Logger } from '../kernel/index.js';
import type { NamedLayer } from '../policy/index.js';
import type { SandboxBackend } from '../sandbox/index.js';
import type { EventBus } from '../sessions/index.js';
import type { Store } from '../store/index.js';
import type { RepoPathRule, RepoUrlRule } from '../workspaces/index.js';

/**
 * What executing a claimed run asks of storage: fenced writes of its own run's history, reads of
 * its run, attempts and spend, and its artifacts. On the control plane this is the store; on a
 * remote worker, a client that sends each operation to the control plane under the claim's
 * fencing token (so the same runner code runs in both places).
 */
export type RunStore = Pick<
  Store,
  | 'appendEvents'
  | 'updateRun'
  | 'createAttempt'
  | 'finishAttempt'
  | 'recordApproval'
  | 'recordPromotionStep'
  | 'renewRunLease'
  | 'getRun'
  | 'listAttempts'
  | 'modelSpend'
  | 'putRunArtifact'
>;

/** What executing a claimed run needs: the resources bag with storage narrowed to RunStore. */
export type ExecutionDeps = Omit<RunnerDeps, 'store'> & { readonly store: RunStore };

/** The slice of the resources bag a governed run needs. Built once by the composition root. */
export interface RunnerDeps {
  readonly store: Store;
  readonly clock: Clock;
  readonly log: Logger;
  readonly bus: EventBus;
  readonly registry: AgentRegistry;
  /** Candidate backends, most isolating first; policy decides which may be used. */
  readonly sandboxes: readonly SandboxBackend[];
  /** The host environment, from which only policy-allowed names ever reach a sandbox. */
  readonly hostEnv: Readonly<Record<string, string | undefined>>;
  /** `home` is AAS's data directory; it is never part of a base, even inside the repository. */
  readonly paths: {
    readonly home: string;
    readonly runs: string;
    readonly artifacts: string;
    /** Shared read-only checkouts of base commits (overlay lower layers). */
    readonly checkouts: string;
    /** Cache repositories of jobs whose `repo` is a URL, fetched by this host (one per URL). */
    readonly repos: string;
  };
  /** Which repository URLs this host fetches for a job whose `repo` is one. */
  readonly repoUrls: RepoUrlRule;
  /**
   * Where a job's local repository may be (AAS_REPO_PATHS), checked again when the run starts:
   * a schedule's job or a run queued before the rule was narrowed is held to it too. Absent:
   * anywhere (a remote worker, whose local bases come from the control plane).
   */
  readonly repoPaths?: RepoPathRule;
  /** How workspaces are prepared; `auto` uses an overlay where the host allows it. */
  readonly workspaceStrategy: 'auto' | 'overlay' | 'worktree';
  /** The operator's policy layer (AAS_POLICY), applied right after the built-in floor. */
  readonly serverPolicy: NamedLayer | null;
  readonly runLeaseMs: number;
  /** Identity of this runner process, recorded as the actor of what it does. */
  readonly owner: string;
  /**
   * The model gateway's upstreams (with the real credentials, which never leave the control
   * plane) and its price table. A provider without an upstream cannot be used by an agent.
   */
  readonly models: {
    readonly upstreams: {
      readonly anthropic?: UpstreamConfig;
      readonly openai?: UpstreamConfig;
      readonly google?: UpstreamConfig;
    };
    readonly prices: PriceTable;
  };
  /**
   * Model-spend limits of the server beyond each run's policy (an absent limit is no limit):
   * per session, and per repository per UTC day. Checked at every attempt's start.
   */
  readonly budgets: {
    readonly sessionMaxCostUsd?: number;
    readonly repoDailyMaxCostUsd?: number;
  };
}
