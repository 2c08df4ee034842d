import { spawn } from 'node:child_process';
import { AasError } from '../kernel/index.js';
import { mountsAtOrUnder, readMountTable } from './mount-table.js';

/** Where mount(8) and umount(8) are looked up: system locations only, never the host's PATH. */
const SYSTEM_SEARCH_PATH = '/usr/bin:/bin:/usr/sbin:/sbin';
/** A mount or unmount that has not finished by then is killed and reported, never waited on forever. */
const COMMAND_TIMEOUT_MS = 30_000;
/** Busy unmounts are retried this often, this far apart, before falling back to a lazy one. */
const BUSY_RETRIES = 3;
const BUSY_RETRY_DELAY_MS = 50;

export interface OverlayLayers {
  /** Read-only: the cached checkout. */
  readonly lower: string;
  /** Receives every write made through the mount. */
  readonly upper: string;
  /** overlayfs's scratch directory, on the upper's file system. */
  readonly work: string;
  /** The mount point: the workspace directory. */
  readonly target: string;
}

interface CommandResult {
  readonly exitCode: number | null;
  readonly stderr: string;
}

/**
 * Fixed mount options, each chosen so that the upper layer alone tells what the agent changed:
 * - `redirect_dir=off`: renaming a directory that has lower content fails with EXDEV instead of
 *   creating a redirect (an upper directory that shows lower files of another path, which only
 *   an xattr Node cannot read would reveal). `mv` and Python's `shutil.move` fall back to
 *   copying; a bare rename(2) (Node's `fs.rename`, Python's `os.rename`) gets the error (all
 *   four checked on the reference VM), as in Docker's overlay2 containers, whose documentation
 *   says the same. It is the reference kernel's default
 *   (/sys/module/overlay/parameters/redirect_dir = N); renaming files is unaffected.
 * - `metacopy=off`: a chmod copies the whole file up, so an upper file always holds its data.
 * - `index=off`: no inode index in the work dir tying the upper to this one lower; the lower is
 *   shared by every attempt on the same commit.
 * - `nosuid,nodev`: a set-uid file or device node an agent created in the upper layer means
 *   nothing through the mount, even to a host-side process.
 * - `volatile`: no sync of the upper file system at unmount. The upper is thrown away with the
 *   attempt, and that sync flushes every dirty page of the whole file system the runs directory
 *   is on: unmounting a 200-file upper took 147 ms with 300 MB of unrelated dirty data on the
 *   same ext4, 3 ms with `volatile` (reference VM). A crash leaves an upper that cannot be
 *   mounted again, which is fine: a leftover upper is only ever deleted.
 */
const FIXED_OPTIONS = 'nosuid,nodev,redirect_dir=off,metacopy=off,index=off,volatile';

/**
 * Characters that cannot be passed in an overlay option string unambiguously: `,` separates
 * options, `:` separates lower layers, `\` escapes, and whitespace or control bytes are
 * escaped in /proc/self/mountinfo, which is where stale mounts are found again.
 */
export function overlayPathProblem(path: string): string | null {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control bytes are exactly what is refused
  const bad = /[,:\\\s\x00-\x1f\x7f]/.exec(path);
  return bad === null
    ? null
    : `the path ${JSON.stringify(path)} contains ${JSON.stringify(bad[0])}, which overlay mount options cannot carry`;
}

/** Mounts an overlay of `lower` + `upper` at `target`; a failure is thrown with mount's stderr. */
export async function mountOverlay(layers: OverlayLayers): Promise<void> {
  for (const path of [layers.lower, layers.upper, layers.work, layers.target]) {
    const problem = overlayPathProblem(path);
    if (problem !== null) throw new AasError('INTERNAL', problem);
  }
  const options = `lowerdir=${layers.lower},upperdir=${layers.upper},workdir=${layers.work},${FIXED_OPTIONS}`;
  // -n: no /etc/mtab bookkeeping; -i: no /sbin/mount.<type> helper, only the kernel's overlay.
  const result = await runSystemCommand('mount', [
    '-n',
    '-i',
    '-t',
    'overlay',
    'overlay',
    '-o',
    options,
    layers.target,
  ]);
  if (result.exitCode !== 0) {
    throw new AasError(
      'INTERNAL',
      `cannot mount the overlay workspace at ${layers.target}: ${result.stderr.trim() || `mount exited ${result.exitCode ?? 'on a signal'}`}`,
    );
  }
}

/**
 * Unmounts every mount at `dir` (unless `keepSelf`) or below it, deepest first, and returns
 * how many there were.
 * A busy mount (a process still has a file open or its cwd inside) is retried a few times,
 * then detached lazily: it disappears from the namespace at once, so nothing can reach the
 * lower layer through this path any more, and the kernel frees it when the last user goes.
 * Throws when a mount is still listed afterwards, so a caller never deletes through one.
 */
export async function unmountAllUnder(
  dir: string,
  options: { readonly keepSelf?: boolean } = {},
): Promise<number> {
  const below = async () =>
    mountsAtOrUnder(await readMountTable(), dir).filter(
      (entry) => options.keepSelf !== true || entry.mountPoint !== dir,
    );
  const mounts = await below();
  if (mounts.length === 0) return 0;
  for (const mount of mounts) await unmountOne(mount.mountPoint);
  const left = await below();
  if (left.length > 0) {
    throw new AasError(
      'INTERNAL',
      `${left.map((m) => m.mountPoint).join(', ')} is still mounted after unmounting`,
      { hint: 'unmount it by hand (umount -l) before removing anything below it' },
    );
  }
  return mounts.length;
}

async function unmountOne(target: string): Promise<void> {
  let last: CommandResult = { exitCode: null, stderr: '' };
  for (let attempt = 0; attempt <= BUSY_RETRIES; attempt += 1) {
    if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, BUSY_RETRY_DELAY_MS));
    last = await runSystemCommand('umount', ['-n', '-i', target]);
    if (last.exitCode === 0 || !(await isMountPoint(target))) return;
    if (!/busy/i.test(last.stderr)) break;
  }
  const lazy = await runSystemCommand('umount', ['-n', '-i', '-l', target]);
  if (lazy.exitCode === 0 || !(await isMountPoint(target))) return;
  throw new AasError(
    'INTERNAL',
    `cannot unmount ${target}: ${lazy.stderr.trim() || last.stderr.trim() || `umount exited ${lazy.exitCode ?? 'on a signal'}`}`,
  );
}

export async function isMountPoint(path: string): Promise<boolean> {
  return (await readMountTable()).some((entry) => entry.mountPoint === path);
}

/** Runs a system tool directly (no shell) with a minimal environment and the C locale. */
export function runSystemCommand(name: string, args: readonly string[]): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = spawn(name, args, {
      env: { PATH: SYSTEM_SEARCH_PATH, LC_ALL: 'C', LANG: 'C' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), COMMAND_TIMEOUT_MS);
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      if (stderr.length < 8192) stderr += chunk;
    });
    child.on('error', (error) => {
      clearTimeout(timer);
      resolve({ exitCode: null, stderr: `cannot run ${name}: ${error.message}` });
    });
    child.on('close', (exitCode) => {
      clearTimeout(timer);
      resolve({ exitCode, stderr });
    });
  });
}
