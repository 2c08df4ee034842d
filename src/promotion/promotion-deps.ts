import type { Logger } from '../kernel/index.js';
import type { DraftPrProvider } from './draft-pr-provider.js';
import type { PromotionContext, PromotionStoreDeps } from './promotion-context.js';
import type { PromotionGit } from './promotion-git.js';
import type { SigningKey } from './signing-key.js';

export interface RevalidationInput {
  readonly context: PromotionContext;
  /** The promotion's git dir: it holds the fetched target head and borrows the repository. */
  readonly git: PromotionGit;
  readonly newBase: string;
  readonly patchText: string;
}

export interface PromotionDeps extends PromotionStoreDeps {
  readonly log: Logger;
  readonly runsDir: string;
  readonly artifactsDir: string;
  readonly signingKey: () => Promise<SigningKey>;
  readonly settings: {
    readonly remote: string;
    readonly branchPrefix: string;
    readonly authorName: string;
    readonly authorEmail: string;
    readonly leaseMs: number;
    readonly waitMs: number;
    /** The host whose remotes the pull request provider serves (github.com, a GHE host). */
    readonly forgeHost: string;
    /** `owner/name`s a job may name for a remote whose URL does not say (AAS_GITHUB_REPOSITORIES). */
    readonly forgeRepositories: readonly string[];
  };
  /** Null when no forge credential is configured: draft_pr falls back to branch. */
  readonly provider: DraftPrProvider | null;
  /** Extra environment for git's HTTPS requests to the forge (its Authorization header). */
  readonly httpEnvFor: (remoteUrl: string) => Readonly<Record<string, string>>;
  /** Re-runs the gate pipeline on `newBase` + patch; absent = a moved base cannot be revalidated. */
  readonly revalidate?: (input: RevalidationInput) => Promise<{ ok: boolean; detail: string }>;
  /** Identity of this process as the writer-lease holder. */
  readonly owner: string;
}
