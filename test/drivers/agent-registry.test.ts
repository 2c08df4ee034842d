import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { builtinManifests, createAgentRegistry } from '../../src/drivers/index.js';
import { AasError, isAasError } from '../../src/kernel/index.js';
import { makeTempDir, removeDir } from '../helpers/temp-repo.js';

const builtins = builtinManifests({ nodePath: '/usr/bin/node' });

describe('createAgentRegistry', () => {
  let root: string;
  beforeEach(() => {
    root = makeTempDir('aas-registry-');
  });
  afterEach(() => removeDir(root));

  const dir = (name: string, files: Record<string, string>): string => {
    const path = join(root, name);
    mkdirSync(path, { recursive: true });
    for (const [file, text] of Object.entries(files)) writeFileSync(join(path, file), text);
    return path;
  };

  async function creationError(dirs: string[]): Promise<AasError> {
    try {
      await createAgentRegistry({ builtins, dirs });
    } catch (error) {
      if (isAasError(error)) return error;
      throw error;
    }
    throw new Error('expected registry creation to fail');
  }

  it('serves built-ins and manifests from directories, sorted by id', async () => {
    const agents = dir('agents', {
      'zeta.yaml': 'id: zeta\nentrypoint: zeta\n',
      'alpha.json': '{"id":"alpha","entrypoint":"/opt/alpha"}',
      'notes.txt': 'not a manifest',
      '_shared.yaml': 'fragments: [are, skipped]',
      '.alpha.yaml.swp': 'editor junk',
    });
    const registry = await createAgentRegistry({ builtins, dirs: [agents, join(root, 'missing')] });
    expect(registry.list().map((manifest) => manifest.id)).toEqual([
      'alpha',
      'command',
      'mock',
      'zeta',
    ]);
    expect(registry.get('alpha').entrypoint).toBe('/opt/alpha');
    expect(registry.get('mock').entrypoint).toBe('/usr/bin/node');
  });

  it('unknown id → AGENT_UNKNOWN with the known ids as a hint', async () => {
    const registry = await createAgentRegistry({ builtins, dirs: [] });
    try {
      registry.get('claude');
      throw new Error('expected AGENT_UNKNOWN');
    } catch (error) {
      expect(isAasError(error) && error.code).toBe('AGENT_UNKNOWN');
      expect(isAasError(error) && error.details.field).toBe('agent');
      expect(isAasError(error) && error.details.hint).toBe('known agents: command, mock');
    }
  });

  /** What `get(id)` throws. */
  function refusal(registry: { get(id: string): unknown }, id: string): AasError {
    try {
      registry.get(id);
    } catch (error) {
      if (isAasError(error)) return error;
      throw error;
    }
    throw new Error(`expected ${id} to be refused`);
  }

  it('does not let a directory redefine a built-in agent: the built-in serves, the file is listed', async () => {
    const agents = dir('agents', { 'mock.yaml': 'id: mock\nentrypoint: /bin/true\n' });
    const registry = await createAgentRegistry({ builtins, dirs: [agents] });
    expect(registry.get('mock').entrypoint).toBe('/usr/bin/node');
    const [refused, ...more] = registry.invalid();
    expect(more).toEqual([]);
    expect(refused?.file).toBe(join(agents, 'mock.yaml'));
    expect(refused?.error.code).toBe('MANIFEST_INVALID');
    expect(refused?.error.details.field).toBe('id');
    expect(refused?.error.message).toMatch(/built-in agent and cannot be redefined/);
  });

  it('serves neither definition of an id defined twice across directories or extensions', async () => {
    const first = dir('first', { 'dup.yaml': 'id: dup\nentrypoint: a\n' });
    const second = dir('second', { 'dup.json': '{"id":"dup","entrypoint":"b"}' });
    const registry = await createAgentRegistry({ builtins, dirs: [first, second] });
    expect(registry.list().map((manifest) => manifest.id)).not.toContain('dup');
    const error = refusal(registry, 'dup');
    expect(error.message).toContain(join(first, 'dup.yaml'));
    expect(error.details.file).toBe(join(second, 'dup.json'));
  });

  it('refuses an invalid manifest by its id, naming file, field and line, and serves the others', async () => {
    const agents = dir('agents', {
      'good.yaml': 'id: good\nentrypoint: a\n',
      'bad.yaml': 'id: bad\n',
      'typo.yaml': 'id: typo\nentrypoint: /opt/typo/bin/typo\nreadOnlyPath: [/opt/typo]\n',
      'Not An Id.yaml': 'id: x\n',
    });
    const registry = await createAgentRegistry({ builtins, dirs: [agents] });
    expect(registry.get('good').entrypoint).toBe('a');
    expect(registry.list().map((manifest) => manifest.id)).toEqual(['command', 'good', 'mock']);
    expect(registry.invalid().map((refused) => [refused.id, refused.error.details.field])).toEqual([
      [null, 'entrypoint'],
      ['bad', 'entrypoint'],
      ['typo', 'readOnlyPath'],
    ]);
    expect(refusal(registry, 'bad').details.file).toBe(join(agents, 'bad.yaml'));
    const typo = refusal(registry, 'typo');
    // The field once, then what is wrong with it, where, and the field meant.
    expect(typo.describe()).toBe(
      `${join(agents, 'typo.yaml')}: readOnlyPath: unknown field "readOnlyPath" at line 3, column 1\n` +
        '  hint: did you mean "readOnlyPaths"? a manifest needs id and entrypoint; optional: description, args, env, readOnlyPaths, policy, capabilities, modelGateway, result (file | exit-code)',
    );
  });

  it("holds each manifest to its caller's check, located in the file", async () => {
    const agents = dir('agents', {
      'strict.yaml': 'id: strict\nentrypoint: a\npolicy:\n  paths:\n    alow: [src/**]\n',
    });
    const registry = await createAgentRegistry({
      builtins,
      dirs: [agents],
      check: (manifest, file) => {
        const { policy } = manifest as { policy?: { paths?: Record<string, unknown> } };
        if (policy?.paths?.alow !== undefined) {
          throw new AasError('MANIFEST_INVALID', 'unknown key "alow"', {
            file,
            field: 'policy.paths.alow',
          });
        }
      },
    });
    const error = refusal(registry, 'strict');
    expect(error.details).toMatchObject({
      file: join(agents, 'strict.yaml'),
      field: 'policy.paths.alow',
      line: 5,
      column: 5,
    });
    expect(error.message).toBe('unknown key "alow" at line 5, column 5');
  });

  it('refuses an agents path that is not a directory', async () => {
    writeFileSync(join(root, 'file'), '');
    expect((await creationError([join(root, 'file')])).message).toMatch(/not a directory/);
  });

  it('hands out frozen manifests', async () => {
    const registry = await createAgentRegistry({ builtins, dirs: [] });
    const manifest = registry.get('command');
    expect(Object.isFrozen(manifest)).toBe(true);
    expect(Object.isFrozen(manifest.args)).toBe(true);
    expect(Object.isFrozen(manifest.env)).toBe(true);
  });
});

