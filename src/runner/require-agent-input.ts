import { type AgentManifest, checkMockScript, INPUT_COMMAND_ARG } from '../drivers/index.js';
import { AasError, closestName } from '../kernel/index.js';
import type { JobSpec } from './job-spec.js';

/**
 * An agent whose argv takes the job's command (the built-in `command` agent) needs one, and the
 * built-in `mock` agent's script must be one it follows: checked when the job is submitted, and
 * again before its first attempt.
 */
export function requireAgentInput(manifest: AgentManifest, job: JobSpec): void {
  if (manifest.id === 'mock') checkMockScript(job.agentInput);
  if (!manifest.args.includes(INPUT_COMMAND_ARG)) return;
  const input = job.agentInput;
  const command =
    typeof input === 'object' && input !== null && 'command' in input ? input.command : undefined;
  if (typeof command === 'string' && command.includes('\0')) {
    throw new AasError('JOB_INVALID', 'a command cannot hold a NUL character', {
      field: 'agentInput.command',
    });
  }
  if (typeof command !== 'string' || command.trim() === '') {
    const given = typeof input === 'object' && input !== null ? Object.keys(input) : [];
    const misspelt = given.find((key) => closestName(key, ['command']) !== null);
    throw new AasError(
      'JOB_INVALID',
      `agent ${manifest.id} runs the job's command, but the job gives none`,
      {
        field: 'agentInput.command',
        hint:
          misspelt !== undefined && misspelt !== 'command'
            ? `did you mean "command"? agentInput has "${misspelt}"`
            : 'use --agent-cmd "…" or set agentInput.command in the job',
      },
    );
  }
}
