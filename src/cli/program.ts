import { Command, CommanderError, Option } from 'commander';
import { CONFIG_ENV_VARS } from '../config/index.js';
import { ExitCode as Exit, type ExitCode } from '../kernel/index.js';
import type { CliIo } from './cli-io.js';
import { registerAgentsCommand } from './commands/agents-command.js';
import { registerAuditCommand } from './commands/audit-command.js';
import { registerCancelCommand } from './commands/cancel-command.js';
import { registerDemoCommand } from './commands/demo-command.js';
import { registerDoctorCommand } from './commands/doctor-command.js';
import { registerExportCommands } from './commands/export-command.js';
import { registerGcCommand } from './commands/gc-command.js';
import { registerPolicyCommand } from './commands/policy-command.js';
import { registerPromotionCommands } from './commands/promotion-command.js';
import { registerRunCommand } from './commands/run-command.js';
import { registerSchedulesCommand } from './commands/schedules-command.js';
import { registerSessionsCommand } from './commands/sessions-command.js';
import { registerStartCommand } from './commands/start-command.js';
import { registerTokenCommand } from './commands/token-command.js';
import { registerWorkerCommands } from './commands/worker-command.js';

export const VERSION = '0.1.0';

/** Builds the `aas` command tree; `runCli` runs it and returns the exit code. */
export function buildProgram(io: CliIo, setExit: (code: ExitCode) => void): Command {
  const program = new Command('aas')
    .description(
      'Autonomous Agent Stack: run coding agents as untrusted hands, keep durable history, enforce deny-wins policy and gates, decide every patch.',
    )
    .version(VERSION)
    .addOption(new Option('--home <dir>', 'data directory (default $AAS_HOME or ./.aas)'))
    .addOption(
      new Option(
        '--database-url <url>',
        'PostgreSQL URL (default $AAS_DATABASE_URL; SQLite otherwise)',
      ),
    )
    .addOption(
      new Option('--log-level <level>', 'log level for stderr').choices([
        'debug',
        'info',
        'warn',
        'error',
        'silent',
      ]),
    )
    .addOption(
      new Option(
        '--server <url>',
        'AAS server URL: `aas run`, `aas sessions`, `aas schedules` and others become its clients (default $AAS_SERVER; local otherwise)',
      ),
    )
    .addOption(
      new Option(
        '--token <token>',
        'bearer token for --server (default $AAS_TOKEN; prefer the variable, arguments are visible to other users)',
      ),
    )
    // Each command's --help lists --server, --token and the others it takes too.
    .configureHelp({ showGlobalOptions: true })
    .showHelpAfterError('(add --help for usage)')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    })
    .addHelpText(
      'after',
      `\nEnvironment:\n${Object.entries(CONFIG_ENV_VARS)
        .map(([name, text]) => `  ${name.padEnd(18)} ${text}`)
        .join(
          '\n',
        )}\n\nExit codes: 0 ok, 1 internal error, 2 bad input, 3 blocked, 4 human review, 5 agent failed, 6 integrity check failed, 130 cancelled.`,
    );
  registerRunCommand(program, io, setExit);
  registerSessionsCommand(program, io, setExit);
  registerCancelCommand(program, io, setExit);
  registerSchedulesCommand(program, io, setExit);
  registerAuditCommand(program, io, setExit);
  registerPolicyCommand(program, io, setExit);
  registerAgentsCommand(program, io, setExit);
  registerGcCommand(program, io, setExit);
  registerDoctorCommand(program, io, setExit);
  registerDemoCommand(program, io, setExit);
  registerStartCommand(program, io, setExit);
  registerTokenCommand(program, io, setExit);
  registerWorkerCommands(program, io, setExit);
  registerPromotionCommands(program, io, setExit);
  registerExportCommands(program, io, setExit);
  // Subcommands inherit the error handling and output routing of the root.
  for (const command of program.commands) {
    command.exitOverride().configureOutput({
      writeOut: (t) => io.stdout.write(t),
      writeErr: (t) => io.stderr.write(t),
    });
    for (const sub of command.commands) {
      sub.exitOverride().configureOutput({
        writeOut: (t) => io.stdout.write(t),
        writeErr: (t) => io.stderr.write(t),
      });
    }
  }
  return program;
}

export async function runCli(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  let exitCode: ExitCode = Exit.ok;
  const program = buildProgram(io, (code) => {
    exitCode = code;
  });
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (thrown) {
    if (thrown instanceof CommanderError) {
      // Help and version are successes; every other parse failure is bad input.
      // Asked-for help and version are successes; help shown because a command was missing
      // (`commander.help`), like every other parse failure, is bad input.
      const benign = ['commander.helpDisplayed', 'commander.version'].includes(thrown.code);
      return benign ? Exit.ok : Exit.badInput;
    }
    throw thrown;
  }
  return exitCode;
}
