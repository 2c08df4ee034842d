import { constants } from 'node:fs';
import { access, mkdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { AasError, normaliseError } from '../kernel/index.js';

/** The directories of `target` that do not exist yet, outermost first, and the one that does. */
async function missingAncestors(target: string): Promise<{ existing: string; missing: string[] }> {
  const missing: string[] = [];
  let path = target;
  for (;;) {
    const info = await stat(path).catch((thrown: unknown) => {
      // ENOTDIR: a file above it, which the next level up names.
      const code = (thrown as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return null;
      throw thrown;
    });
    if (info !== null) {
      if (!info.isDirectory()) {
        throw new AasError('INVALID_ARGUMENT', `${path} is a file, not a directory`, {
          hint: `name a directory to write into (${target} is created if missing)`,
        });
      }
      return { existing: path, missing: missing.reverse() };
    }
    missing.push(path);
    const parent = dirname(path);
    if (parent === path) return { existing: path, missing: missing.reverse() };
    path = parent;
  }
}

/**
 * Refuses, before any work, a directory that could not be made or written: its nearest
 * existing ancestor must be a directory this user may write into. `field` names the argument.
 */
export async function checkOutputDirectory(target: string, field: string): Promise<void> {
  try {
    const { existing } = await missingAncestors(target);
    await access(existing, constants.W_OK | constants.X_OK);
  } catch (thrown) {
    throw refusal(target, field, thrown);
  }
}

/**
 * Makes `target` and the directories above it that are missing, one level at a time. Not
 * `mkdir -p`: Node's recursive mkdir takes any ENOENT for a missing parent and tries again
 * for ever under a file system that refuses to make directories that way (`/proc/x` spins it).
 */
export async function makeOutputDirectory(target: string, field: string): Promise<void> {
  try {
    const { missing } = await missingAncestors(target);
    for (const dir of missing) {
      await mkdir(dir).catch((thrown: unknown) => {
        // Made meanwhile by someone else: as good.
        if ((thrown as NodeJS.ErrnoException).code !== 'EEXIST') throw thrown;
      });
    }
  } catch (thrown) {
    throw refusal(target, field, thrown);
  }
}

function refusal(target: string, field: string, thrown: unknown): AasError {
  const error = normaliseError(thrown, 'INVALID_ARGUMENT');
  return new AasError('INVALID_ARGUMENT', `cannot write into ${target}: ${error.message}`, {
    field,
    hint: error.details.hint ?? 'name a directory you may create and write, or create it first',
  });
}
