import { randomBytes } from 'node:crypto';
import { mkdir, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256Hex } from '../kernel/index.js';

/**
 * Content-addressed artifact: `<dir>/<sha256>.<ext>`. Written to a temporary name and renamed,
 * so a crash never leaves a half-written file under a digest that claims otherwise.
 */
export async function storeArtifact(
  dir: string,
  content: string,
  extension: 'patch',
): Promise<{ sha256: string; path: string; bytes: number }> {
  const sha256 = sha256Hex(content);
  const path = join(dir, `${sha256}.${extension}`);
  const bytes = Buffer.byteLength(content);
  try {
    await stat(path);
    return { sha256, path, bytes };
  } catch {
    // Not there yet: write it.
  }
  await mkdir(dir, { recursive: true });
  const temporary = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(temporary, content, { mode: 0o644 });
  await rename(temporary, path);
  return { sha256, path, bytes };
}
