import { chmod, lstat, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * `rm -rf` that also works after an agent made directories read-only (`chmod -R a-w`), which
 * makes a plain recursive remove fail with EACCES. Never follows symlinks: `rm` unlinks a link
 * rather than its target, and the permission repair only touches real directories (lstat).
 */
export async function forceRemove(path: string): Promise<void> {
  try {
    await rm(path, { recursive: true, force: true, maxRetries: 2 });
    return;
  } catch (thrown) {
    const code = (thrown as { code?: unknown }).code;
    if (code !== 'EACCES' && code !== 'EPERM' && code !== 'ENOTEMPTY') throw thrown;
  }
  await makeDirectoriesWritable(path);
  await rm(path, { recursive: true, force: true, maxRetries: 2 });
}

async function makeDirectoriesWritable(dir: string): Promise<void> {
  let info: Awaited<ReturnType<typeof lstat>>;
  try {
    info = await lstat(dir);
  } catch {
    return;
  }
  if (!info.isDirectory()) return;
  await chmod(dir, 0o700);
  const names = await readdir(dir);
  for (const name of names) await makeDirectoriesWritable(join(dir, name));
}
