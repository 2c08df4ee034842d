import { resolve } from 'node:path';
import type { Command } from 'commander';
import { AasError, type ExitCode, isValidId } from '../../kernel/index.js';
import { canonicalRepoPath } from '../../runner/index.js';
import {
  type AttemptRecord,
  type RunRecord,
  replaySession,
  type SessionRecord,
  type StoredEvent,
} from '../../sessions/index.js';
import { RUN_STATUSES, type RunStatus } from '../../store/index.js';
import { isRepoUrl } from '../../workspaces/index.js';
import { type CliIo, println, reportError } from '../cli-io.js';
import { serverClientFor } from '../client/connect.js';
import { followSessionEvents } from '../client/follow-events.js';
import type { ServerClient, SessionSpend } from '../client/server-client.js';
import { firstLine, formatModelSpend, table } from '../format.js';
import { type GlobalOptions, withRuntime } from '../open-runtime.js';

/** The largest page the server hands out; longer lists are read page by page. */
const SERVER_SESSION_PAGE = 200;
const SERVER_EVENT_PAGE = 1000;

interface ListFilter {
  readonly status?: RunStatus;
  readonly repo?: string;
  readonly agent?: string;
  readonly label?: string;
  readonly requestedBy?: string;
}

/** Up to `limit` sessions from the server, newest first, and the cursor of what follows. */
async function listFromServer(
  server: ServerClient,
  filter: ListFilter,
  limit: number,
  before: string | undefined,
): Promise<{ rows: SessionRecord[]; nextCursor: string | null }> {
  const rows: SessionRecord[] = [];
  let cursor = before;
  for (;;) {
    const page = await server.listSessions({
      ...(filter.status ? { status: filter.status } : {}),
      ...(filter.repo ? { repo: filter.repo } : {}),
      ...(filter.agent ? { agent: filter.agent } : {}),
      ...(filter.label ? { label: filter.label } : {}),
      ...(filter.requestedBy ? { requester: filter.requestedBy } : {}),
      ...(cursor ? { cursor } : {}),
      limit: Math.min(SERVER_SESSION_PAGE, limit - rows.length),
    });
    rows.push(...page.items);
    if (page.nextCursor === null || page.items.length === 0) return { rows, nextCursor: null };
    if (rows.length >= limit) return { rows, nextCursor: page.nextCursor };
    cursor = page.nextCursor;
  }
}

/** Events after `afterSeq`, at most `limit` (all when absent), read page by page. */
async function eventsFromServer(
  server: ServerClient,
  id: string,
  afterSeq: number,
  limit = Number.POSITIVE_INFINITY,
): Promise<StoredEvent[]> {
  const events: StoredEvent[] = [];
  let after = afterSeq;
  while (events.length < limit) {
    const page = await server.readEvents(id, {
      after,
      limit: Math.min(SERVER_EVENT_PAGE, limit - events.length),
    });
    events.push(...page.items.slice(0, limit - events.length));
    const last = page.items.at(-1);
    if (page.nextAfter === null || last === undefined) break;
    after = Math.max(page.nextAfter, last.seq);
  }
  return events;
}

interface SessionView {
  readonly session: SessionRecord;
  readonly runs: RunRecord[];
  readonly attempts: AttemptRecord[];
  readonly events: StoredEvent[];
  /** Null from a server that predates spend reporting. */
  readonly spend: SessionSpend | null;
}

