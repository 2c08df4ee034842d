import type { AasConfig } from '../config/index.js';
import {
  type AgentRegistry,
  builtinManifests,
  checkAgentEntrypoint,
  createAgentRegistry,
} from '../drivers/index.js';
import { AasError, type Clock, isAasError, type Logger } from '../kernel/index.js';
import { type NamedLayer, readPolicyLayerFile, validatePolicyLayer } from '../policy/index.js';
import type { RunnerDeps } from '../runner/index.js';
import {
  createBubblewrapBackend,
  createPlainBackend,
  type SandboxBackend,
} from '../sandbox/index.js';
import { checkGitCredentialsFile, trackedFilesUnder } from '../workspaces/index.js';
import { findAgentClis } from './find-agent-clis.js';
import { loadModelPrices } from './load-model-prices.js';

/**
 * What a host needs to execute runs, whoever stores them: the agents installed here, the sandbox
 * backends, the model upstreams with this host's credentials, and the operator's policy layer.
 * The control plane and a remote worker build it the same way.
 */
export interface ExecutionHost {
  readonly registry: AgentRegistry;
  /** Ranked, most isolating first. */
  readonly sandboxes: readonly SandboxBackend[];
  readonly models: RunnerDeps['models'];
  /** AAS_POLICY on this host (a remote worker uses its control plane's instead). */
  readonly serverPolicy: NamedLayer | null;
}

export async function createExecutionHost(
  config: AasConfig,
  options: {
    readonly clock: Clock;
    readonly nodePath: string;
    readonly hostEnv: Readonly<Record<string, string | undefined>>;
    readonly log: Logger;
  },
): Promise<ExecutionHost> {
  const { clock, log } = options;
  // A named server layer that cannot be read refuses start-up rather than run without it.
  const serverPolicy = config.serverPolicyFile
    ? await readPolicyLayerFile(config.serverPolicyFile, 'server').catch((thrown: unknown) => {
        if (!isAasError(thrown)) throw thrown;
        // Every command that opens the data directory reads it: say which setting named it.
        throw new AasError(thrown.code, `${thrown.message} (the server layer, AAS_POLICY)`, {
          ...thrown.details,
          hint: `${thrown.details.hint === undefined ? '' : `${thrown.details.hint}; `}every command that opens the data directory reads the AAS_POLICY file: fix it or unset AAS_POLICY`,
        });
      })
    : null;
  await refuseCommittedHome(config);
  // Likewise credentials that are named but unusable: a private repository's fetch would fail.
  if (config.repoUrls.credentialsFile !== undefined) {
    await checkGitCredentialsFile(config.repoUrls.credentialsFile);
  }
  const prices = await loadModelPrices(config.models.pricesFile);
  const agentClis = await findAgentClis(config, options.hostEnv.PATH);
  const upstreamOf = (provider: { baseUrl: string; apiKey?: string }) =>
    provider.apiKey === undefined
      ? undefined
      : { baseUrl: provider.baseUrl, apiKey: provider.apiKey };
  const anthropic = upstreamOf(config.models.anthropic);
  const openai = upstreamOf(config.models.openai);
  const google = upstreamOf(config.models.google);
  const models = {
    upstreams: {
      ...(anthropic === undefined ? {} : { anthropic }),
      ...(openai === undefined ? {} : { openai }),
      ...(google === undefined ? {} : { google }),
    },
    prices,
  };
  const registry = await createAgentRegistry({
    builtins: builtinManifests({ nodePath: options.nodePath, cliBins: agentClis.found }),
    dirs: config.agentsDirs,
    unavailable: agentClis.missing,
    // Its policy layer too, when the file is read: not first when a run of it starts.
    check: (manifest, file) => {
      // The homes a launch hides too (/var/home/dev is one, not only /home/dev).
      checkAgentEntrypoint(manifest.id, manifest.entrypoint, [
        ...(options.hostEnv.HOME === undefined ? [] : [options.hostEnv.HOME]),
        '/root',
      ]);
      if (manifest.policy === undefined || manifest.policy === null) return;
      validatePolicyLayer(manifest.policy, {
        file,
        fieldPrefix: 'policy',
        code: 'MANIFEST_INVALID',
      });
    },
  });
  // Said by every command (a one-shot command's warnings go to stderr): a job naming such an
  // agent fails with the same error, the other agents serve as usual.
  for (const refused of registry.invalid()) {
    log.warn(
      { file: refused.file, field: refused.error.details.field ?? null },
      `agent manifest not used: ${refused.error.message}`,
    );
  }
  // Ranked: bubblewrap wherever it passes its self-test; plain only for `off` or `preferred`
  // on a host without it (recorded as sandbox.degraded).
  const sandboxes = [
    createBubblewrapBackend({
      clock,
      nodePath: options.nodePath,
      ...(config.bwrapPath === undefined ? {} : { bwrapPath: config.bwrapPath }),
    }),
    createPlainBackend({ clock }),
  ];
  return { registry, sandboxes, models, serverPolicy };
}

/**
 * The default home, `./.aas`, sits inside the checkout AAS runs from, where `.aas/policy.yaml`
 * is the repository's own policy layer. Anything else a repository commits there would be taken
 * for this installation's: agent manifests (whose policy layers grant network, host variables
 * or the sandbox off), signing keys, a database. A cloned repository must not supply those, so
 * a default home holding such committed files is refused.
 */
async function refuseCommittedHome(config: AasConfig): Promise<void> {
  if (!config.homeByDefault) return;
  const committed = (await trackedFilesUnder(config.home)).filter((path) => path !== 'policy.yaml');
  if (committed.length === 0) return;
  const shown = committed.slice(0, 3).join(', ') + (committed.length > 3 ? ', …' : '');
  throw new AasError(
    'CONFIG_INVALID',
    `the data directory ${config.home} holds files the repository commits (${shown}): AAS takes no agents, keys or database from a repository`,
    {
      field: 'AAS_HOME',
      hint: 'set AAS_HOME (or --home) to a directory outside the checkout; only .aas/policy.yaml belongs to the repository',
    },
  );
}
