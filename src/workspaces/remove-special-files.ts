import { lstat, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { DroppedPath, Workspace } from './types.js';

/**
 * FIFOs, sockets and device nodes cannot be part of a patch, and host-side git may block
 * forever opening one (a FIFO planted as `sub/.git/HEAD` or `.gitattributes` hung
 * `git ls-files` and `git add`). They are removed before git looks at the workspace, each
 * reported as dropped. On an overlay only the upper layer can hold them, so only it is walked;
 * its whiteouts (character devices 0:0) are deletions, not files, and stay.
 */
export async function removeSpecialFiles(ws: Workspace): Promise<DroppedPath[]> {
  const root = ws.strategy === 'overlay' && ws.upperDir !== undefined ? ws.upperDir : ws.dir;
  const overlay = root !== ws.dir;
  const removed: DroppedPath[] = [];
  const pending: string[] = [''];
  while (pending.length > 0) {
    const rel = pending.pop() ?? '';
    let names: string[];
    try {
      names = await readdir(join(root, rel));
    } catch {
      continue;
    }
    for (const name of names) {
      const path = rel === '' ? name : `${rel}/${name}`;
      let stats: Awaited<ReturnType<typeof lstat>>;
      try {
        stats = await lstat(join(root, path));
      } catch {
        continue;
      }
      if (stats.isDirectory()) {
        pending.push(path);
        continue;
      }
      if (stats.isFile() || stats.isSymbolicLink()) continue;
      if (overlay && stats.isCharacterDevice() && stats.rdev === 0) continue;
      // Through the merged view on an overlay, so the deletion is the overlay's own.
      await unlink(join(ws.dir, path)).catch(() => undefined);
      removed.push({
        path,
        layer: 'floor',
        rule: 'special files (FIFO, socket, device) cannot be promoted',
      });
    }
  }
  return removed.sort((a, b) => (a.path < b.path ? -1 : 1));
}
