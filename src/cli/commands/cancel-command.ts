import type { Command } from 'commander';
import type { ExitCode } from '../../kernel/index.js';
import { type CliIo, println, reportError } from '../cli-io.js';
import { serverClientFor } from '../client/connect.js';
import { type GlobalOptions, withRuntime } from '../open-runtime.js';
import { requireRunId } from './require-run-id.js';

/** `aas cancel RUN`: locally, or through a server. */
export function registerCancelCommand(
  program: Command,
  io: CliIo,
  setExit: (code: ExitCode) => void,
): void {
  program
    .command('cancel')
    .description('cancel a queued or running run')
    .argument('<run>', 'run id')
    .option('--json', 'machine-readable output')
    .addHelpText(
      'after',
      `
A queued run ends cancelled at once. A running one is told through its holder's next
heartbeat and ends cancelled once its holder stopped it (a few seconds). A finished run is
CONFLICT (exit 1): nothing to cancel. Through --server this needs the operator role.`,
    )
    .action(async (runId: string, flags: { json?: boolean }, command: Command) => {
      try {
        requireRunId(runId);
        const globals = command.optsWithGlobals<GlobalOptions>();
        const server = serverClientFor(io, globals);
        const result = server
          ? await server.cancelRun(runId)
          : await withRuntime(io, globals, async (runtime) => {
              const { run, outcome } = await runtime.queue.requestCancel(runId, io.user);
              return { runId: run.id, outcome, status: run.status };
            });
        if (flags.json) println(io.stdout, JSON.stringify(result));
        else if (result.outcome === 'cancelled') println(io.stdout, `cancelled ${runId}`);
        else {
          println(
            io.stdout,
            `asked ${runId} to stop: it ends cancelled once its holder stopped it (aas sessions show)`,
          );
        }
      } catch (thrown) {
        setExit(reportError(io, thrown, flags.json === true));
      }
    });
}
