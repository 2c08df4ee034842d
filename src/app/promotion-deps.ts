import type { AasConfig } from '../config/index.js';
import { AasError, type Clock, type Logger } from '../kernel/index.js';
import {
  type ApprovalDeps,
  createGitHubProvider,
  createPromotionService,
  type DraftPrProvider,
  loadOrCreateSigningKey,
  type PromotionDeps,
  type PromotionService,
  type RevalidationInput,
  type SigningKey,
} from '../promotion/index.js';
import { type RunnerDeps, revalidatePatch } from '../runner/index.js';
import type { EventBus } from '../sessions/index.js';
import type { Store } from '../store/index.js';
import { requireInstallationKey } from './require-installation-key.js';

/**
 * The forge host whose remotes the GitHub provider serves: github.com for the public API,
 * the API URL's own host for GitHub Enterprise (`https://HOST/api/v3`).
 */
export function forgeHostOf(apiUrl: string): string {
  const host = new URL(apiUrl).host;
  return host === 'api.github.com' ? 'github.com' : host;
}

/**
 * The environment that makes git send the forge token on HTTPS requests to the forge host,
 * through `GIT_CONFIG_*` variables: they never appear in a process list the way `-c` does, and
 * only requests to that host carry the header.
 */
export function forgeHttpEnv(
  token: string | undefined,
  forgeHost: string,
  remoteUrl: string,
): Record<string, string> {
  if (token === undefined) return {};
  let url: URL;
  try {
    url = new URL(remoteUrl);
  } catch {
    return {};
  }
  if (url.protocol !== 'https:' || url.host !== forgeHost) return {};
  const basic = Buffer.from(`x-access-token:${token}`).toString('base64');
  return {
    GIT_CONFIG_COUNT: '1',
    GIT_CONFIG_KEY_0: `http.https://${forgeHost}/.extraHeader`,
    GIT_CONFIG_VALUE_0: `Authorization: Basic ${basic}`,
  };
}

export interface PromotionResources {
  readonly config: AasConfig;
  /** Re-validation on a moved base runs the job's gates like the runner does. */
  readonly runnerDeps?: () => RunnerDeps;
  readonly store: Store;
  readonly clock: Clock;
  readonly bus: EventBus;
  readonly log: Logger;
  readonly owner: string;
}

/** Built once per runtime: the signing key is loaded (or created) on first use. */
export function createPromotionDeps(
  resources: PromotionResources,
  overrides: { provider?: DraftPrProvider | null } = {},
): { promotion: PromotionDeps; approvals: ApprovalDeps; service: PromotionService } {
  const { config, store, clock, bus, log, owner } = resources;
  let key: Promise<SigningKey> | null = null;
  const forgeHost = forgeHostOf(config.promotion.githubApiUrl);
  const token = config.promotion.githubToken;
  const provider =
    overrides.provider !== undefined
      ? overrides.provider
      : token === undefined
        ? null
        : createGitHubProvider({
            token,
            baseUrl: config.promotion.githubApiUrl,
            userAgent: 'aas-promotion',
          });
  const promotion: PromotionDeps = {
    store,
    clock,
    bus,
    log,
    runsDir: config.paths.runs,
    artifactsDir: config.paths.artifacts,
    signingKey: () => {
      // A failure (an unreadable key file, another installation's key) is not cached: the next
      // promotion tries again. Every process that signs, a server or a local `aas promote` on
      // the same database, must sign with the installation's key.
      key ??= loadOrCreateSigningKey(config.paths.keys)
        .then(async (loaded) => {
          await requireInstallationKey(
            store,
            { keyId: loaded.keyId, keysDir: config.paths.keys },
            clock.nowIso(),
          );
          return loaded;
        })
        .catch((error: unknown) => {
          key = null;
          throw error;
        });
      return key;
    },
    settings: {
      remote: config.promotion.remote,
      branchPrefix: config.promotion.branchPrefix,
      authorName: config.promotion.authorName,
      authorEmail: config.promotion.authorEmail,
      leaseMs: config.promotion.leaseMs,
      waitMs: config.promotion.waitMs,
      forgeHost,
      forgeRepositories: config.promotion.githubRepositories,
    },
    provider,
    httpEnvFor: (remoteUrl) => forgeHttpEnv(token, forgeHost, remoteUrl),
    ...(resources.runnerDeps === undefined
      ? {}
      : {
          revalidate: (input: RevalidationInput) => {
            const runnerDeps = resources.runnerDeps?.();
            if (runnerDeps === undefined) {
              throw new AasError('INTERNAL', 're-validation was configured without a runner');
            }
            return revalidatePatch(runnerDeps, {
              runId: input.context.run.id,
              job: input.context.job,
              agentId: input.context.agentId,
              git: input.git,
              newBase: input.newBase,
              patchText: input.patchText,
            });
          },
        }),
    owner: `promoter:${owner}`,
  };
  const approvals: ApprovalDeps = {
    store,
    clock,
    bus,
    runsDir: config.paths.runs,
    approvalTtlSec: config.promotion.approvalTtlSec,
  };
  return { promotion, approvals, service: createPromotionService({ promotion, approvals }) };
}
