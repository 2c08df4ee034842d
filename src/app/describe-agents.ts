import { readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { type AgentManifest, CLI_AGENTS, isCliAgentId } from '../drivers/index.js';
import type { ExecutionHost } from './execution-host.js';

/** One agent as `aas agents` shows it: whether it is installed here, and whether it can run. */
export interface AgentStatus {
  readonly id: string;
  readonly description: string;
  readonly kind: 'built-in' | 'cli' | 'manifest';
  readonly installed: boolean;
  /** Installed, and nothing this host lacks (a credential, a required sandbox) stops a run. */
  readonly usable: boolean;
  /** The agent's own program: a CLI's binary, or the manifest's entrypoint. */
  readonly program: string | null;
  /** From the package the binary was installed with; each run also records what it reports. */
  readonly version: string | null;
  readonly modelProviders: readonly string[];
  /** Why it is not installed or not usable, and what to do. */
  readonly problems: readonly string[];
  /** Its manifest file is invalid: no agent of this id serves until it is fixed. */
  readonly manifestInvalid: boolean;
}

const PROVIDER_KEY_VARIABLES = {
  anthropic: 'AAS_ANTHROPIC_API_KEY',
  openai: 'AAS_OPENAI_API_KEY',
  google: 'AAS_GEMINI_API_KEY',
} as const;

/**
 * The version in the nearest package.json above an npm-installed binary that belongs to the
 * CLI's package (or its platform package, `<name>-linux-x64`, or an alias of it whose version
 * carries the platform). Binaries installed otherwise (aider, openhands) have none here; each
 * run records the version the binary itself reports.
 */
async function packageVersionOf(binary: string, npmPackage: string): Promise<string | null> {
  let dir = dirname(binary);
  for (let depth = 0; depth < 6; depth += 1) {
    try {
      const text = await readFile(join(dir, 'package.json'), 'utf8');
      const parsed = JSON.parse(text) as { name?: unknown; version?: unknown };
      const ours =
        typeof parsed.name === 'string' &&
        (parsed.name === npmPackage || parsed.name.startsWith(`${npmPackage}-`));
      if (ours && typeof parsed.version === 'string') {
        return parsed.version.replace(/-(?:linux|darwin|win32)-[a-z0-9]+$/, '');
      }
    } catch {
      // No package.json here: one level up.
    }
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return null;
}

function requiresSandbox(manifest: AgentManifest): boolean {
  const policy = manifest.policy;
  return (
    typeof policy === 'object' &&
    policy !== null &&
    (policy as { sandbox?: unknown }).sandbox === 'required'
  );
}

/** Every agent this installation knows, including built-in CLIs whose binary is missing. */
export async function describeAgents(
  runtime: Pick<ExecutionHost, 'registry' | 'sandboxes' | 'models'>,
): Promise<AgentStatus[]> {
  const upstreams = runtime.models.upstreams;
  let isolating: { ok: boolean; reason?: string } | null = null;
  const sandboxCheck = async (): Promise<{ ok: boolean; reason?: string }> => {
    if (isolating === null) {
      const backend = runtime.sandboxes.find((candidate) => candidate.isolating);
      isolating =
        backend === undefined
          ? { ok: false, reason: 'no isolating sandbox backend is configured' }
          : await backend.selfTest();
    }
    return isolating;
  };

  const statuses: AgentStatus[] = [];
  for (const manifest of runtime.registry.list()) {
    const cli = isCliAgentId(manifest.id) ? CLI_AGENTS[manifest.id] : null;
    const program = cli === null ? manifest.entrypoint : (manifest.env.AAS_AGENT_BIN ?? null);
    const problems: string[] = [];
    for (const provider of manifest.modelGateway) {
      if (upstreams[provider] === undefined) {
        problems.push(
          `calls the ${provider} API: set ${PROVIDER_KEY_VARIABLES[provider]} where AAS runs`,
        );
      }
    }
    if (requiresSandbox(manifest)) {
      const sandbox = await sandboxCheck();
      if (!sandbox.ok) {
        problems.push(
          `runs only in the AAS sandbox, which this host cannot provide: ${sandbox.reason ?? 'self-test failed'}`,
        );
      }
    }
    statuses.push({
      id: manifest.id,
      description: manifest.description ?? '',
      kind:
        cli !== null
          ? 'cli'
          : manifest.id === 'mock' || manifest.id === 'command'
            ? 'built-in'
            : 'manifest',
      installed: true,
      usable: problems.length === 0,
      program,
      version:
        cli?.npmPackage && program !== null
          ? await packageVersionOf(program, cli.npmPackage)
          : null,
      modelProviders: manifest.modelGateway,
      problems,
      manifestInvalid: false,
    });
  }
  for (const missing of runtime.registry.unavailable()) {
    statuses.push({
      id: missing.id,
      description: missing.description,
      kind: 'cli',
      installed: false,
      usable: false,
      program: null,
      version: null,
      modelProviders: isCliAgentId(missing.id) ? CLI_AGENTS[missing.id].providers : [],
      problems: [`not installed: ${missing.reason}; ${missing.hint}`],
      manifestInvalid: false,
    });
  }
  // A file that defines no agent: shown under the id it stands for (its name). When that id is
  // served anyway (a built-in the file tried to redefine), the agent stays as it is, and the
  // refused file is one of its problems: the operator meant something by it.
  const shown = new Set(statuses.map((status) => status.id));
  for (const refused of runtime.registry.invalid()) {
    const id = refused.id ?? basename(refused.file);
    const served = statuses.findIndex((status) => status.id === id);
    const status = statuses[served];
    if (status !== undefined) {
      statuses[served] = {
        ...status,
        problems: [
          ...status.problems,
          `a manifest was refused (this agent is served without it): ${refused.error.describe()}`,
        ],
      };
      continue;
    }
    if (shown.has(id)) continue;
    shown.add(id);
    statuses.push({
      id,
      description: '',
      kind: 'manifest',
      installed: false,
      usable: false,
      program: null,
      version: null,
      modelProviders: [],
      problems: [`invalid manifest ${refused.error.describe()}`],
      manifestInvalid: true,
    });
  }
  return statuses.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
