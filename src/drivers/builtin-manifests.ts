import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ownInstallReadOnlyPaths } from '../sandbox/index.js';
import { type AgentManifest, AgentManifestSchema } from './agent-manifest.js';
import { CLI_AGENT_IDS, CLI_AGENTS, type CliAgentId } from './cli-agents.js';

/**
 * An argument exactly equal to this is replaced, per job, by the job's `input.command`
 * (see `resolveAgentCommand`). Only whole arguments are substituted — never text inside an
 * argument — so a command can never spill into a neighbouring argv slot.
 */
export const INPUT_COMMAND_ARG = '{{input.command}}';

/**
 * The agents AAS ships with:
 * - `mock`: a deterministic scripted agent (src/drivers/mock-agent.ts) for tests and demos.
 * - `command`: `/bin/sh -c <input.command>`; success is the exit code.
 * - the coding-agent CLIs of `CLI_AGENTS` whose binary was found on this host (`cliBins`).
 * `nodePath` is the node binary to run the mock and the CLI adapters with (the host passes
 * `process.execPath`).
 */
export function builtinManifests(deps: {
  nodePath: string;
  /** The binary (realpath) of each CLI agent found here; the others are not offered. */
  cliBins?: Partial<Record<CliAgentId, string>>;
}): AgentManifest[] {
  const cliManifests = CLI_AGENT_IDS.flatMap((id) => {
    const bin = deps.cliBins?.[id];
    return bin === undefined ? [] : [cliAgentManifest(id, deps.nodePath, bin)];
  });
  return [
    ...cliManifests,
    AgentManifestSchema.parse({
      id: 'mock',
      description:
        'Deterministic scripted agent: applies the edits in job.input.mock, then reports.',
      entrypoint: deps.nodePath,
      args: mockAgentArgs(),
      readOnlyPaths: ownInstallReadOnlyPaths(),
      capabilities: ['edit', 'events'],
      result: 'file',
    }),
    AgentManifestSchema.parse({
      id: 'command',
      description: 'Runs job.input.command with /bin/sh -c; exit code 0 succeeds.',
      entrypoint: '/bin/sh',
      args: ['-c', INPUT_COMMAND_ARG],
      capabilities: ['edit'],
      result: 'exit-code',
    }),
  ];
}

/**
 * The compiled build runs `dist/drivers/mock-agent.js`. Under vitest/tsx this module is the
 * `.ts` source, so the mock runs from source through tsx's loader. The loader is passed as an
 * absolute URL because `--import` resolves bare names from the cwd, which is the workspace —
 * a directory with no node_modules.
 */
function mockAgentArgs(): string[] {
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    const tsxLoader = pathToFileURL(createRequire(here).resolve('tsx')).href;
    return ['--import', tsxLoader, fileURLToPath(new URL('./mock-agent.ts', here))];
  }
  return [fileURLToPath(new URL('./mock-agent.js', here))];
}

/**
 * What a CLI agent's adapter is told besides the AEP variables. Background traffic (telemetry,
 * error reports, update checks) is switched off: it would find no network in the sandbox, and
 * some CLIs wait for it before they exit.
 */
const CLI_AGENT_ENV: Record<CliAgentId, Record<string, string>> = {
  'claude-code': {
    DISABLE_TELEMETRY: '1',
    DISABLE_ERROR_REPORTING: '1',
    DISABLE_AUTOUPDATER: '1',
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
  },
  codex: {},
  gemini: { GEMINI_TELEMETRY_ENABLED: 'false' },
  aider: { AIDER_CHECK_UPDATE: 'false', AIDER_ANALYTICS: 'false' },
  openhands: {},
};

/**
 * A CLI agent, driven by its adapter inside the sandbox; its model calls go through the
 * gateway (`modelGateway`), and the directories it was installed in are visible read-only.
 *
 * Every one of them requires the AAS sandbox (its manifest's policy layer). Their unattended
 * modes approve more than edits (Codex with its nested sandbox off, OpenHands headless), and
 * each also obeys configuration the repository itself can carry (Claude Code's and Gemini CLI's
 * project settings with hooks, MCP servers and auto-approved tools, Aider's .aider.conf.yml
 * with test and lint commands): what the agent is given must never run on the host.
 */
function cliAgentManifest(id: CliAgentId, nodePath: string, bin: string): AgentManifest {
  const cli = CLI_AGENTS[id];
  return AgentManifestSchema.parse({
    id,
    description: cli.description,
    entrypoint: nodePath,
    args: adapterArgs(`${id}-adapter`),
    env: { AAS_AGENT_BIN: bin, ...CLI_AGENT_ENV[id] },
    readOnlyPaths: [...ownInstallReadOnlyPaths(), ...cliInstallPaths(bin)],
    capabilities: ['edit', 'events', ...cli.providers.map((provider) => `model:${provider}`)],
    modelGateway: [...cli.providers],
    policy: { sandbox: 'required' },
    result: 'file',
  });
}

/**
 * What a CLI needs to see to start:
 * - an npm install: the `node_modules` it was installed under (its platform package, with the
 *   native binary, is a sibling of the main package);
 * - a Python virtualenv (pipx, `uv tool`): the venv, and the interpreter install its
 *   `pyvenv.cfg` names as `home` (uv keeps its Pythons outside the venv);
 * - anything else: the binary's own directory only, never a wider prefix such as `~/.local`.
 */
export function cliInstallPaths(binary: string): string[] {
  const parts = binary.split('/');
  const at = parts.lastIndexOf('node_modules');
  if (at > 0) return [parts.slice(0, at + 1).join('/')];
  const binDir = dirname(binary);
  const venv = dirname(binDir);
  let config: string;
  try {
    config = readFileSync(join(venv, 'pyvenv.cfg'), 'utf8');
  } catch {
    return [binDir];
  }
  const home = /^home\s*=\s*(.+?)\s*$/m.exec(config)?.[1];
  const pythonPrefix = home === undefined || !isAbsolute(home) ? null : dirname(home);
  const system = pythonPrefix === null || /^\/(usr|bin|lib|lib64)(\/|$)/.test(pythonPrefix);
  return system ? [venv] : [venv, pythonPrefix];
}

function adapterArgs(name: string): string[] {
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    const tsxLoader = pathToFileURL(createRequire(here).resolve('tsx')).href;
    return ['--import', tsxLoader, fileURLToPath(new URL(`./${name}.ts`, here))];
  }
  return [fileURLToPath(new URL(`./${name}.js`, here))];
}
