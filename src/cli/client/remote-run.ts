import { setTimeout as sleep } from 'node:timers/promises';
import { AasError, isCode, normaliseError } from '../../kernel/index.js';
import type { JobSpec, RunOutcome } from '../../runner/index.js';
import type { AttemptRecord, RunRecord, StoredEvent } from '../../sessions/index.js';
import { type CliIo, println } from '../cli-io.js';
import { progressPrinter, warningPrinter } from '../progress-printer.js';
import { followSessionEvents, type ReconnectSettings } from './follow-events.js';
import { isTransient, type ServerClient } from './server-client.js';
import { RunSummaryWire } from './wire.js';

/** Pauses between tries of a cancel the server did not answer: 1 s, doubling up to 10 s. */
const CANCEL_RETRY_FIRST_MS = 1_000;
const CANCEL_RETRY_MAX_MS = 10_000;
/** One cancel request waits at most this long for its answer. */
const CANCEL_REQUEST_TIMEOUT_MS = 10_000;

/** A run's outcome as the server recorded it; the patch lives on the server, at `patchUrl`. */
export interface RemoteRunOutcome extends RunOutcome {
  readonly server: string;
  readonly patchUrl: string | null;
}

export interface RemoteRunOptions {
  /** No phase lines (`--json`); warnings still go to stderr. */
  readonly quiet: boolean;
  readonly reconnect?: Partial<ReconnectSettings>;
}

/**
 * `aas run --server`: submits the job, follows the session's live stream through the same
 * printer a local run uses, and reads the recorded outcome once the run completes. An abort of
 * `io.signal` (Ctrl-C) asks the server to cancel the run (again, while the server does not
 * answer) and keeps following until the run ends, so what is printed is what the server
 * recorded.
 */
export async function runOnServer(
  io: CliIo,
  client: ServerClient,
  job: JobSpec,
  options: RemoteRunOptions,
): Promise<RemoteRunOutcome> {
  if (io.signal.aborted) {
    throw new AasError('CANCELLED', 'interrupted before the job was submitted: nothing was sent');
  }
  const { sessionId, runId, warnings } = await client.submitJob(job);
  printSubmitWarnings(io, warnings);
  let cancelling: Promise<void> | null = null;
  // Ends the cancel's retries once the follow is over, whichever way it ended.
  const followed = new AbortController();
  const cancel = (): void => {
    cancelling ??= (async () => {
      println(io.stderr, `cancelling run ${runId} on ${client.url}; following it until it ends`);
      for (let tries = 1; ; tries += 1) {
        try {
          // Bounded: a server that takes the request and never answers holds the command at
          // most this long (not cut short when the run ends: its answer may be on the way).
          await client.cancelRun(runId, { timeoutMs: CANCEL_REQUEST_TIMEOUT_MS });
          if (tries > 1) println(io.stderr, `cancel of run ${runId} delivered`);
          return;
        } catch (thrown) {
          const error = normaliseError(thrown);
          // CONFLICT: the run finished first, and the stream is about to say how.
          if (error.code === 'CONFLICT') return;
          if (!isTransient(error)) {
            println(io.stderr, `warning: cannot cancel run ${runId}: ${error.message}`);
            return;
          }
          // The server is away (the follow is reconnecting too): the cancel is asked again
          // until it answers, rather than lost while the run goes on there.
          if (tries === 1) {
            println(
              io.stderr,
              `warning: cannot cancel run ${runId} yet: ${error.message}; asking again until the server answers`,
            );
          }
          const pauseMs = Math.min(CANCEL_RETRY_FIRST_MS * 2 ** (tries - 1), CANCEL_RETRY_MAX_MS);
          await sleep(pauseMs, undefined, { signal: followed.signal }).catch(() => undefined);
          if (followed.signal.aborted) {
            println(io.stderr, `warning: the server never confirmed the cancel of run ${runId}`);
            return;
          }
        }
      }
    })();
  };
  io.signal.addEventListener('abort', cancel, { once: true });
  if (io.signal.aborted) cancel();

  const printProgress = options.quiet ? null : progressPrinter(io.stdout);
  const printWarning = warningPrinter(io.stderr);
  const onEvent = (event: StoredEvent): void => {
    if (!options.quiet) {
      const data = (event.data ?? {}) as Record<string, unknown>;
      if (event.type === 'session.created') {
        println(io.stdout, `session ${sessionId} (requested by ${String(data.requestedBy)})`);
      } else if (event.type === 'run.queued' && data.runId === runId) {
        println(io.stdout, `queued on ${client.url}`);
      }
    }
    printProgress?.(event);
    printWarning(event);
  };
  try {
    await followSessionEvents(client, sessionId, {
      after: 0,
      onEvent,
      until: (event) =>
        event.type === 'run.completed' &&
        (event.data as Record<string, unknown> | null)?.runId === runId,
      onReconnect: ({ failures, delayMs, error }) => {
        if (failures === 1 || failures % 4 === 0) {
          println(
            io.stderr,
            `warning: ${error.message}; reconnecting in ${delayMs} ms (the run continues on the server)`,
          );
        }
      },
      ...(options.reconnect ? { reconnect: options.reconnect } : {}),
    });
  } catch (thrown) {
    const error = normaliseError(thrown);
    throw new AasError(
      error.code,
      `${error.message} (session ${sessionId}, run ${runId})`,
      {
        ...error.details,
        sessionId,
        runId,
        hint:
          error.details.hint ??
          `the run continues on the server: aas sessions show ${sessionId} --server ${client.url}`,
      },
      { cause: error },
    );
  } finally {
    io.signal.removeEventListener('abort', cancel);
    followed.abort();
    await cancelling;
  }
  const { run, attempts } = await client.getRun(runId);
  return outcomeOf(client, run, attempts);
}

