import { realpathSync } from 'node:fs';
import { basename, dirname, isAbsolute, sep } from 'node:path';
import { AasError, isWithin, realOrResolved } from '../kernel/index.js';

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
  refuseExposingDirectory(agentId, real, privateRoots);
  const binDir = dirname(real);
  const prefix = dirname(binDir);
  const conventional = basename(binDir) === 'bin' && depthOf(prefix) >= 2;
  const intoPrivate = privateRoots.some((root) => isWithin(binDir, root) || isWithin(root, prefix));
  return conventional && !intoPrivate ? [prefix] : [binDir];
}

/** Where users' home directories are; each holds what is private to its user. */
const HOME_PARENTS = ['/home'] as const;

/**
 * Refuses an entrypoint whose own directory the sandbox cannot show without showing far more:
 * the root or a top-level directory (`/etc/agent`: all of /etc, the shadow file included), a
 * home directory itself (`/home/dev/agent`: its .ssh and every credential in it), or a private
 * root. Checked when the manifest is read (checkAgentEntrypoint) and again at each launch,
 * where the entrypoint found on PATH is known too.
 */
function refuseExposingDirectory(
  agentId: string,
  real: string,
  privateRoots: readonly string[],
): void {
  const binDir = dirname(real);
  const isHome = HOME_PARENTS.some((parent) => dirname(binDir) === parent);
  if (depthOf(binDir) >= 2 && !isHome && !privateRoots.includes(binDir)) return;
  throw new AasError(
    'MANIFEST_INVALID',
    `agent '${agentId}' has its entrypoint ${real} directly in ${binDir}, which the sandbox would have to show whole`,
    {
      field: 'entrypoint',
      hint: `install the agent in a directory of its own (such as /opt/${agentId}/bin/${basename(real)}) and point entrypoint there`,
    },
  );
}

/**
 * The entrypoint check of agentInstallPaths, for a manifest as it is read: an absolute
 * entrypoint that exists and would show a whole top-level or home directory is refused then,
 * so `aas agents` and every command say so, not first a run that starts it.
 */
export function checkAgentEntrypoint(
  agentId: string,
  entrypoint: string,
  privateRoots: readonly string[] = [],
): void {
  if (!isAbsolute(entrypoint)) return;
  let real: string;
  try {
    real = realpathSync(entrypoint);
  } catch {
    // Missing now: the launch says so, with what it looked for.
    return;
  }
  if (SYSTEM_PREFIXES.some((prefix) => real.startsWith(prefix))) return;
  refuseExposingDirectory(agentId, real, privateRoots.map(realOrResolved));
}

/** How many directories deep an absolute path is: 0 for `/`, 1 for `/etc`, 2 for `/opt/x`. */
function depthOf(path: string): number {
  return path.split(sep).filter((part) => part !== '').length;
}
