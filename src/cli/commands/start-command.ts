import type { Command } from 'commander';
import { describeHolder, startServer } from '../../app/index.js';
import { AasError, type ExitCode } from '../../kernel/index.js';
import { type CliIo, println, reportError } from '../cli-io.js';
import { configFrom, type GlobalOptions } from '../open-runtime.js';

interface StartFlags {
  host?: string;
  port?: string;
  workers?: string;
  public?: boolean;
}

function integerFlag(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) {
    throw new AasError('INVALID_ARGUMENT', `${flag} must be a whole number, got ${value}`, {
      field: flag,
    });
  }
  return Number(value);
}

export function registerStartCommand(
  program: Command,
  io: CliIo,
  setExit: (code: ExitCode) => void,
): void {
  program
    .command('start')
    .description(
      'start the control plane: REST API, durable run queue and embedded workers (SIGTERM drains)',
    )
    .option('--host <address>', 'address to bind (default $AAS_HOST or 127.0.0.1)')
    .option('--port <port>', 'port to listen on (default $AAS_PORT or 8001; 0 = any free port)')
    .option('--workers <n>', 'embedded workers (default $AAS_WORKERS or 1; 0 = API only)')
    .option('--public', 'allow binding to an address other machines may reach')
    .addHelpText(
      'after',
      `
The store is SQLite at $AAS_HOME/aas.db, or PostgreSQL with AAS_DATABASE_URL. One server
runs on a SQLite database: a second \`aas start\` on it waits up to 15 s for the first to
stop, then is refused (CONFIG_INVALID, exit 2); other commands (aas run, aas sessions…)
work beside it. Replicas that run side by side need PostgreSQL.

On first start with an empty database an admin token is created and printed once
(or taken from AAS_BOOTSTRAP_TOKEN). Create more with \`aas token create\`.
Logs are JSON lines on stderr (AAS_LOG_LEVEL, default info).
SIGTERM or SIGINT: stop claiming, let running attempts finish within
AAS_SHUTDOWN_GRACE_MS, then stop them and give their runs back to the queue.

API: /api/v1 (bearer token), OpenAPI at /openapi.json, docs at /docs, /api/v1/health (no token).`,
    )
    .action(async (flags: StartFlags, command: Command) => {
      try {
        const globals = command.optsWithGlobals<GlobalOptions>();
        const port = integerFlag(flags.port, '--port');
        const workers = integerFlag(flags.workers, '--workers');
        const config = configFrom(io, globals, {
          ...(flags.host === undefined ? {} : { host: flags.host }),
          ...(port === undefined ? {} : { port }),
          ...(workers === undefined ? {} : { workers }),
          ...(flags.public ? { public: true } : {}),
          // A server's log is its record: info unless the operator asked otherwise.
          ...(globals.logLevel || io.env.AAS_LOG_LEVEL ? {} : { logLevel: 'info' as const }),
        });
        const server = await startServer(config, {
          hostEnv: io.env,
          nodePath: io.nodePath,
          onSqliteWait: (waitMs, holder) =>
            println(
              io.stderr,
              `another aas server${holder === null ? '' : ` (${describeHolder(holder)})`} holds the SQLite database ${config.paths.sqlite}; waiting up to ${waitMs / 1_000} s for it to stop`,
            ),
        });
        if (server.bootstrapSecret !== null) {
          println(
            io.stdout,
            `admin token (shown once, store it now): ${server.bootstrapSecret}\n  use it as: export AAS_TOKEN=<token>; create others with aas token create`,
          );
        }
        println(
          io.stdout,
          `AAS listening on ${server.url} (panel ${server.url}/panel/, API ${server.url}/api/v1, docs ${server.url}/docs)`,
        );
        // Stopped by its operator (a signal), or on its own (a lost database lock).
        const interrupted = await new Promise<AasError | null>((resolve) => {
          if (io.signal.aborted) resolve(null);
          else io.signal.addEventListener('abort', () => resolve(null), { once: true });
          void server.interrupted.then(resolve);
        });
        println(io.stdout, 'stopping: draining workers');
        await server.close();
        // Not stopped by its operator: a supervisor should see a failure and restart it.
        if (interrupted !== null) throw interrupted;
        println(io.stdout, 'stopped');
      } catch (thrown) {
        setExit(reportError(io, thrown, false));
      }
    });
}
