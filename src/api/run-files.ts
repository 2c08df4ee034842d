import { constants } from 'node:fs';
import { type FileHandle, lstat, open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { AttemptRecord } from '../store/index.js';
import { LOG_NAME_PATTERN } from './api-schemas.js';

/**
 * The files of a run the API serves, and how it opens them. Layout (written by the runner):
 * `<runs>/<runId>/attempt-<n>/{stdout,stderr}.log` for the agent and
 * `<runs>/<runId>/attempt-<n>/validators/validator-<i>.{stdout,stderr}.log` for validators;
 * patches are `<artifacts>/<sha256>.patch`. A log is named `<n>.<file>` over the API (for
 * example `1.stdout.log`, `2.validator-1.stderr.log`): names match one strict pattern and map
 * to one fixed path, so no request can name anything else on disk.
 */

const VALIDATOR_LOG = /^validator-[1-9][0-9]{0,2}\.(?:stdout|stderr)\.log$/;
const AGENT_LOGS = ['stdout.log', 'stderr.log'] as const;
const SHA256_HEX = /^[0-9a-f]{64}$/;

interface LogLocation {
  readonly attempt: number;
  /** Directories below the run directory, each of which must be a real directory. */
  readonly dirs: readonly string[];
  readonly file: string;
}

export function parseLogName(name: string): LogLocation | null {
  const match = LOG_NAME_PATTERN.exec(name);
  const attempt = match?.[1];
  const file = match?.[2];
  if (attempt === undefined || file === undefined) return null;
  const attemptDir = `attempt-${Number(attempt)}`;
  return file.startsWith('validator-')
    ? { attempt: Number(attempt), dirs: [attemptDir, 'validators'], file }
    : { attempt: Number(attempt), dirs: [attemptDir], file };
}

/** True when `path` exists and is a directory, not a symlink to one. */
async function isRealDir(path: string): Promise<boolean> {
  try {
    return (await lstat(path)).isDirectory();
  } catch {
    return false;
  }
}

async function isRegularFile(path: string): Promise<boolean> {
  try {
    return (await lstat(path)).isFile();
  } catch {
    return false;
  }
}

/**
 * Opens a regular file without following a symlink anywhere below `root`: every directory on
 * the way is checked with lstat, and the file itself is opened with O_NOFOLLOW (a symlink fails
 * with ELOOP) and O_NONBLOCK (a FIFO planted there cannot block the server), then checked with
 * fstat. Null when any of that fails: the caller answers NOT_FOUND.
 */
export async function openBelow(
  root: string,
  dirs: readonly string[],
  file: string,
): Promise<FileHandle | null> {
  let dir = root;
  for (const part of dirs) {
    dir = join(dir, part);
    if (!(await isRealDir(dir))) return null;
  }
  let handle: FileHandle;
  try {
    handle = await open(
      join(dir, file),
      constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK,
    );
  } catch {
    return null;
  }
  try {
    if ((await handle.stat()).isFile()) return handle;
  } catch {
    // Fall through: treated as absent.
  }
  await handle.close();
  return null;
}

export function openRunLog(
  runsDir: string,
  runId: string,
  location: LogLocation,
): Promise<FileHandle | null> {
  return openBelow(runsDir, [runId, ...location.dirs], location.file);
}

export function openPatch(artifactsDir: string, sha256: string): Promise<FileHandle | null> {
  if (!SHA256_HEX.test(sha256)) return Promise.resolve(null);
  return openBelow(artifactsDir, [], `${sha256}.patch`);
}

/**
 * Log names of a run that exist now, on this host's disk or among the stored tails every
 * replica reads, attempt by attempt, agent logs before validator logs.
 */
export async function listRunLogs(
  runsDir: string,
  runId: string,
  attempts: readonly AttemptRecord[],
  stored: readonly { readonly name: string }[] = [],
): Promise<string[]> {
  const local = await listLocalRunLogs(runsDir, runId, attempts);
  const known = new Set(attempts.map((attempt) => attempt.number));
  const names = new Set(local);
  for (const { name } of stored) {
    const location = parseLogName(name);
    if (location !== null && known.has(location.attempt)) names.add(name);
  }
  return [...names].sort(compareLogNames);
}

/** Attempt number first, then agent logs before validator logs, validators in number order. */
function compareLogNames(a: string, b: string): number {
  const [attemptA, fileA] = splitLogName(a);
  const [attemptB, fileB] = splitLogName(b);
  if (attemptA !== attemptB) return attemptA - attemptB;
  const agentA = AGENT_LOGS.indexOf(fileA as (typeof AGENT_LOGS)[number]);
  const agentB = AGENT_LOGS.indexOf(fileB as (typeof AGENT_LOGS)[number]);
  if (agentA !== -1 || agentB !== -1) {
    return (
      (agentA === -1 ? AGENT_LOGS.length : agentA) - (agentB === -1 ? AGENT_LOGS.length : agentB)
    );
  }
  return fileA.localeCompare(fileB, 'en', { numeric: true });
}

function splitLogName(name: string): [number, string] {
  const dot = name.indexOf('.');
  return [Number(name.slice(0, dot)), name.slice(dot + 1)];
}

async function listLocalRunLogs(
  runsDir: string,
  runId: string,
  attempts: readonly AttemptRecord[],
): Promise<string[]> {
  const runDir = join(runsDir, runId);
  if (!(await isRealDir(runDir))) return [];
  const names: string[] = [];
  for (const attempt of [...attempts].sort((a, b) => a.number - b.number)) {
    const attemptDir = join(runDir, `attempt-${attempt.number}`);
    if (!(await isRealDir(attemptDir))) continue;
    for (const file of AGENT_LOGS) {
      if (await isRegularFile(join(attemptDir, file))) names.push(`${attempt.number}.${file}`);
    }
    const validatorsDir = join(attemptDir, 'validators');
    if (!(await isRealDir(validatorsDir))) continue;
    const entries = await readdir(validatorsDir, { withFileTypes: true }).catch(() => []);
    const validatorLogs = entries
      .filter((entry) => entry.isFile() && VALIDATOR_LOG.test(entry.name))
      .map((entry) => entry.name)
      .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
    for (const file of validatorLogs) names.push(`${attempt.number}.${file}`);
  }
  return names;
}
