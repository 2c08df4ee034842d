import type { Command } from 'commander';
import { collectCaches, recover } from '../../app/index.js';
import { AasError, type ExitCode } from '../../kernel/index.js';
import { type CliIo, println, reportError } from '../cli-io.js';
import { type GlobalOptions, withRuntime } from '../open-runtime.js';

const HOUR_MS = 3_600_000;

export function registerGcCommand(
  program: Command,
  io: CliIo,
  setExit: (code: ExitCode) => void,
): void {
  program
    .command('gc')
    .description(
      'end runs interrupted by a crash, remove workspaces no live run owns (logs stay), and evict unused cached base checkouts and URL cache repositories',
    )
    .option('--json', 'machine-readable output')
    .option('--kept', 'also remove workspaces that runs kept with --keep-workspace')
    .option(
      '--cache-age <hours>',
      'evict cached base checkouts and URL cache repositories unused for this many hours (0 = every one no live run needs)',
      '24',
    )
    .addHelpText(
      'after',
      '\nEvery other command ends interrupted runs and removes orphan workspaces too, before it starts; only gc evicts caches and, with --kept, workspaces kept with --keep-workspace. A remote worker evicts its own caches (unused for a week).',
    )
    .action(
      async (flags: { json?: boolean; kept?: boolean; cacheAge: string }, command: Command) => {
        try {
          const hours = Number(flags.cacheAge);
          if (!/^\d+(\.\d+)?$/.test(flags.cacheAge) || !Number.isFinite(hours)) {
            throw new AasError(
              'INVALID_ARGUMENT',
              `--cache-age must be a number of hours, got '${flags.cacheAge}'`,
              {
                field: '--cache-age',
                hint: 'for example --cache-age 0 to evict every checkout no live run needs',
              },
            );
          }
          const report = await withRuntime(
            io,
            command.optsWithGlobals<GlobalOptions>(),
            async (runtime) => ({
              ...(await recover(runtime, { includeKept: flags.kept === true })),
              ...(await collectCaches(runtime, { olderThanMs: hours * HOUR_MS })),
            }),
            { recover: false },
          );
          if (flags.json) {
            println(io.stdout, JSON.stringify(report));
          } else {
            println(
              io.stdout,
              `ended ${report.interruptedRuns.length} interrupted run(s); requeued ${report.requeuedRuns.length}; removed ${report.removedWorkspaces.length} workspace(s) no run uses${flags.kept ? ' (kept ones included)' : ''}; evicted ${report.removedCheckouts.length} cached checkout(s), kept ${report.keptCheckouts.length}; evicted ${report.removedRepoCaches.length} URL cache repositor${report.removedRepoCaches.length === 1 ? 'y' : 'ies'}, kept ${report.keptRepoCaches.length}`,
            );
          }
        } catch (thrown) {
          setExit(reportError(io, thrown, flags.json === true));
        }
      },
    );
}
