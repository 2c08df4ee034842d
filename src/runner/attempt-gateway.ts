import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AgentManifest } from '../drivers/index.js';
import {
  type ModelCallRecord,
  type ModelGateway,
  newPlaceholderKey,
  startModelGateway,
  type UpstreamConfig,
} from '../gateway/index.js';
import { AasError } from '../kernel/index.js';
import type { LocalService } from '../sandbox/index.js';
import { type BudgetBreach, breachOf, type ModelAllowance } from './model-allowance.js';
import type { RunnerDeps } from './runner-deps.js';

/** Where the gateway appears inside an isolating sandbox. */
export const GATEWAY_PORT_IN_SANDBOX = 4100;

/** The model gateway of one attempt, and what the agent must be told to reach it. */
export interface AttemptGateway {
  /** Bridged into an isolating sandbox; absent for the plain backend (a TCP port instead). */
  readonly localServices?: readonly LocalService[];
  readonly serviceEnv: Readonly<Record<string, string>>;
  close(): Promise<void>;
}

/** Where the operator configures each provider's credential. */
const PROVIDER_KEY_VARIABLES = {
  anthropic: 'AAS_ANTHROPIC_API_KEY',
  openai: 'AAS_OPENAI_API_KEY',
  google: 'AAS_GEMINI_API_KEY',
} as const;

/** Every provider an agent calls needs an upstream with a credential, checked before any attempt. */
export function requireModelUpstreams(
  manifest: AgentManifest,
  deps: Pick<RunnerDeps, 'models'>,
): void {
  for (const provider of manifest.modelGateway) {
    if (deps.models.upstreams[provider] === undefined) {
      const variable = PROVIDER_KEY_VARIABLES[provider];
      throw new AasError(
        'CONFIG_INVALID',
        `agent ${manifest.id} calls the ${provider} API, but this server has no ${provider} credential`,
        {
          field: variable,
          hint: `set ${variable} (and ${variable.replace('API_KEY', 'BASE_URL')} for a proxy) where AAS runs; agents never see it`,
        },
      );
    }
  }
}

/**
 * Starts the gateway for one attempt when the agent calls model providers: on a Unix socket in
 * the attempt's host-only scratch dir, bridged to 127.0.0.1:4100 inside an isolating sandbox,
 * or on an ephemeral loopback port for the plain backend. The agent gets a per-run placeholder
 * key that is worthless anywhere else. The budget is the attempt's allowance: what is left of
 * the run's policy limits, the session's and the repository's day, the tightest cost winning.
 */
export async function startAttemptGateway(
  deps: Pick<RunnerDeps, 'models' | 'clock' | 'log'>,
  input: {
    readonly manifest: AgentManifest;
    /** Null only for an agent that calls no provider. */
    readonly allowance: ModelAllowance | null;
    readonly isolating: boolean;
    readonly scratchDir: string;
    readonly onCall: (record: ModelCallRecord) => void;
    readonly onBudgetExceeded: (breach: BudgetBreach) => void;
  },
): Promise<AttemptGateway | null> {
  const providers = input.manifest.modelGateway;
  if (providers.length === 0) return null;
  requireModelUpstreams(input.manifest, deps);
  const allowance = input.allowance;
  if (allowance === null) {
    // Fail closed: a gateway without its allowance would forward calls no budget counts.
    throw new AasError(
      'INTERNAL',
      `agent ${input.manifest.id} calls providers, but no budget was worked out`,
    );
  }
  const upstreams: {
    anthropic?: UpstreamConfig;
    openai?: UpstreamConfig;
    google?: UpstreamConfig;
  } = {};
  for (const provider of providers) {
    const upstream = deps.models.upstreams[provider];
    if (upstream !== undefined) upstreams[provider] = upstream;
  }
  // Unix socket paths are limited to 107 bytes; the scratch dir may be deeper than that.
  let socketDir: string | null = null;
  await mkdir(input.scratchDir, { recursive: true, mode: 0o700 });
  let socketPath = join(input.scratchDir, 'gateway.sock');
  if (Buffer.byteLength(socketPath) > 100) {
    socketDir = await mkdtemp(join(tmpdir(), 'aas-gw-'));
    socketPath = join(socketDir, 'gateway.sock');
  }
  const placeholderKey = newPlaceholderKey();
  let gateway: ModelGateway;
  try {
    gateway = await startModelGateway({
      listen: input.isolating ? { socketPath } : { host: '127.0.0.1', port: 0 },
      upstreams,
      placeholderKey,
      prices: deps.models.prices,
      budget: allowance.budget,
      onCall: input.onCall,
      onBudgetExceeded: (reason) => {
        input.onBudgetExceeded(breachOf(allowance, reason));
      },
      clock: deps.clock,
      logger: deps.log,
    });
  } catch (error) {
    if (socketDir !== null) await rm(socketDir, { recursive: true, force: true });
    throw error;
  }
  const port = input.isolating ? GATEWAY_PORT_IN_SANDBOX : Number(new URL(gateway.url).port);
  const base = `http://127.0.0.1:${port}`;
  const serviceEnv: Record<string, string> = {};
  if (upstreams.anthropic !== undefined) {
    serviceEnv.ANTHROPIC_BASE_URL = base;
    serviceEnv.ANTHROPIC_API_KEY = placeholderKey;
  }
  if (upstreams.openai !== undefined) {
    serviceEnv.OPENAI_BASE_URL = `${base}/v1`;
    serviceEnv.OPENAI_API_KEY = placeholderKey;
  }
  if (upstreams.google !== undefined) {
    // Gemini CLI (through @google/genai) sends the key in `x-goog-api-key` to this base URL.
    serviceEnv.GOOGLE_GEMINI_BASE_URL = base;
    serviceEnv.GEMINI_API_KEY = placeholderKey;
  }
  return {
    ...(input.isolating ? { localServices: [{ socketPath, port: GATEWAY_PORT_IN_SANDBOX }] } : {}),
    serviceEnv,
    close: async () => {
      await gateway.close();
      if (socketDir !== null) await rm(socketDir, { recursive: true, force: true });
    },
  };
}
