import { createRequire } from 'node:module';
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
export function builtinManifests(deps: { nodePath: string }): AgentManifest[] {
  return [
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
