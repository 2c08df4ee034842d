import type { AasConfig } from '../config/index.js';
import {
  CLI_AGENT_IDS,
  CLI_AGENTS,
  type CliAgentId,
  type UnavailableAgent,
} from '../drivers/index.js';
import { findExecutable } from './find-executable.js';

/** The binary each CLI agent is configured with, if any; otherwise its command is looked up. */
function configuredBin(config: AasConfig, id: CliAgentId): string | undefined {
  switch (id) {
    case 'claude-code':
      return config.models.claudeCodeBin;
    case 'codex':
      return config.models.codexBin;
    case 'gemini':
      return config.models.geminiBin;
    case 'aider':
      return config.models.aiderBin;
    case 'openhands':
      return config.models.openhandsBin;
  }
}

/**
 * Finds each CLI agent's binary: the configured path (which must then be executable), else
 * its usual command on PATH. What is missing is reported with the variable that fixes it.
 */
export async function findAgentClis(
  config: AasConfig,
  searchPath: string | undefined,
): Promise<{
  found: Partial<Record<CliAgentId, string>>;
  missing: UnavailableAgent[];
}> {
  const found: Partial<Record<CliAgentId, string>> = {};
  const missing: UnavailableAgent[] = [];
  for (const id of CLI_AGENT_IDS) {
    const cli = CLI_AGENTS[id];
    const configured = configuredBin(config, id);
    const bin = await findExecutable(configured ?? cli.command, searchPath);
    if (bin !== undefined) {
      found[id] = bin;
      continue;
    }
    missing.push({
      id,
      description: cli.description,
      reason:
        configured === undefined
          ? `\`${cli.command}\` is not on PATH`
          : `${cli.binVariable}=${configured} is not an executable file`,
      hint: `install it (${cli.install}) or set ${cli.binVariable} to its binary`,
    });
  }
  return { found, missing };
}
