import { realpathSync } from 'node:fs';
import { basename, dirname, isAbsolute, sep } from 'node:path';
import { AasError } from '../kernel/index.js';

/** Trees every sandbox shows anyway (read-only): an entrypoint there brings nothing. */
const SYSTEM_PREFIXES = ['/usr/', '/bin/', '/sbin/', '/lib/', '/lib64/'] as const;

/**
 * An absolute entrypoint outside the system toolchain brings its install directory: the prefix
 * of a conventional layout (`/opt/x` for `/opt/x/bin/x`, the nvm version directory for an
 * nvm-installed node), else only the directory the entrypoint sits in (`/srv/x/tools/agent.sh`
 * shows `/srv/x/tools`, not all of `/srv/x`). Never a top-level directory or the root: an
 * entrypoint in `/etc/x/` must not show `/etc` (with the host's shadow file) to the agent, so
 * an entrypoint directly in one is refused. Inside a home directory only the entrypoint's own
 * directory: `~/.cargo` also holds `credentials.toml`.
 */
export function agentInstallPaths(
  agentId: string,
  command: string,
  privateRoots: readonly string[],
): string[] {
  if (!isAbsolute(command)) return [];
  let real: string;
  try {
    real = realpathSync(command);
  } catch {
    return [];
  }
  if (SYSTEM_PREFIXES.some((prefix) => real.startsWith(prefix))) return [];
  const binDir = dirname(real);
  if (depthOf(binDir) < 2) {
    throw new AasError(
      'MANIFEST_INVALID',
      `agent '${agentId}' has its entrypoint ${real} directly in ${binDir}, which the sandbox would have to show whole`,
      {
        field: 'entrypoint',
        hint: `install the agent in a directory of its own (such as /opt/${agentId}/bin/${basename(real)}) and point entrypoint there`,
      },
    );
  }
  const prefix = dirname(binDir);
  const conventional = basename(binDir) === 'bin' && depthOf(prefix) >= 2;
  const intoPrivate = privateRoots.some((root) => within(binDir, root) || within(root, prefix));
  return conventional && !intoPrivate ? [prefix] : [binDir];
}

/** How many directories deep an absolute path is: 0 for `/`, 1 for `/etc`, 2 for `/opt/x`. */
function depthOf(path: string): number {
  return path.split(sep).filter((part) => part !== '').length;
}

/** Whether `inner` is `outer` or lies below it. */
export function within(inner: string, outer: string): boolean {
  return inner === outer || inner.startsWith(outer.endsWith(sep) ? outer : `${outer}${sep}`);
}
