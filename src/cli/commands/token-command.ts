import type { Command } from 'commander';
import { issueToken } from '../../api/index.js';
import type { ExitCode } from '../../kernel/index.js';
import { TOKEN_ROLES, type TokenRecord, type TokenRole } from '../../store/index.js';
import { type CliIo, println, reportError } from '../cli-io.js';
import { serverClientFor } from '../client/connect.js';
import type { TokenView } from '../client/wire.js';
import { table } from '../format.js';
import { type GlobalOptions, withRuntime } from '../open-runtime.js';

function printTokens(io: CliIo, tokens: readonly (TokenRecord | TokenView)[], json: boolean): void {
  if (json) {
    println(io.stdout, JSON.stringify(tokens));
    return;
  }
  println(
    io.stdout,
    table([
      ['ID', 'NAME', 'ROLE', 'CREATED', 'BY', 'REVOKED'],
      ...tokens.map((t) => [t.id, t.name, t.role, t.createdAt, t.createdBy, t.revokedAt ?? '-']),
    ]),
  );
}

/**
 * Token administration. With `--server` (or AAS_SERVER) it goes through the API with an admin
 * token; without, it works on this host's database, whose owner is already its administrator.
 */
export function registerTokenCommand(
  program: Command,
  io: CliIo,
  setExit: (code: ExitCode) => void,
): void {
  const token = program
    .command('token')
    .description(
      'create, list and revoke API tokens (stored only as SHA-256 hashes); with --server, through the API as an admin',
    );
  token
    .command('create')
    .description('create a token; its secret is printed once and never stored')
    .requiredOption('--name <name>', 'identity recorded for everything done with it (unique)')
    .requiredOption(
      '--role <role>',
      `one of ${TOKEN_ROLES.filter((role) => role !== 'worker').join(', ')}`,
    )
    .option('--json', 'machine-readable output')
    .addHelpText(
      'after',
      '\nRoles: viewer reads; operator also submits and cancels; approver also approves; admin manages tokens and workers. Remote workers get credentials of their own (aas worker enrol --help).',
    )
    .action(async (flags: { name: string; role: string; json?: boolean }, command: Command) => {
      try {
        const globals = command.optsWithGlobals<GlobalOptions>();
        const server = serverClientFor(io, globals);
        const issued = server
          ? await server.createToken({ name: flags.name, role: flags.role })
          : await withRuntime(io, globals, (runtime) =>
              issueToken(runtime.store, runtime.clock, {
                name: flags.name,
                role: flags.role as TokenRole,
                createdBy: io.user,
              }),
            );
        if (flags.json) println(io.stdout, JSON.stringify(issued));
        else {
          println(
            io.stdout,
            `created ${issued.token.role} token ${issued.token.name} (${issued.token.id})`,
          );
          println(io.stdout, `secret (shown once): ${issued.secret}`);
        }
      } catch (thrown) {
        setExit(reportError(io, thrown, flags.json === true));
      }
    });
  token
    .command('list')
    .description('list tokens, revoked included (never their secrets)')
    .option('--json', 'machine-readable output')
    .action(async (flags: { json?: boolean }, command: Command) => {
      try {
        const globals = command.optsWithGlobals<GlobalOptions>();
        const server = serverClientFor(io, globals);
        const tokens = server
          ? await server.listTokens()
          : await withRuntime(io, globals, (runtime) => runtime.store.listTokens());
        printTokens(io, tokens, flags.json === true);
      } catch (thrown) {
        setExit(reportError(io, thrown, flags.json === true));
      }
    });
  token
    .command('revoke')
    .description('revoke a token by id or name; it stops working at once')
    .argument('<token>', 'token id (tok_…) or name')
    .option('--json', 'machine-readable output')
    .action(async (idOrName: string, flags: { json?: boolean }, command: Command) => {
      try {
        const globals = command.optsWithGlobals<GlobalOptions>();
        const server = serverClientFor(io, globals);
        const revoked = server
          ? await server.revokeToken(idOrName)
          : await withRuntime(io, globals, (runtime) =>
              runtime.store.revokeToken(idOrName, runtime.clock.nowIso()),
            );
        if (flags.json) println(io.stdout, JSON.stringify(revoked));
        else
          println(
            io.stdout,
            `revoked ${revoked.name} (${revoked.id}) at ${revoked.revokedAt ?? '?'}`,
          );
      } catch (thrown) {
        setExit(reportError(io, thrown, flags.json === true));
      }
    });
}