describe('built-in agents whose program is missing', () => {
  const unavailable = [
    {
      id: 'gemini',
      description: 'Gemini CLI',
      reason: '`gemini` is not on PATH',
      hint: 'install it (npm install -g @google/gemini-cli) or set AAS_GEMINI_BIN to its binary',
    },
  ];

  it('are AGENT_UNAVAILABLE with the install hint, not AGENT_UNKNOWN, and listed apart', async () => {
    const registry = await createAgentRegistry({ builtins, dirs: [], unavailable });
    expect(registry.list().map((manifest) => manifest.id)).not.toContain('gemini');
    expect(registry.unavailable().map((agent) => agent.id)).toEqual(['gemini']);
    try {
      registry.get('gemini');
      throw new Error('expected AGENT_UNAVAILABLE');
    } catch (error) {
      expect(isAasError(error) && error.code).toBe('AGENT_UNAVAILABLE');
      expect((error as AasError).message).toContain('`gemini` is not on PATH');
      expect((error as AasError).details.hint).toContain('AAS_GEMINI_BIN');
    }
  });

  it('may be defined by a manifest file instead, which then serves the id', async () => {
    const root = makeTempDir('aas-registry-');
    try {
      mkdirSync(join(root, 'agents'));
      writeFileSync(join(root, 'agents', 'gemini.yaml'), 'id: gemini\nentrypoint: /bin/true\n');
      const registry = await createAgentRegistry({
        builtins,
        dirs: [join(root, 'agents')],
        unavailable,
      });
      expect(registry.get('gemini').entrypoint).toBe('/bin/true');
      expect(registry.unavailable()).toEqual([]);
    } finally {
      removeDir(root);
    }
  });
});
