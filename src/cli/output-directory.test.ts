import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkOutputDirectory, makeOutputDirectory } from './output-directory.js';

const root = mkdtempSync(join(tmpdir(), 'aas-output-dir-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('output directories', () => {
  it('makes every missing level, and takes one that exists', async () => {
    const target = join(root, 'a', 'b', 'c');
    await checkOutputDirectory(target, 'DIR');
    await makeOutputDirectory(target, 'DIR');
    expect(statSync(target).isDirectory()).toBe(true);
    await makeOutputDirectory(target, 'DIR');
  });

  it('refuses a path through a file, naming the argument, before anything is made', async () => {
    writeFileSync(join(root, 'plain'), 'x');
    const target = join(root, 'plain', 'export');
    await expect(checkOutputDirectory(target, 'DIR')).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      details: { field: 'DIR' },
      message: `cannot write into ${target}: ${join(root, 'plain')} is a file, not a directory`,
    });
  });

  it('refuses, rather than spins, where the file system makes no directories', async () => {
    // Node's recursive mkdir loops for ever on this path.
    await expect(makeOutputDirectory('/proc/aas-nope/x', 'DIR')).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      details: { field: 'DIR' },
    });
    expect(existsSync('/proc/aas-nope')).toBe(false);
  });
});
