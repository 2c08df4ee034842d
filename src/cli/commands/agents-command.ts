import type { Command } from 'commander';
import { describeAgents } from '../../app/index.js';
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
      'list the agents this installation knows (built-in, coding-agent CLIs, manifests in $AAS_HOME/agents) and whether each is installed and usable here',
    )
    .option('--json', 'machine-readable output')
    .addHelpText(
      'after',
      `
STATUS is "ready" when the agent can run here, "not installed" when its program was not
found (set AAS_<NAME>_BIN or put it on PATH), and "unusable" when something else is missing
(a model provider key, or the sandbox an agent requires); PROBLEMS says what to do.`,
    )
    .action(async (flags: { json?: boolean }, command: Command) => {
      try {
        const agents = await withRuntime(
          io,
          command.optsWithGlobals<GlobalOptions>(),
          (runtime) => describeAgents({ ...runtime, models: runtime.runnerDeps().models }),
          { recover: false },
        );
        if (flags.json) {
          println(io.stdout, JSON.stringify(agents));
          return;
        }
        println(
          io.stdout,
          table([
            ['AGENT', 'STATUS', 'VERSION', 'PROGRAM', 'DESCRIPTION'],
            ...agents.map((agent) => [
              agent.id,
              agent.usable
                ? 'ready'
                : agent.manifestInvalid
                  ? 'invalid manifest'
                  : agent.installed
                    ? 'unusable'
                    : 'not installed',
              agent.version ?? '-',
              agent.program ?? '-',
              agent.description,
            ]),
          ]),
        );
        const problems = agents.flatMap((agent) =>
          agent.problems.map((problem) => `  ${agent.id}: ${problem}`),
        );
        if (problems.length > 0) println(io.stdout, `\nPROBLEMS\n${problems.join('\n')}`);
      } catch (thrown) {
        setExit(reportError(io, thrown, flags.json === true));
      }
    });
}
