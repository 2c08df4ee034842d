import type { Command } from 'commander';
import { AasError, ExitCode as Exit, type ExitCode, isValidId } from '../../kernel/index.js';
import { auditSession, type SessionAudit } from '../../promotion/index.js';
import { type CliIo, println, reportError } from '../cli-io.js';
import { serverClientFor } from '../client/connect.js';
import type { ServerClient } from '../client/server-client.js';
import { type GlobalOptions, withRuntime } from '../open-runtime.js';

export function registerAuditCommand(
  program: Command,
  io: CliIo,
  setExit: (code: ExitCode) => void,
): void {
  const audit = program.command('audit').description('check the integrity of recorded history');
  audit
    .command('verify')
    .description(
      "recompute the hash chain of one session (or every session), report the first broken seq, and hold the session's tables to its events",
    )
    .argument('[id]', 'session id; all sessions when omitted')
    .option('--json', 'machine-readable output')
    .addHelpText(
      'after',
      `
With --server (or AAS_SERVER) the server recomputes each chain from its database
(GET /api/v1/sessions/{id}/verify); without, this host's database is read. To check a
session without trusting any server, verify its export offline: aas export, then aas verify.

A chain that holds is then compared with the tables (the requester; each run's patch and
status; every approval): a row changed outside AAS shows as DIFFERS, with what differs.

Exit codes: 0 every session verifies, 6 a chain is broken or a table disagrees, 2 bad input.`,
    )
    .action(async (id: string | undefined, flags: { json?: boolean }, command: Command) => {
      try {
        if (id !== undefined && !isValidId(id, 'ses'))
          throw new AasError('INVALID_ARGUMENT', `"${id}" is not a session id`, { field: 'ID' });
        const globals = command.optsWithGlobals<GlobalOptions>();
        const client = serverClientFor(io, globals);
        const results = client
          ? await verifyOnServer(client, id)
          : await withRuntime(
              io,
              globals,
              async (runtime) => {
                const ids = id ? [id] : await runtime.store.listSessionIds();
                const verifications: SessionAudit[] = [];
                for (const sessionId of ids) {
                  const audit = await auditSession(runtime.store, sessionId);
                  if (audit === null)
                    throw new AasError('NOT_FOUND', `no session ${sessionId}`, { field: 'ID' });
                  verifications.push(audit);
                }
                return verifications;
              },
              { recover: false },
            );
        const broken = results.filter((r) => !r.ok);
        if (flags.json) {
          println(io.stdout, JSON.stringify({ ok: broken.length === 0, sessions: results }));
        } else {
          for (const result of results) {
            println(
              io.stdout,
              result.ok
                ? `ok      ${result.sessionId}  ${result.eventCount} events${result.tablesChecked ? '' : ' (the chain only: the session kept changing while its tables were read; verify it again)'}`
                : result.firstProblem !== null
                  ? `BROKEN  ${result.sessionId}  at seq ${result.firstProblem.seq}: ${result.firstProblem.kind} — ${result.firstProblem.detail}`
                  : `DIFFERS ${result.sessionId}  the chain holds, but its tables say otherwise: ${result.disagreements.join('; ')}`,
            );
          }
          println(
            io.stdout,
            results.length === 0
              ? 'no sessions to verify'
              : `${results.length - broken.length} of ${results.length} session(s) verify`,
          );
        }
        setExit(broken.length === 0 ? Exit.ok : Exit.integrity);
      } catch (thrown) {
        setExit(reportError(io, thrown, flags.json === true));
      }
    });
}

/** Every chain the server holds (or the one named), as the server recomputes them. */
async function verifyOnServer(
  client: ServerClient,
  id: string | undefined,
): Promise<SessionAudit[]> {
  if (id !== undefined) return [await client.verifySession(id)];
  const results: SessionAudit[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.listSessions({ limit: 200, ...(cursor ? { cursor } : {}) });
    for (const session of page.items) results.push(await client.verifySession(session.id));
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  return results;
}