async function showFromServer(server: ServerClient, id: string): Promise<SessionView> {
  const { session, runs, spend } = await server.getSession(id);
  const attempts = await Promise.all(runs.map((run) => server.getRun(run.id)));
  const events = await eventsFromServer(server, id, 0);
  return { session, runs, attempts: attempts.flatMap((view) => view.attempts), events, spend };
}

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
    .description('inspect recorded sessions, their runs and events')
    .addHelpText(
      'after',
      '\nWith --server URL (or AAS_SERVER) and a token (AAS_TOKEN or --token) these read from that server.',
    );

  sessions
    .command('list')
    .description('list sessions, newest first')
    .option(
      '--status <status>',
      `only sessions whose run is in this state (${RUN_STATUSES.join(', ')})`,
    )
    .option('--repo <path>', 'only sessions on this repository')
    .option('--agent <id>', 'only sessions whose primary agent is this one')
    .option('--label <label>', 'only sessions carrying this label')
    .option('--requester <identity>', 'only sessions requested by this identity (e.g. user:alice)')
    .option('--limit <n>', 'how many', '20')
    .option(
      '--before <cursor>',
      'page: sessions older than this session id (with a server: the cursor a previous page printed)',
    )
    .option('--json', 'machine-readable output')
    .action(
      async (
        flags: {
          status?: string;
          repo?: string;
          agent?: string;
          label?: string;
          requester?: string;
          limit: string;
          before?: string;
          json?: boolean;
        },
        command: Command,
      ) => {
        try {
          const globals = command.optsWithGlobals<GlobalOptions>();
          const server = serverClientFor(io, globals);
          // Locally the cursor is a session id; a server's is its own and checked there.
          if (flags.before !== undefined && server === null && !isValidId(flags.before, 'ses')) {
            throw new AasError('INVALID_ARGUMENT', `"${flags.before}" is not a session id`, {
              field: '--before',
              hint: 'pass the id of the last session of the page before (older sessions follow it)',
            });
          }
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
          const filter: ListFilter = {
            ...(flags.status ? { status: flags.status as RunStatus } : {}),
            // Sessions record one spelling of each repository (its top level's real path); a
            // server looks the path up on its own host, where the repositories are.
            ...(flags.repo
              ? {
                  repo: isRepoUrl(flags.repo)
                    ? flags.repo
                    : server
                      ? resolve(io.cwd, flags.repo)
                      : canonicalRepoPath(resolve(io.cwd, flags.repo)),
                }
              : {}),
            ...(flags.agent ? { agent: flags.agent } : {}),
            ...(flags.label ? { label: flags.label } : {}),
            ...(flags.requester ? { requestedBy: flags.requester } : {}),
          };
          const { rows, nextCursor } = server
            ? await listFromServer(server, filter, limit, flags.before)
            : {
                rows: await withRuntime(io, globals, (runtime) =>
                  runtime.store.listSessions({
                    limit,
                    ...filter,
                    ...(flags.before ? { beforeId: flags.before } : {}),
                  }),
                ),
                nextCursor: null,
              };
          if (flags.json) {
            println(io.stdout, JSON.stringify(rows));
            return;
          }
          if (rows.length === 0) {
            const filtered = Object.keys(filter).length > 0 || flags.before !== undefined;
            println(
              io.stdout,
              filtered ? 'no sessions match' : 'no sessions yet: start one with `aas run`',
            );
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
          if (nextCursor !== null) println(io.stdout, `more: --before ${nextCursor}`);
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
        const globals = command.optsWithGlobals<GlobalOptions>();
        const server = serverClientFor(io, globals);
        const found: SessionView = server
          ? await showFromServer(server, id)
          : await withRuntime(io, globals, async (runtime) => {
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
              const total = await runtime.store.modelSpend({ sessionId: id });
              const runSpend = await Promise.all(
                runs.map(async (run) => ({
                  runId: run.id,
                  spend: await runtime.store.modelSpend({ runId: run.id }),
                })),
              );
              const spend = { total, runs: runSpend };
              return { session, runs, attempts: attempts.flat(), events, spend };
            });
        const view = {
          session: found.session,
          runs: found.runs,
          attempts: found.attempts,
          spend: found.spend,
          projection: replaySession(found.events),
        };
        if (flags.json) {
          println(io.stdout, JSON.stringify(view));
          return;
        }
        const { session, runs, projection, spend } = view;
        println(io.stdout, `session   ${session.id}`);
        println(io.stdout, `task      ${firstLine(session.task, 100)}`);
        println(io.stdout, `repo      ${session.repo}`);
        println(
          io.stdout,
          `agent     ${session.agent}    requested by ${session.requestedBy}    created ${session.createdAt}`,
        );
        if (spend !== null) println(io.stdout, `spend     ${formatModelSpend(spend.total)}`);
        // Calls the provider (or AAS) answered with an error cost nothing and show no tokens:
        // counted here, or a wrong key would look like an agent that never asked.
        const failed = failedModelCalls(found.events);
        if (failed !== null) println(io.stdout, `          ${failed}`);
        for (const run of runs) {
          println(
            io.stdout,
            `run       ${run.id}  ${run.status}${run.reasonCode ? ` (${run.reasonCode})` : ''}`,
          );
          const runSpend = spend?.runs.find((entry) => entry.runId === run.id)?.spend;
          // One run's spend is the session's: a second line would only repeat it.
          if (runSpend !== undefined && runs.length > 1)
            println(io.stdout, `run spend ${formatModelSpend(runSpend)}`);
          if (run.reasonDetail) printReason(io, run.reasonDetail, session.id);
          if (run.baseCommit)
            println(io.stdout, `base      ${run.baseCommit} (${run.baseRef ?? 'HEAD'})`);
          if (run.patchSha256) println(io.stdout, `patch     sha256 ${run.patchSha256}`);
          if (run.patchSha256 && server) println(io.stdout, `          ${server.patchUrl(run.id)}`);
          if (run.status === 'running')
            println(
              io.stdout,
              `lease     held by ${run.leaseOwner ?? '?'} until ${run.leaseExpiresAt ?? '?'}`,
            );
        }
        const stopped = projection.promotionFailure;
        if (stopped !== null && runs.some((run) => run.status === 'promoting')) {
          println(
            io.stdout,
            `promotion stopped at ${stopped.step}: [${stopped.code}] ${firstLine(stopped.detail, 200)}`,
          );
          const promoting = runs.find((run) => run.status === 'promoting')?.id ?? '';
          println(
            io.stdout,
            `          once that is settled: aas promote ${promoting}${
              stopped.step === 'pushed' && stopped.code === 'PROVIDER_ERROR'
                ? ` (or --mode branch to finish without the pull request)`
                : ''
            }`,
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
          `events    ${projection.eventCount} (aas sessions events ${session.id}${server ? ` --server ${server.url}` : ''})`,
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
    .option(
      '--follow',
      'with a server: then keep printing new events as they are recorded, until interrupted',
    )
    .action(
      async (
        id: string,
        flags: { after: string; limit: string; json?: boolean; follow?: boolean },
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
          const globals = command.optsWithGlobals<GlobalOptions>();
          const server = serverClientFor(io, globals);
          const print = (event: StoredEvent) =>
            println(io.stdout, flags.json ? JSON.stringify(event) : formatEvent(event));
          if (server && flags.follow) {
            // The stream starts with the recorded events, then goes on live: no page reads.
            await followSessionEvents(server, id, {
              after: afterSeq,
              onEvent: print,
              signal: io.signal,
              onReconnect: ({ error, delayMs }) =>
                println(io.stderr, `warning: ${error.message}; reconnecting in ${delayMs} ms`),
            });
            return;
          }
          if (flags.follow) {
            throw new AasError('INVALID_ARGUMENT', "--follow reads a server's live stream", {
              field: '--follow',
              hint: 'give --server URL (or AAS_SERVER); locally, aas run prints progress as it goes',
            });
          }
          const events = server
            ? await eventsFromServer(server, id, afterSeq, limit)
            : await withRuntime(io, globals, async (runtime) => {
                if (!(await runtime.store.getSession(id)))
                  throw new AasError('NOT_FOUND', `no session ${id}`, { field: 'ID' });
                return runtime.store.readEvents(id, { afterSeq, limit });
              });
          for (const event of events) print(event);
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

/** `3 model calls failed: HTTP 401 ×2, HTTP 500 ×1`, or null when none did. */
export function failedModelCalls(events: readonly StoredEvent[]): string | null {
  const byStatus = new Map<number, number>();
  for (const event of events) {
    if (event.type !== 'agent.usage') continue;
    const status = Number((event.data as { status?: unknown } | null)?.status);
    if (status >= 400) byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
  }
  if (byStatus.size === 0) return null;
  const total = [...byStatus.values()].reduce((sum, count) => sum + count, 0);
  const parts = [...byStatus]
    .sort(([a], [b]) => a - b)
    .map(([status, count]) => `HTTP ${status} ×${count}`);
  return `${total} model call${total === 1 ? '' : 's'} failed: ${parts.join(', ')}`;
}
