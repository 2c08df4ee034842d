import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { platform, tmpdir } from 'node:os';
import { join } from 'node:path';
import { normaliseError } from '../kernel/index.js';
import { forceRemove } from './force-remove.js';
import { mountOverlay, unmountAllUnder } from './run-mount.js';

export interface WorkspaceStrategySupport {
  /** Whether this process can give attempts overlay workspaces. */
  readonly overlay: boolean;
  /** Why (or why not), in words an operator can act on; `aas doctor` prints it. */
  readonly reason: string;
}

/** CAP_SYS_ADMIN is bit 21 of the capability sets in /proc/self/status. */
const CAP_SYS_ADMIN_BIT = 21n;

let cached: Promise<WorkspaceStrategySupport> | undefined;

/**
 * Whether overlay workspaces work in this process, found out by mounting a real overlay in a
 * temporary directory (~10 ms, once per process: the answer is cached). Reading capabilities
 * alone is not enough: a seccomp filter, an LSM, a container without the overlay module, or a
 * temp directory on a file system that cannot be an upper layer all say no only to the mount.
 */
export function workspaceStrategySupport(): Promise<WorkspaceStrategySupport> {
  cached ??= probe();
  return cached;
}

async function probe(): Promise<WorkspaceStrategySupport> {
  if (platform() !== 'linux') {
    return {
      overlay: false,
      reason: `overlayfs workspaces need Linux; this host is ${platform()}`,
    };
  }
  const capable = await hasSysAdmin();
  const uid = process.getuid?.() ?? -1;
  if (capable === false) {
    return {
      overlay: false,
      reason: `overlayfs mounts need CAP_SYS_ADMIN; running as uid ${uid} without it`,
    };
  }
  let root: string;
  try {
    root = await mkdtemp(join(tmpdir(), 'aas-overlay-probe-'));
  } catch (thrown) {
    return {
      overlay: false,
      reason: `cannot create a probe directory: ${normaliseError(thrown).message}`,
    };
  }
  const merged = join(root, 'merged');
  try {
    await Promise.all(['lower', 'upper', 'work', 'merged'].map((d) => mkdir(join(root, d))));
    await writeFile(join(root, 'lower', 'base'), 'base\n');
    await mountOverlay({
      lower: join(root, 'lower'),
      upper: join(root, 'upper'),
      work: join(root, 'work'),
      target: merged,
    });
    await writeFile(join(merged, 'written'), 'agent\n');
    const seen = await readFile(join(merged, 'base'), 'utf8');
    const landed = await readFile(join(root, 'upper', 'written'), 'utf8');
    if (seen !== 'base\n' || landed !== 'agent\n') {
      return { overlay: false, reason: 'the probe overlay did not layer its files as expected' };
    }
    return {
      overlay: true,
      reason: `overlayfs mounts work (probe mount in ${tmpdir()} as uid ${uid})`,
    };
  } catch (thrown) {
    const filesystems = await readFile('/proc/filesystems', 'utf8').catch(() => '');
    const known = /\toverlay$/m.test(filesystems);
    return {
      overlay: false,
      reason: `${known ? '' : 'overlay is not in /proc/filesystems; '}probe mount failed: ${normaliseError(thrown).message}`,
    };
  } finally {
    // Never delete through a mount: if the probe overlay cannot be unmounted, its few bytes stay.
    const unmounted = await unmountAllUnder(root).then(
      () => true,
      () => false,
    );
    if (unmounted) await forceRemove(root).catch(() => undefined);
  }
}

/** From CapEff in /proc/self/status; null when it cannot be read (the probe mount decides). */
async function hasSysAdmin(): Promise<boolean | null> {
  try {
    const status = await readFile('/proc/self/status', 'utf8');
    const hex = /^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1];
    if (hex === undefined) return null;
    return ((BigInt(`0x${hex}`) >> CAP_SYS_ADMIN_BIT) & 1n) === 1n;
  } catch {
    return null;
  }
}
