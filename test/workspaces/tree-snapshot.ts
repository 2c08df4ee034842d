import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

/** What git can record about a path: its kind, the executable bit, and the exact bytes (or link target). */
export interface TreeEntry {
  readonly kind: 'file' | 'symlink';
  readonly executable: boolean;
  readonly bytes: Buffer;
}

export type TreeSnapshot = Map<string, TreeEntry>;

/**
 * Every file and symlink under `root` by repo-relative POSIX path (empty directories are
 * invisible to git, so they are skipped). Names are read as raw bytes and decoded as UTF-8;
 * `.git` at the top is skipped (a clone has one, a workspace must not).
 */
export function readTreeSnapshot(root: string): TreeSnapshot {
  const entries: TreeSnapshot = new Map();
  const walk = (dir: Buffer, prefix: string) => {
    for (const name of readdirSync(dir, { encoding: 'buffer' })) {
      const rel = prefix === '' ? name.toString('utf8') : `${prefix}/${name.toString('utf8')}`;
      if (rel === '.git') continue;
      const full = Buffer.concat([dir, Buffer.from('/'), name]);
      const info = lstatSync(full);
      if (info.isSymbolicLink()) {
        entries.set(rel, {
          kind: 'symlink',
          executable: false,
          bytes: readlinkSync(full, { encoding: 'buffer' }),
        });
      } else if (info.isDirectory()) {
        walk(full, rel);
      } else if (info.isFile()) {
        entries.set(rel, {
          kind: 'file',
          executable: (info.mode & 0o100) !== 0,
          bytes: readFileSync(full),
        });
      }
    }
  };
  walk(Buffer.from(root), '');
  return entries;
}

/** A stable, diff-friendly form for `expect(...).toEqual(...)`. */
export function describeTree(tree: TreeSnapshot): string[] {
  return [...tree.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(
      ([path, entry]) =>
        `${path} ${entry.kind}${entry.executable ? ' +x' : ''} ${entry.bytes.toString('base64')}`,
    );
}

export function joinPath(root: string, rel: string): string {
  return join(root, ...rel.split('/'));
}
