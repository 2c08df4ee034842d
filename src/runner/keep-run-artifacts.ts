import { lstat, open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { attemptPaths } from '../drivers/index.js';
import { AasError, type Logger, normaliseError, sha256Hex } from '../kernel/index.js';
import type { RunFence } from '../store/index.js';
import type { RunStore } from './runner-deps.js';

/**
 * The largest patch kept in the database: the largest patch the runner computes at all
 * (compute-patch's own limit), so a patch that passed its gates is never refused here. A patch
 * is promoted whole or not at all; 64 MiB is far beyond what a reviewer reads or a forge
 * accepts in one pull request, and small enough for one request and one row on either database.
 */
export const PATCH_MAX_BYTES = 64 * 1024 * 1024;

/**
 * How much of each log is kept: its last 1 MiB. The end of a log says why something failed;
 * whatever is older stays in the attempt directory of the host that ran it while that exists.
 */
export const LOG_TAIL_BYTES = 1024 * 1024;

const VALIDATOR_LOG = /^validator-[1-9][0-9]{0,2}\.(?:stdout|stderr)\.log$/;

interface Keeper {
  readonly store: Pick<RunStore, 'putRunArtifact'>;
  readonly clock: { nowIso(): string };
  readonly log: Logger;
}

/**
 * Stores the run's patch where every replica reads it (and a remote worker's upload lands).
 * PAYLOAD_TOO_LARGE above PATCH_MAX_BYTES: the attempt cannot yield a promotable patch.
 */
export async function keepPatch(
  deps: Keeper,
  input: { runId: string; fence: RunFence | undefined; text: string },
): Promise<void> {
  const content = Buffer.from(input.text, 'utf8');
  if (content.length > PATCH_MAX_BYTES) {
    throw new AasError(
      'PAYLOAD_TOO_LARGE',
      `the patch is ${content.length} bytes; at most ${PATCH_MAX_BYTES} are kept for review and promotion`,
      { field: 'patch', hint: 'split the task so each run changes less' },
    );
  }
  await deps.store.putRunArtifact({
    runId: input.runId,
    name: 'patch',
    content,
    sha256: sha256Hex(content),
    originalBytes: content.length,
    createdAt: deps.clock.nowIso(),
    ...(input.fence === undefined ? {} : { fence: input.fence }),
  });
}

/**
 * Stores the tail of every log one attempt wrote (the agent's output and each validator's),
 * under the names the API serves them by (`<attempt>.stdout.log`, `<attempt>.validator-1.stderr.log`).
 * Best effort: a log that cannot be kept is reported and skipped, never the run's failure; a
 * lost lease stops it (the next holder's logs are what count).
 */
export async function keepAttemptLogs(
  deps: Keeper,
  input: { runId: string; fence: RunFence | undefined; attemptDir: string; attempt: number },
): Promise<void> {
  const paths = attemptPaths(input.attemptDir);
  const files: { name: string; path: string }[] = [
    { name: `${input.attempt}.stdout.log`, path: paths.stdout },
    { name: `${input.attempt}.stderr.log`, path: paths.stderr },
  ];
  const validatorDir = join(input.attemptDir, 'validators');
  const validatorLogs = await readdir(validatorDir).catch(() => [] as string[]);
  for (const file of validatorLogs.filter((name) => VALIDATOR_LOG.test(name)).sort()) {
    files.push({ name: `${input.attempt}.${file}`, path: join(validatorDir, file) });
  }
  for (const file of files) {
    try {
      const tail = await readTail(file.path, LOG_TAIL_BYTES);
      if (tail === null) continue;
      await deps.store.putRunArtifact({
        runId: input.runId,
        name: file.name,
        content: tail.content,
        sha256: sha256Hex(tail.content),
        originalBytes: tail.originalBytes,
        createdAt: deps.clock.nowIso(),
        ...(input.fence === undefined ? {} : { fence: input.fence }),
      });
    } catch (thrown) {
      const error = normaliseError(thrown);
      deps.log.warn({ runId: input.runId, log: file.name, err: error.message }, 'log not kept');
      if (error.code === 'LEASE_FENCED') return;
    }
  }
}

/** The last `maxBytes` of a regular file (never following a symlink); null when there is none. */
async function readTail(
  path: string,
  maxBytes: number,
): Promise<{ content: Buffer; originalBytes: number } | null> {
  const info = await lstat(path).catch(() => null);
  if (info === null || !info.isFile()) return null;
  const handle = await open(path, 'r');
  try {
    const size = (await handle.stat()).size;
    const length = Math.min(size, maxBytes);
    const content = Buffer.alloc(length);
    await handle.read(content, 0, length, size - length);
    return { content, originalBytes: size };
  } finally {
    await handle.close();
  }
}
