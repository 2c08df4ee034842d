import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { NEUTRAL_ATTRIBUTES, PRIVATE_CONFIG } from './prepare-run-git.js';
import { PATCH_INDEX_PREFIX } from './workspace-layout.js';

/**
 * A throw-away git dir that sees the run's objects (alternates) and has the neutral attributes
 * plus `-diff` for the given paths, so `git diff --binary` carries those files as base85
 * binary patches. Used only when a text file is not valid UTF-8: its raw bytes would make the
 * patch text lossy, whereas a binary patch is ASCII and exact. Attribute files are the only
 * per-path switch git has, and `$GIT_DIR/info/attributes` is the only one that outranks the
 * `!diff` reset, hence a separate dir rather than editing the shared one.
 */
export async function createBinaryOverrideGitDir(
  attemptDir: string,
  runGitDir: string,
  paths: readonly Buffer[],
): Promise<string> {
  const dir = join(attemptDir, `${PATCH_INDEX_PREFIX}git-${randomBytes(8).toString('hex')}`);
  await mkdir(join(dir, 'objects', 'info'), { recursive: true });
  await mkdir(join(dir, 'refs'), { recursive: true });
  await mkdir(join(dir, 'info'), { recursive: true });
  await writeFile(join(dir, 'HEAD'), 'ref: refs/heads/aas\n');
  await writeFile(join(dir, 'config'), PRIVATE_CONFIG);
  await writeFile(join(dir, 'objects', 'info', 'alternates'), `${join(runGitDir, 'objects')}\n`);
  const lines = paths.map((path) =>
    Buffer.concat([attributePattern(path), Buffer.from(' -diff\n')]),
  );
  await writeFile(
    join(dir, 'info', 'attributes'),
    Buffer.concat([Buffer.from(NEUTRAL_ATTRIBUTES), ...lines]),
  );
  return dir;
}

const GLOB_SPECIAL = new Set([0x2a /* * */, 0x3f /* ? */, 0x5b /* [ */, 0x5c /* \ */]);

/**
 * An attributes pattern matching exactly one repo path: anchored with a leading `/`, glob
 * characters backslash-escaped, then C-quoted (supported by git's attribute parser) so spaces,
 * quotes and non-ASCII bytes survive.
 */
export function attributePattern(path: Buffer): Buffer {
  const escaped: number[] = [0x2f];
  for (const byte of path) {
    if (GLOB_SPECIAL.has(byte)) escaped.push(0x5c);
    escaped.push(byte);
  }
  let quoted = '"';
  for (const byte of escaped) {
    if (byte === 0x22) quoted += '\\"';
    else if (byte === 0x5c) quoted += '\\\\';
    else if (byte < 0x20 || byte >= 0x7f) quoted += `\\${byte.toString(8).padStart(3, '0')}`;
    else quoted += String.fromCharCode(byte);
  }
  return Buffer.from(`${quoted}"`, 'latin1');
}
