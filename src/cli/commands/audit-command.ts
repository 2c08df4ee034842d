import type { Command } from 'commander';
import { AasError, ExitCode as Exit, type ExitCode, isValidId } from '../../kernel/index.js';
import { type ChainVerification, verifyChain } from '../../sessions/index.js';
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
      'recompute the hash chain of one session (or every session) and report the first broken seq',
    )
    .argument('[id]', 'session id; all sessions when omitted')
    .option('--json', 'machine-readable output')
    .addHelpText(
      'after',
      `
With --server (or AAS_SERVER) the server recomputes each chain from its database
(GET /api/v1/sessions/{id}/verify); without, this host's database is read. To check a
session without trusting any server, verify its export offline: aas export, then aas verify.

Exit codes: 0 every chain verifies, 6 a chain is broken, 2 bad input.`,
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
                const verifications: ChainVerification[] = [];
                for (const sessionId of ids) {
                  const session = await runtime.store.getSession(sessionId);
                  if (!session)
                    throw new AasError('NOT_FOUND', `no session ${sessionId}`, { field: 'ID' });
                  verifications.push(
                    verifyChain(session, await runtime.store.readEvents(sessionId)),
                  );
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
                ? `ok      ${result.sessionId}  ${result.eventCount} events`
                : `BROKEN  ${result.sessionId}  at seq ${result.firstProblem?.seq}: ${result.firstProblem?.kind} — ${result.firstProblem?.detail}`,
            );
          }
          println(
            io.stdout,
            results.length === 0
              ? 'no sessions to verify'
              : `${results.length - broken.length} of ${results.length} session chain(s) verify`,
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
): Promise<ChainVerification[]> {
  if (id !== undefined) return [await client.verifySession(id)];
  const results: ChainVerification[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.listSessions({ limit: 200, ...(cursor ? { cursor } : {}) });
    for (const session of page.items) results.push(await client.verifySession(session.id));
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  return results;
}
