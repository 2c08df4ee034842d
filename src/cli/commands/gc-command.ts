import type { Command } from 'commander';
import type { ExitCode } from '../../kernel/index.js';
import { collectOrphanWorkspaces } from '../../workspaces/index.js';
import { type CliIo, println, reportError } from '../cli-io.js';
import { type GlobalOptions, withRuntime } from '../open-runtime.js';

export function registerGcCommand(
  program: Command,
  io: CliIo,
  setExit: (code: ExitCode) => void,
): void {
  program
    .command('gc')
    .description('end runs interrupted by a crash and remove workspaces no live run owns')
    .option('--json', 'machine-readable output')
    .action(async (flags: { json?: boolean }, command: Command) => {
      try {
        // Opening the runtime already recovers interrupted runs; this pass reports what remains.
        const result = await withRuntime(io, command.optsWithGlobals<GlobalOptions>(), (runtime) =>
          collectOrphanWorkspaces({
            runsDir: runtime.config.paths.runs,
            isRunLive: async (runId) => {
              const run = await runtime.store.getRun(runId);
              return run !== null && (run.status === 'running' || run.status === 'queued');
            },
          }),
        );
        if (flags.json) println(io.stdout, JSON.stringify(result));
        else
          println(
            io.stdout,
            `removed ${result.removed.length} orphan workspace(s); ${result.kept.length} kept for live runs`,
          );
      } catch (thrown) {
        setExit(reportError(io, thrown, flags.json === true));
      }
    });
}
