import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ownInstallReadOnlyPaths } from '../sandbox/index.js';
import { type AgentManifest, AgentManifestSchema } from './agent-manifest.js';

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
 * `nodePath` is the node binary to run the mock with (the host passes `process.execPath`).
 */
export function builtinManifests(deps: {
  nodePath: string;
  /** The Claude Code binary (realpath); the `claude-code` agent exists only when it is known. */
  claudeCodeBin?: string;
  /** The Codex CLI binary (realpath); the `codex` agent exists only when it is known. */
  codexBin?: string;
}): AgentManifest[] {
  return [
    ...(deps.codexBin === undefined ? [] : [codexManifest(deps.nodePath, deps.codexBin)]),
    ...(deps.claudeCodeBin === undefined
      ? []
      : [claudeCodeManifest(deps.nodePath, deps.claudeCodeBin)]),
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
 * Claude Code in headless mode, driven by claude-code-adapter.ts inside the sandbox. Its model
 * calls go through the gateway (`modelGateway: [anthropic]`); its own background traffic
 * (telemetry, error reports, update checks) is switched off, and would find no network anyway.
 */
function claudeCodeManifest(nodePath: string, claudeCodeBin: string): AgentManifest {
  return AgentManifestSchema.parse({
    id: 'claude-code',
    description: 'Claude Code (headless, stream-json), through the model gateway.',
    entrypoint: nodePath,
    args: adapterArgs('claude-code-adapter'),
    env: {
      AAS_CLAUDE_BIN: claudeCodeBin,
      DISABLE_TELEMETRY: '1',
      DISABLE_ERROR_REPORTING: '1',
      DISABLE_AUTOUPDATER: '1',
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    },
    readOnlyPaths: [...ownInstallReadOnlyPaths(), installRootOf(claudeCodeBin)],
    capabilities: ['edit', 'events', 'model:anthropic'],
    modelGateway: ['anthropic'],
    result: 'file',
  });
}

/** The `node_modules` directory a binary was installed under (its platform package is a sibling). */
function installRootOf(binary: string): string {
  const parts = binary.split('/');
  const at = parts.lastIndexOf('node_modules');
  return at > 0 ? parts.slice(0, at + 1).join('/') : dirname(dirname(binary));
}

function adapterArgs(name: string): string[] {
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    const tsxLoader = pathToFileURL(createRequire(here).resolve('tsx')).href;
    return ['--import', tsxLoader, fileURLToPath(new URL(`./${name}.ts`, here))];
  }
  return [fileURLToPath(new URL(`./${name}.js`, here))];
}

/**
 * Codex CLI (`codex exec --json`), driven by codex-adapter.ts inside the sandbox, its model
 * calls through the gateway (`modelGateway: [openai]`). Its own sandbox is switched off inside
 * AAS's, so its policy layer requires the AAS sandbox: it never runs unconfined.
 */
function codexManifest(nodePath: string, codexBin: string): AgentManifest {
  return AgentManifestSchema.parse({
    id: 'codex',
    description: 'Codex CLI (exec --json), through the model gateway; only in the AAS sandbox.',
    entrypoint: nodePath,
    args: adapterArgs('codex-adapter'),
    env: { AAS_CODEX_BIN: codexBin },
    readOnlyPaths: [...ownInstallReadOnlyPaths(), installRootOf(codexBin)],
    capabilities: ['edit', 'events', 'model:openai'],
    modelGateway: ['openai'],
    policy: { sandbox: 'required' },
    result: 'file',
  });
}
