import type { Command } from 'commander';
import type { ExitCode } from '../../kernel/index.js';
import { type CliIo, println, reportError } from '../cli-io.js';
import { table } from '../format.js';
import { type GlobalOptions, withRuntime } from '../open-runtime.js';

export function registerAgentsCommand(
  program: Command,
  io: CliIo,
  setExit: (code: ExitCode) => void,
): void {
  program
    .command('agents')
    .description(
      'list the agents this installation knows (built-in and manifests in $AAS_HOME/agents)',
    )
    .option('--json', 'machine-readable output')
    .action(async (flags: { json?: boolean }, command: Command) => {
      try {
        const agents = await withRuntime(
          io,
          command.optsWithGlobals<GlobalOptions>(),
          async (runtime) => runtime.registry.list(),
        );
        if (flags.json) {
          println(io.stdout, JSON.stringify(agents));
          return;
        }
        println(
          io.stdout,
          table([
            ['AGENT', 'ENTRYPOINT', 'RESULT', 'DESCRIPTION'],
            ...agents.map((a) => [a.id, a.entrypoint, a.result, a.description ?? '']),
          ]),
        );
      } catch (thrown) {
        setExit(reportError(io, thrown, flags.json === true));
      }
    });
}
