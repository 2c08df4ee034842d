import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  AgentManifestSchema,
  builtinManifests,
  CLI_AGENT_IDS,
  INPUT_COMMAND_ARG,
  resolveAgentCommand,
} from '../../src/drivers/index.js';
import { isAasError } from '../../src/kernel/index.js';
import { makeTempDir, removeDir } from '../helpers/temp-repo.js';
import { makeJob } from './attempt-fixture.js';

describe('builtinManifests', () => {
  const [mock, command] = builtinManifests({ nodePath: '/opt/node/bin/node' });

  it('are valid manifests', () => {
    for (const manifest of builtinManifests({ nodePath: '/opt/node/bin/node' })) {
      expect(AgentManifestSchema.parse(manifest)).toEqual(manifest);
    }
  });

  it('a CLI agent exists only where its binary was found, and asks for what it needs', () => {
    const root = makeTempDir('aas-cli-installs-');
    try {
      // A uv-style virtualenv whose interpreter lives outside it, and a plain binary.
      const venv = join(root, 'tools', 'aider');
      mkdirSync(join(venv, 'bin'), { recursive: true });
      writeFileSync(
        join(venv, 'pyvenv.cfg'),
        `home = ${join(root, 'python', 'cpython-3.12', 'bin')}\nversion = 3.12.7\n`,
      );
      const bins = {
        gemini: '/opt/npm/node_modules/@google/gemini-cli/bundle/gemini.js',
        aider: join(venv, 'bin', 'aider'),
        openhands: join(root, 'local', 'bin', 'openhands'),
      };
      const manifests = builtinManifests({ nodePath: '/opt/node/bin/node', cliBins: bins });
      const byId = new Map(manifests.map((manifest) => [manifest.id, manifest]));
      expect([...byId.keys()].sort()).toEqual(['aider', 'command', 'gemini', 'mock', 'openhands']);
      for (const id of CLI_AGENT_IDS.filter((id) => byId.has(id))) {
        const manifest = byId.get(id);
        expect(manifest?.entrypoint).toBe('/opt/node/bin/node');
        expect(manifest?.args.at(-1)).toMatch(new RegExp(`src/drivers/${id}-adapter\\.ts$`));
        expect(existsSync(manifest?.args.at(-1) ?? '')).toBe(true);
        expect(manifest?.env.AAS_AGENT_BIN).toBe(bins[id as keyof typeof bins]);
        // Repository content can configure every one of these CLIs: never outside the sandbox.
        expect(manifest?.policy).toEqual({ sandbox: 'required' });
      }
      // npm: its node_modules; a venv: the venv and its interpreter; else the binary's dir only.
      expect(byId.get('gemini')?.readOnlyPaths).toContain('/opt/npm/node_modules');
      expect(byId.get('aider')?.readOnlyPaths).toEqual(
        expect.arrayContaining([venv, join(root, 'python', 'cpython-3.12')]),
      );
      expect(byId.get('openhands')?.readOnlyPaths).toContain(join(root, 'local', 'bin'));
      expect(byId.get('openhands')?.readOnlyPaths).not.toContain(join(root, 'local'));
      expect(byId.get('gemini')?.modelGateway).toEqual(['google']);
      expect(byId.get('aider')?.modelGateway).toEqual(['openai']);
    } finally {
      removeDir(root);
    }
  });

  it('mock runs the TypeScript source through an absolute tsx loader under vitest', () => {
    expect(mock?.id).toBe('mock');
    expect(mock?.entrypoint).toBe('/opt/node/bin/node');
    expect(mock?.result).toBe('file');
    const [flag, loader, script] = mock?.args ?? [];
    expect(flag).toBe('--import');
    // Absolute, because --import resolves bare names from the cwd (the workspace).
    expect(loader).toMatch(/^file:\/\/.*\/node_modules\/tsx\//);
    expect(existsSync(fileURLToPath(loader ?? ''))).toBe(true);
    expect(script).toMatch(/src\/drivers\/mock-agent\.ts$/);
    expect(existsSync(script ?? '')).toBe(true);
  });

  it('command is /bin/sh -c with the job command substituted as one argument', () => {
    expect(command).toMatchObject({ id: 'command', entrypoint: '/bin/sh', result: 'exit-code' });
    expect(command?.args).toEqual(['-c', INPUT_COMMAND_ARG]);
    if (command === undefined) throw new Error('command manifest missing');
    const job = makeJob('command', { input: { command: 'npm test && echo "{{input.command}}"' } });
    expect(resolveAgentCommand(command, job)).toEqual({
      command: '/bin/sh',
      args: ['-c', 'npm test && echo "{{input.command}}"'],
    });
  });

  it('resolveAgentCommand leaves manifests without the placeholder untouched', () => {
    const manifest = AgentManifestSchema.parse({
      id: 'x',
      entrypoint: 'x',
      args: ['--flag', 'a{{input.command}}'],
    });
    expect(resolveAgentCommand(manifest, makeJob('x'))).toEqual({
      command: 'x',
      args: ['--flag', 'a{{input.command}}'],
    });
  });

  it('resolveAgentCommand refuses a missing or blank command as JOB_INVALID', () => {
    if (command === undefined) throw new Error('command manifest missing');
    for (const input of [undefined, 'echo', { command: '  ' }, { command: 'a\0b' }]) {
      expect(() => resolveAgentCommand(command, makeJob('command', { input }))).toThrow(
        expect.objectContaining({ code: 'JOB_INVALID' }),
      );
    }
    try {
      resolveAgentCommand(command, makeJob('command'));
    } catch (error) {
      expect(isAasError(error) && error.details.field).toBe('agentInput.command');
    }
  });
});
