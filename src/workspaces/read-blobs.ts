import { AasError } from '../kernel/index.js';
import type { GitEnvOptions } from './git-env.js';
import { runGit } from './run-git.js';

/** Reads many blobs with one `git cat-file --batch`; a missing object is an error. */
export async function readBlobs(
  env: GitEnvOptions,
  cwd: string,
  objects: readonly string[],
): Promise<Map<string, Buffer>> {
  const unique = [...new Set(objects)];
  const blobs = new Map<string, Buffer>();
  if (unique.length === 0) return blobs;
  const result = await runGit({
    args: ['cat-file', '--batch'],
    cwd,
    env,
    input: `${unique.join('\n')}\n`,
  });
  const out = result.stdout;
  let at = 0;
  for (const object of unique) {
    const lineEnd = out.indexOf(0x0a, at);
    if (lineEnd === -1)
      throw new AasError('INTERNAL', `git cat-file --batch ended before ${object}`);
    const header = out.subarray(at, lineEnd).toString('latin1').split(' ');
    const size = Number(header[2]);
    if (header[0] !== object || header[1] === 'missing' || !Number.isSafeInteger(size)) {
      throw new AasError(
        'INTERNAL',
        `git cat-file --batch could not read ${object}: ${header.join(' ')}`,
      );
    }
    blobs.set(object, out.subarray(lineEnd + 1, lineEnd + 1 + size));
    at = lineEnd + 1 + size + 1;
  }
  return blobs;
}
