import type { Command } from 'commander';
import { AasError, type ExitCode, isValidId } from '../../kernel/index.js';
import { replaySession, type StoredEvent } from '../../sessions/index.js';
import { RUN_STATUSES, type RunStatus } from '../../store/index.js';
import { type CliIo, println, reportError } from '../cli-io.js';
import { firstLine, table } from '../format.js';
import { type GlobalOptions, withRuntime } from '../open-runtime.js';

function requireSessionId(id: string): void {
  if (!isValidId(id, 'ses')) {
    throw new AasError('INVALID_ARGUMENT', `"${id}" is not a session id`, {
      field: 'ID',
      hint: 'ids look like ses_0193…; see `aas sessions list`',
    });
  }
}

export function registerSessionsCommand(
  program: Command,
  io: CliIo,
  setExit: (code: ExitCode) => void,
): void {
  const sessions = program
    .command('sessions')
    .description('inspect recorded sessions, their runs and events');

  sessions
    .command('list')
    .description('list sessions, newest first')
    .option(
      '--status <status>',
      `only sessions whose run is in this state (${RUN_STATUSES.join(', ')})`,
    )
    .option('--limit <n>', 'how many', '20')
    .option('--before <id>', 'page: sessions older than this session id')
    .option('--json', 'machine-readable output')
    .action(
      async (
        flags: { status?: string; limit: string; before?: string; json?: boolean },
        command: Command,
      ) => {
        try {
          if (flags.status && !RUN_STATUSES.includes(flags.status as RunStatus)) {
            throw new AasError('INVALID_ARGUMENT', `unknown status "${flags.status}"`, {
              field: '--status',
              hint: RUN_STATUSES.join(', '),
            });
          }
          const limit = Number(flags.limit);
          if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
            throw new AasError('INVALID_ARGUMENT', '--limit must be 1..1000', { field: '--limit' });
          }
          const rows = await withRuntime(io, command.optsWithGlobals<GlobalOptions>(), (runtime) =>
            runtime.store.listSessions({
              limit,
              ...(flags.status ? { status: flags.status as RunStatus } : {}),
              ...(flags.before ? { beforeId: flags.before } : {}),
            }),
          );
          if (flags.json) {
            println(io.stdout, JSON.stringify(rows));
            return;
          }
          if (rows.length === 0) {
            println(io.stdout, 'no sessions yet: start one with `aas run`');
            return;
          }
          println(
            io.stdout,
            table([
              ['SESSION', 'STATUS', 'REASON', 'AGENT', 'CREATED', 'TASK'],
              ...rows.map((s) => [
                s.id,
                s.status,
                s.reasonCode ?? '',
                s.agent,
                s.createdAt,
                firstLine(s.task, 50),
              ]),
            ]),
          );
        } catch (thrown) {
          setExit(reportError(io, thrown, flags.json === true));
        }
      },
    );

  sessions
    .command('show')
    .description('explain one session: its run, attempts, gates, decision and patch')
    .argument('<id>', 'session id')
    .option('--json', 'machine-readable output')
    .action(async (id: string, flags: { json?: boolean }, command: Command) => {
      try {
        requireSessionId(id);
        const view = await withRuntime(
          io,
          command.optsWithGlobals<GlobalOptions>(),
          async (runtime) => {
            const session = await runtime.store.getSession(id);
            if (!session)
              throw new AasError('NOT_FOUND', `no session ${id}`, {
                field: 'ID',
                hint: 'see `aas sessions list`',
              });
            const runs = await runtime.store.listRunsForSession(id);
            const attempts = await Promise.all(
              runs.map((run) => runtime.store.listAttempts(run.id)),
            );
            const events = await runtime.store.readEvents(id);
            return { session, runs, attempts: attempts.flat(), projection: replaySession(events) };
          },
        );
        if (flags.json) {
          println(io.stdout, JSON.stringify(view));
          return;
        }
        const { session, runs, projection } = view;
        println(io.stdout, `session   ${session.id}`);
        println(io.stdout, `task      ${firstLine(session.task, 100)}`);
        println(io.stdout, `repo      ${session.repo}`);
        println(
          io.stdout,
          `agent     ${session.agent}    requested by ${session.requestedBy}    created ${session.createdAt}`,
        );
        for (const run of runs) {
          println(
            io.stdout,
            `run       ${run.id}  ${run.status}${run.reasonCode ? ` (${run.reasonCode})` : ''}`,
          );
          if (run.reasonDetail) printReason(io, run.reasonDetail, session.id);
          if (run.baseCommit)
            println(io.stdout, `base      ${run.baseCommit} (${run.baseRef ?? 'HEAD'})`);
          if (run.patchSha256) println(io.stdout, `patch     sha256 ${run.patchSha256}`);
          if (run.status === 'running')
            println(
              io.stdout,
              `lease     held by ${run.leaseOwner ?? '?'} until ${run.leaseExpiresAt ?? '?'}`,
            );
        }
        for (const note of projection.degraded)
          println(io.stdout, `warning   sandbox degraded: ${note}`);
        for (const attempt of projection.attempts) {
          println(
            io.stdout,
            `attempt ${attempt.attempt} · ${attempt.agentId} · ${attempt.status}${attempt.code ? ` (${attempt.code})` : ''}`,
          );
          for (const gate of attempt.gates) {
            println(
              io.stdout,
              `  ${gate.passed ? 'pass' : 'FAIL'}  ${gate.gate.padEnd(24)} ${firstLine(gate.detail, 80)}`,
            );
          }
        }
        println(
          io.stdout,
          `events    ${projection.eventCount} (aas sessions events ${session.id})`,
        );
      } catch (thrown) {
        setExit(reportError(io, thrown, flags.json === true));
      }
    });

  sessions
    .command('events')
    .description("print a session's event log in order")
    .argument('<id>', 'session id')
    .option('--after <seq>', 'only events after this seq', '0')
    .option('--limit <n>', 'how many', '1000')
    .option('--json', 'one JSON event per line (ndjson)')
    .action(
      async (
        id: string,
        flags: { after: string; limit: string; json?: boolean },
        command: Command,
      ) => {
        try {
          requireSessionId(id);
          const afterSeq = Number(flags.after);
          const limit = Number(flags.limit);
          if (!Number.isInteger(afterSeq) || afterSeq < 0)
            throw new AasError('INVALID_ARGUMENT', '--after must be a seq ≥ 0', {
              field: '--after',
            });
          if (!Number.isInteger(limit) || limit < 1)
            throw new AasError('INVALID_ARGUMENT', '--limit must be ≥ 1', { field: '--limit' });
          const events = await withRuntime(
            io,
            command.optsWithGlobals<GlobalOptions>(),
            async (runtime) => {
              if (!(await runtime.store.getSession(id)))
                throw new AasError('NOT_FOUND', `no session ${id}`, { field: 'ID' });
              return runtime.store.readEvents(id, { afterSeq, limit });
            },
          );
          for (const event of events)
            println(io.stdout, flags.json ? JSON.stringify(event) : formatEvent(event));
        } catch (thrown) {
          setExit(reportError(io, thrown, flags.json === true));
        }
      },
    );
}

function formatEvent(event: StoredEvent): string {
  const data = JSON.stringify(event.data);
  return `${String(event.seq).padStart(4)}  ${event.at}  ${event.type.padEnd(22)} ${event.actor}  ${data.length > 160 ? `${data.slice(0, 159)}…` : data}`;
}

/**
 * The first line of why a run ended; the rest (validator output, which an agent may have
 * shaped to look like this report) stays in the event log, never printed as lines of its own.
 */
function printReason(io: CliIo, detail: string, sessionId: string): void {
  const lines = detail.split('\n');
  println(io.stdout, `reason    ${firstLine(detail, 200)}`);
  if (lines.length > 1) {
    println(
      io.stdout,
      `          (+${lines.length - 1} more line(s): aas sessions events ${sessionId})`,
    );
  }
}