/** What the server said of a submitted job (no worker it knows can claim it, say). */
export function printSubmitWarnings(
  io: CliIo,
  warnings: readonly { readonly field: string; readonly message: string; readonly hint?: string }[],
): void {
  for (const warning of warnings) {
    println(io.stderr, `warning: ${warning.field}: ${warning.message}`);
    if (warning.hint !== undefined) println(io.stderr, `  hint: ${warning.hint}`);
  }
}

/** The runner's outcome from the run's record and the summary it stored with it. */
export function outcomeOf(
  client: ServerClient,
  run: RunRecord,
  attempts: readonly AttemptRecord[],
): RemoteRunOutcome {
  const summary = RunSummaryWire.safeParse(run.summary);
  const stored = summary.success ? summary.data : null;
  const patch = stored?.patch ?? null;
  const reasonCode = run.reasonCode !== null && isCode(run.reasonCode) ? run.reasonCode : null;
  if (reasonCode === null) {
    throw new AasError(
      'INTERNAL',
      `run ${run.id} on ${client.url} is ${run.status} without a known reason code (${client.redact(String(run.reasonCode))})`,
      { runId: run.id, hint: `aas sessions show ${run.sessionId} --server ${client.url}` },
    );
  }
  return {
    sessionId: run.sessionId,
    runId: run.id,
    status: run.status,
    reasonCode,
    detail: run.reasonDetail ?? stored?.detail ?? '',
    baseCommit: run.baseCommit,
    patch,
    attempts: stored?.attempts ?? Math.max(0, ...attempts.map((attempt) => attempt.number)),
    // The summary file is on the server's disk; the record above is the same data.
    summaryPath: '',
    server: client.url,
    patchUrl: patch ? client.patchUrl(run.id) : null,
  };
}

export function isRemoteOutcome(outcome: RunOutcome): outcome is RemoteRunOutcome {
  return 'server' in outcome && typeof outcome.server === 'string';
}
