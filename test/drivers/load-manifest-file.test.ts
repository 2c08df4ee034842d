import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AgentManifestSchema, loadManifestFile } from '../../src/drivers/index.js';
import { type AasError, isAasError } from '../../src/kernel/index.js';
import { makeTempDir, removeDir } from '../helpers/temp-repo.js';

describe('loadManifestFile', () => {
  let dir: string;
  beforeEach(() => {
    dir = makeTempDir('aas-manifest-');
  });
  afterEach(() => removeDir(dir));

  const write = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  async function failure(path: string): Promise<AasError> {
    try {
      await loadManifestFile(path);
    } catch (error) {
      if (isAasError(error)) return error;
      throw error;
    }
    throw new Error('expected MANIFEST_INVALID');
  }

  it('loads YAML with defaults applied and keeps the policy layer unvalidated', async () => {
    const path = write(
      'aider.yaml',
      [
        'id: aider',
        'description: Aider in yes-always mode',
        'entrypoint: aider',
        'args: [--yes-always, --no-git]',
        'env: { AIDER_MODEL: sonnet }',
        'policy:',
        '  paths: { allow: ["src/**"] }',
        '  anything: goes-here',
      ].join('\n'),
    );
    expect(await loadManifestFile(path)).toEqual({
      id: 'aider',
      description: 'Aider in yes-always mode',
      entrypoint: 'aider',
      args: ['--yes-always', '--no-git'],
      env: { AIDER_MODEL: 'sonnet' },
      policy: { paths: { allow: ['src/**'] }, anything: 'goes-here' },
      readOnlyPaths: [],
      capabilities: [],
      modelGateway: [],
      result: 'file',
    });
  });

  it('loads JSON and .yml', async () => {
    const json = write(
      'tool.json',
      JSON.stringify({ id: 'tool', entrypoint: '/usr/bin/tool', result: 'exit-code' }),
    );
    expect(await loadManifestFile(json)).toMatchObject({
      id: 'tool',
      args: [],
      env: {},
      result: 'exit-code',
    });
    const yml = write('other.yml', 'id: other\nentrypoint: /bin/true\n');
    expect((await loadManifestFile(yml)).id).toBe('other');
  });

  it.each([
    ['relative entrypoint', 'id: a\nentrypoint: ./run.sh\n', 'entrypoint'],
    ['missing entrypoint', 'id: a\n', 'entrypoint'],
    ['bad id', 'id: Bad/Id\nentrypoint: x\n', 'id'],
    ['wrong arg type', 'id: a\nentrypoint: x\nargs: [ok, 3]\n', 'args.1'],
    ['reserved env name', 'id: a\nentrypoint: x\nenv: { AEP_RUN_DIR: /tmp }\n', 'env.AEP_RUN_DIR'],
    ['bad env value', 'id: a\nentrypoint: x\nenv: { FOO: 1 }\n', 'env.FOO'],
    ['unknown key', 'id: a\nentrypoint: x\nentrypiont: y\n', 'entrypiont'],
    ['bad result mode', 'id: a\nentrypoint: x\nresult: stdout\n', 'result'],
    ['bad capability', 'id: a\nentrypoint: x\ncapabilities: ["Has Spaces"]\n', 'capabilities.0'],
  ])('%s → MANIFEST_INVALID naming file and field', async (_name, text, field) => {
    const path = write('a.yaml', text);
    const error = await failure(path);
    expect(error.code).toBe('MANIFEST_INVALID');
    expect(error.details.file).toBe(path);
    expect(error.details.field).toBe(field);
    expect(error.details.hint).toBeTruthy();
    expect(error.describe()).toContain(`${path}: ${field}`);
  });

  it('requires the file stem to equal the id', async () => {
    const error = await failure(write('claude.yaml', 'id: codex\nentrypoint: codex\n'));
    expect(error.details.field).toBe('id');
    expect(error.message).toMatch(/does not match its file name/);
    expect(error.details.hint).toMatch(/codex\.yaml/);
  });

  it('reports syntax errors with the file and position', async () => {
    const yaml = await failure(write('a.yaml', 'id: a\nentrypoint: [unclosed\n'));
    expect(yaml.code).toBe('MANIFEST_INVALID');
    expect(yaml.message).toMatch(/not valid YAML: .* at line 3, column 1/);
    expect(yaml.details.file).toBe(join(dir, 'a.yaml'));

    const duplicate = await failure(write('b.yaml', 'id: b\nid: b\nentrypoint: x\n'));
    expect(duplicate.message).toMatch(/keys must be unique at line 2/);

    const json = await failure(write('c.json', '{ "id": "c", '));
    expect(json.message).toMatch(/not valid JSON/);

    const notObject = await failure(write('d.yaml', '- just\n- a list\n'));
    expect(notObject.message).toMatch(/expected object/);
  });

  it('refuses missing files, unknown extensions, non-files and oversized files', async () => {
    expect((await failure(join(dir, 'nope.yaml'))).message).toMatch(/does not exist/);
    expect((await failure(write('a.toml', 'id = "a"'))).message).toMatch(
      /unsupported manifest file extension/,
    );
    mkdirSync(join(dir, 'folder.yaml'));
    expect((await failure(join(dir, 'folder.yaml'))).message).toMatch(/not a regular file/);
    const big = write('big.yaml', `id: big\nentrypoint: x\ndescription: ${'x'.repeat(300_000)}\n`);
    expect((await failure(big)).message).toMatch(/limit/);
  });

  it('follows a symlinked manifest (operator configuration)', async () => {
    const target = write('real-target.txt', 'id: linked\nentrypoint: /bin/true\n');
    symlinkSync(target, join(dir, 'linked.yaml'));
    expect((await loadManifestFile(join(dir, 'linked.yaml'))).id).toBe('linked');
  });

  it('schema: entrypoints are absolute paths or bare names, never NUL', () => {
    const ok = (entrypoint: string) =>
      AgentManifestSchema.safeParse({ id: 'a', entrypoint }).success;
    expect(ok('/usr/bin/claude')).toBe(true);
    expect(ok('claude')).toBe(true);
    expect(ok('node20.x')).toBe(true);
    expect(ok('bin/claude')).toBe(false);
    expect(ok('../claude')).toBe(false);
    expect(ok('-rf')).toBe(false);
    expect(ok('/bin/sh\0x')).toBe(false);
    expect(ok('')).toBe(false);
  });
});
