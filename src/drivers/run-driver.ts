import { mkdir, rm, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { AasError, type Clock, isWithin, realOrResolved } from '../kernel/index.js';
import type {
  LaunchOutcome,
  LocalService,
  ResourceLimits,
  SandboxBackend,
  SandboxNetwork,
} from '../sandbox/index.js';
import { type AepJob, AepJobSchema } from './aep-job.js';
import { buildAgentEnv } from './agent-env.js';
import { agentInstallPaths } from './agent-install-paths.js';
import type { AgentManifest } from './agent-manifest.js';
import { attemptPaths } from './attempt-paths.js';
import { type AttemptVerdict, classifyAttempt } from './classify-attempt.js';
import { describeZodError } from './describe-zod-error.js';
import type { DriverEvent } from './driver-event.js';
import { DEFAULT_EVENT_LIMITS, EventLogTailer } from './event-log-tailer.js';
import { readDriverResult } from './read-driver-result.js';
import { resolveAgentCommand } from './resolve-agent-command.js';

const EVENT_POLL_MS = 150;

export interface RunDriverOptions {
  readonly manifest: AgentManifest;
  readonly sandbox: SandboxBackend;
  readonly job: AepJob;
  readonly workspaceDir: string;
  /** The attempt's directory; see attemptPaths for what the agent sees of it. */
  readonly attemptDir: string;
  readonly baselineDir?: string;
  /** The host environment, passed in by the composition root (drivers never read it themselves). */
  readonly hostEnv: Readonly<Record<string, string | undefined>>;
  /** Names allowed to pass from hostEnv; null = none. */
  readonly envAllow: readonly string[] | null;
  readonly timeoutMs: number;
  readonly maxOutputBytes: number;
  /** What the network policy lets the agent reach (isolating backends enforce it). */
  readonly network: SandboxNetwork;
  /** CPU, processes, file size and workspace growth (every backend enforces them). */
  readonly limits?: ResourceLimits;
  /** Host paths the agent sees read-only besides the manifest's own. */
  readonly extraReadOnlyPaths?: readonly string[];
  /**
   * Host paths that must stay invisible whatever a manifest asks for: the data dir (database,
   * other runs) and the user's checkout. A read-only path equal to, inside or above one of
   * these is refused (MANIFEST_INVALID) instead of quietly exposing it.
   */
  readonly hiddenPaths?: readonly string[];
  /**
   * Home directories (the host user's, /root, /home): a read-only path may lie inside one
   * (an agent installed under ~/.local) but never be one or contain one, and the automatic
   * install prefix never widens into one.
   */
  readonly privateRoots?: readonly string[];
  readonly killGraceMs?: number;
  readonly signal?: AbortSignal;
  /** Services outside the sandbox the agent reaches on loopback (the model gateway). */
  readonly localServices?: readonly LocalService[];
  /** Variables that tell the agent where those services are (they beat the manifest's env). */
  readonly serviceEnv?: Readonly<Record<string, string>>;
  /**
   * Driver events, validated and bounded, in file order, plus runDriver's own `aep.*`
   * summaries. If it throws, the agent is killed and runDriver rejects with that error:
   * an event that cannot be recorded must not be silently dropped.
   */
  readonly onEvent: (event: DriverEvent) => void | Promise<void>;
  readonly eventLimits?: { readonly maxEvents?: number; readonly maxLineBytes?: number };
  readonly clock: Clock;
}

interface DriverOutcomeCommon {
  readonly launch: LaunchOutcome;
  readonly stdoutPath: string;
  readonly stderrPath: string;
  /** Event log lines that were malformed, invalid, oversized or over the event limit. */
  readonly rejectedEvents: number;
  /** Unknown keys the agent put in driver_result.json; ignored (also sent as an event). */
  readonly ignoredResultKeys: readonly string[];
}

/**
 * One attempt's outcome. `ok` is the authority: `code` is null exactly when ok, otherwise one
 * of the closed failure codes. A failed outcome may still carry the agent's (valid) result
 * for retry feedback — it is never a reason to accept the attempt.
 */
export type DriverOutcome = AttemptVerdict & DriverOutcomeCommon;

/**
 * Runs one attempt of an agent under the AEP contract: prepares the attempt directory and
 * job.json, starts the agent through the sandbox backend with an environment built from
 * nothing, streams its event log, and judges the attempt (see classifyAttempt).
 *
 * Rejects only for caller mistakes (invalid job → INTERNAL, missing input.command →
 * JOB_INVALID), host failures preparing the attempt, or an `onEvent` failure; everything
 * the agent does is reported in the outcome.
 */
export async function runDriver(opts: RunDriverOptions): Promise<DriverOutcome> {
  const job = validateJob(opts.job, opts.manifest);
  const { command, args } = resolveAgentCommand(opts.manifest, job);
  const paths = attemptPaths(opts.attemptDir);
  const workspaceDir = resolve(opts.workspaceDir);
  const baselineDir = opts.baselineDir === undefined ? undefined : resolve(opts.baselineDir);

  await Promise.all([
    mkdir(paths.home, { recursive: true }),
    mkdir(paths.tmp, { recursive: true }),
    mkdir(paths.artifacts, { recursive: true }),
  ]);
  // A result left over from an earlier use of this directory must never be judged as this
  // attempt's result, and a symlink planted there must never redirect our writes: remove
  // first, then create exclusively ('wx').
  await Promise.all(
    [paths.result, paths.jobSpec, paths.eventLog, paths.stdout, paths.stderr].map((path) =>
      rm(path, { force: true }),
    ),
  );
  await writeFile(paths.jobSpec, `${JSON.stringify(job, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  await writeFile(paths.eventLog, '', { mode: 0o600, flag: 'wx' });

  const privateRoots = (opts.privateRoots ?? []).map(realOrResolved);
  const readOnlyPaths = [
    ...agentInstallPaths(opts.manifest.id, command, privateRoots),
    ...opts.manifest.readOnlyPaths,
    ...(opts.extraReadOnlyPaths ?? []),
    ...(baselineDir === undefined ? [] : [baselineDir]),
  ];
  assertNothingHidden(opts.manifest.id, readOnlyPaths, opts.hiddenPaths ?? [], privateRoots);

  const env = buildAgentEnv({
    manifest: opts.manifest,
    hostEnv: opts.hostEnv,
    envAllow: opts.envAllow,
    paths,
    workspaceDir,
    baselineDir,
    attempt: job.attempt,
    ...(opts.serviceEnv === undefined ? {} : { serviceEnv: opts.serviceEnv }),
  });

  // One controller for "stop the agent": an external cancel or a failed onEvent.
  const stopAgent = new AbortController();
  const onExternalAbort = (): void => stopAgent.abort();
  if (opts.signal?.aborted) stopAgent.abort();
  opts.signal?.addEventListener('abort', onExternalAbort, { once: true });

  const limits = {
    maxEvents: opts.eventLimits?.maxEvents ?? DEFAULT_EVENT_LIMITS.maxEvents,
    maxLineBytes: opts.eventLimits?.maxLineBytes ?? DEFAULT_EVENT_LIMITS.maxLineBytes,
  };
  const deliver = async (event: DriverEvent): Promise<void> => {
    await opts.onEvent(event);
  };
  const tailer = new EventLogTailer(paths.eventLog, limits, deliver);
  tailer.start(EVENT_POLL_MS, () => stopAgent.abort());

  let launch: LaunchOutcome;
  try {
    launch = await opts.sandbox.launch({
      command,
      args,
      cwd: workspaceDir,
      env,
      timeoutMs: opts.timeoutMs,
      ...(opts.killGraceMs === undefined ? {} : { killGraceMs: opts.killGraceMs }),
      stdoutPath: paths.stdout,
      stderrPath: paths.stderr,
      maxOutputBytes: opts.maxOutputBytes,
      signal: stopAgent.signal,
      stdin: 'ignore',
      confinement: {
        writablePaths: [workspaceDir, paths.runDir],
        readOnlyPaths,
        tmpDir: paths.tmp,
        homeDir: paths.home,
        network: opts.network,
        scratchDir: paths.sandboxScratch,
        ...(opts.localServices === undefined ? {} : { localServices: opts.localServices }),
      },
      ...(opts.limits === undefined ? {} : { limits: opts.limits }),
    });
  } catch (error) {
    opts.signal?.removeEventListener('abort', onExternalAbort);
    // The launch failure is the error to report; the tailer only has to stop.
    await tailer.stop().catch(() => undefined);
    throw error;
  }
  opts.signal?.removeEventListener('abort', onExternalAbort);
  // Final read of the log after exit; rethrows an onEvent failure (after the agent was killed).
  await tailer.stop();

  if (tailer.rejectedCount > 0 || tailer.stoppedEarly !== null) {
    await deliver({
      type: 'aep.events.rejected',
      message: `${tailer.rejectedCount} event log line(s) rejected`,
      data: {
        count: tailer.rejectedCount,
        reasons: tailer.rejectionsByReason,
        delivered: tailer.deliveredCount,
        limits,
        stoppedEarly: tailer.stoppedEarly,
      },
    });
  }

  const agentExited =
    launch.spawnError === undefined &&
    !launch.cancelled &&
    !launch.timedOut &&
    !launch.outputLimitExceeded &&
    launch.limitHit === null;
  const resultRead =
    opts.manifest.result === 'file' && agentExited ? await readDriverResult(paths.result) : null;
  const ignoredResultKeys = resultRead?.ok === true ? resultRead.ignoredKeys : [];
  if (ignoredResultKeys.length > 0) {
    await deliver({
      type: 'aep.result.ignored_keys',
      message: `driver_result.json has unknown keys, ignored: ${ignoredResultKeys.join(', ')}`,
      data: { keys: ignoredResultKeys },
    });
  }

  const verdict = classifyAttempt({
    mode: opts.manifest.result,
    launch,
    resultRead,
    timeoutMs: opts.timeoutMs,
    maxOutputBytes: opts.maxOutputBytes,
    stopReason: opts.signal?.reason,
  });
  return {
    ...verdict,
    launch,
    stdoutPath: paths.stdout,
    stderrPath: paths.stderr,
    rejectedEvents: tailer.rejectedCount,
    ignoredResultKeys,
  };
}

function assertNothingHidden(
  agentId: string,
  readOnlyPaths: readonly string[],
  hiddenPaths: readonly string[],
  privateRoots: readonly string[],
): void {
  const hidden = hiddenPaths.map(realOrResolved);
  for (const path of readOnlyPaths) {
    const real = realOrResolved(path);
    const clash =
      hidden.find((dir) => isWithin(real, dir) || isWithin(dir, real)) ??
      privateRoots.find((root) => isWithin(root, real));
    if (clash !== undefined) {
      throw new AasError(
        'MANIFEST_INVALID',
        `agent '${agentId}' asks to see ${path} in its sandbox, which would expose ${clash}`,
        {
          field: 'readOnlyPaths',
          hint: 'list only the agent install directory; the data dir, the repository and home directories stay hidden',
        },
      );
    }
  }
}

function validateJob(job: AepJob, manifest: AgentManifest): AepJob {
  const parsed = AepJobSchema.safeParse(job);
  if (!parsed.success) {
    const { first, summary } = describeZodError(parsed.error);
    throw new AasError('INTERNAL', `the runner built an invalid AEP job: ${summary}`, {
      field: `job.${first.field}`,
    });
  }
  if (parsed.data.agentId !== manifest.id) {
    throw new AasError(
      'INTERNAL',
      `AEP job is for agent '${parsed.data.agentId}' but the manifest is '${manifest.id}'`,
      { field: 'job.agentId' },
    );
  }
  return parsed.data;
}
