import { AasError } from '../kernel/index.js';
import type { AepJob } from './aep-job.js';
import type { AgentManifest } from './agent-manifest.js';
import { INPUT_COMMAND_ARG } from './builtin-manifests.js';

/**
 * The argv for one attempt: the manifest's entrypoint and args, with every argument equal to
 * `{{input.command}}` replaced by the job's `input.command`. Throws JOB_INVALID when the
 * manifest wants a command and the job has none, before anything is started.
 */
export function resolveAgentCommand(
  manifest: AgentManifest,
  job: AepJob,
): { command: string; args: string[] } {
  if (!manifest.args.includes(INPUT_COMMAND_ARG)) {
    return { command: manifest.entrypoint, args: [...manifest.args] };
  }
  const command = inputCommand(job.input);
  if (command === null) {
    throw new AasError('JOB_INVALID', `agent '${manifest.id}' needs a command to run`, {
      field: 'agentInput.command',
      hint: 'pass the shell command as agentInput: { command: "npm test" }',
    });
  }
  return {
    command: manifest.entrypoint,
    args: manifest.args.map((arg) => (arg === INPUT_COMMAND_ARG ? command : arg)),
  };
}

function inputCommand(input: unknown): string | null {
  if (typeof input !== 'object' || input === null) return null;
  const command = (input as { command?: unknown }).command;
  if (typeof command !== 'string' || command.trim() === '' || command.includes('\0')) return null;
  return command;
}
