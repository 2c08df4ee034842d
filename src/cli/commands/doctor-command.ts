import type { Command } from 'commander';
import { diagnoseHost } from '../../app/index.js';
import { AasError, type ExitCode } from '../../kernel/index.js';
import { type CliIo, println, reportError } from '../cli-io.js';
import { table } from '../format.js';
import { configFrom, type GlobalOptions } from '../open-runtime.js';

export function registerDoctorCommand(
  program: Command,
  io: CliIo,
  setExit: (code: ExitCode) => void,
): void {
  program
    .command('doctor')
    .description(
      'report what this host can enforce: bubblewrap sandbox, resource limits, overlay workspaces',
    )
    .option('--json', 'machine-readable output')
    .option(
      '--require-sandbox',
      'exit 3 (SANDBOX_UNAVAILABLE) when runs with `sandbox: required` could not start here',
    )
    .addHelpText(
      'after',
      '\nPolicy `sandbox: required` refuses to run where the bubblewrap check fails; `preferred` (the default) runs without isolation and records sandbox.degraded.',
    )
    .action(async (flags: { json?: boolean; requireSandbox?: boolean }, command: Command) => {
      try {
        const config = configFrom(io, command.optsWithGlobals<GlobalOptions>());
        const report = await diagnoseHost(config, { nodePath: io.nodePath });
        if (flags.json) {
          println(io.stdout, JSON.stringify(report));
        } else {
          println(
            io.stdout,
            table([
              ['CHECK', 'OK', 'DETAIL'],
              ...report.checks.map((check) => [check.name, check.ok ? 'yes' : 'NO', check.detail]),
            ]),
          );
          println(
            io.stdout,
            `\nsandbox: ${report.isolationAvailable ? 'bubblewrap (isolating)' : 'plain (NO isolation: `sandbox: required` runs are refused)'}; workspaces: ${report.workspaceStrategy}`,
          );
        }
        if (flags.requireSandbox && !report.isolationAvailable) {
          throw new AasError('SANDBOX_UNAVAILABLE', 'this host cannot sandbox agents', {
            hint: 'install bubblewrap and allow unprivileged user namespaces, or set AAS_BWRAP',
          });
        }
      } catch (thrown) {
        setExit(reportError(io, thrown, flags.json === true));
      }
    });
}
