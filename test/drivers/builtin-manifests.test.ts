import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  AgentManifestSchema,
  builtinManifests,
  INPUT_COMMAND_ARG,
  resolveAgentCommand,
} from '../../src/drivers/index.js';
import { isAasError } from '../../src/kernel/index.js';
import { makeJob } from './attempt-fixture.js';

describe('builtinManifests', () => {
  const [mock, command] = builtinManifests({ nodePath: '/opt/node/bin/node' });

  it('are valid manifests', () => {
    for (const manifest of builtinManifests({ nodePath: '/opt/node/bin/node' })) {
      expect(AgentManifestSchema.parse(manifest)).toEqual(manifest);
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
