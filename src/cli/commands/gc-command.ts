import type { Command } from 'commander';
import { recover } from '../../app/index.js';
import type { ExitCode } from '../../kernel/index.js';
import { type CliIo, println, reportError } from '../cli-io.js';
import { type GlobalOptions, withRuntime } from '../open-runtime.js';

export function registerGcCommand(
  program: Command,
  io: CliIo,
  setExit: (code: ExitCode) => void,
): void {
  program
    .command('gc')
    .description(
      'end runs interrupted by a crash and remove workspaces no live run owns (logs stay)',
    )
    .option('--json', 'machine-readable output')
    .addHelpText(
      'after',
      '\nEvery other command that changes state does this too, before it starts.',
    )
    .action(async (flags: { json?: boolean }, command: Command) => {
      try {
        const report = await withRuntime(
          io,
          command.optsWithGlobals<GlobalOptions>(),
          (runtime) => recover(runtime),
          {
            recover: false,
          },
        );
        if (flags.json) {
          println(io.stdout, JSON.stringify(report));
        } else {
          println(
            io.stdout,
            `ended ${report.interruptedRuns.length} interrupted run(s); removed ${report.removedWorkspaces.length} orphan workspace(s)`,
          );
        }
      } catch (thrown) {
        setExit(reportError(io, thrown, flags.json === true));
      }
    });
}
