/**
 * The coding-agent CLIs AAS drives: how each is found on a host and what it needs there. Each
 * runs inside the sandbox under an adapter (`<id>-adapter.ts`) that builds its command line,
 * turns its output into AEP events and writes driver_result.json.
 */
export const CLI_AGENTS = {
  'claude-code': {
    npmPackage: '@anthropic-ai/claude-code',
    command: 'claude',
    binVariable: 'AAS_CLAUDE_CODE_BIN',
    install: 'npm install -g @anthropic-ai/claude-code',
    providers: ['anthropic'],
    description: 'Claude Code (headless -p, stream-json), through the model gateway.',
  },
  codex: {
    npmPackage: '@openai/codex',
    command: 'codex',
    binVariable: 'AAS_CODEX_BIN',
    install: 'npm install -g @openai/codex',
    providers: ['openai'],
    description: 'Codex CLI (exec --json), through the model gateway; only in the AAS sandbox.',
  },
  gemini: {
    npmPackage: '@google/gemini-cli',
    command: 'gemini',
    binVariable: 'AAS_GEMINI_BIN',
    install: 'npm install -g @google/gemini-cli',
    providers: ['google'],
    description: 'Gemini CLI (headless -p, stream-json), through the model gateway.',
  },
  aider: {
    npmPackage: null,
    command: 'aider',
    binVariable: 'AAS_AIDER_BIN',
    install: 'python3 -m pip install aider-install && aider-install',
    providers: ['openai'],
    description: 'Aider (--message, edits only), OpenAI-compatible API through the model gateway.',
  },
  openhands: {
    npmPackage: null,
    command: 'openhands',
    binVariable: 'AAS_OPENHANDS_BIN',
    install: 'uv tool install openhands --python 3.12',
    providers: ['openai'],
    description:
      'OpenHands CLI (--headless --json), through the model gateway; only in the sandbox.',
  },
} as const satisfies Record<
  string,
  {
    /** The npm package it is installed from, whose package.json says its version; or null. */
    readonly npmPackage: string | null;
    readonly command: string;
    readonly binVariable: string;
    readonly install: string;
    readonly providers: readonly ('anthropic' | 'openai' | 'google')[];
    readonly description: string;
  }
>;

export type CliAgentId = keyof typeof CLI_AGENTS;
export const CLI_AGENT_IDS = Object.keys(CLI_AGENTS) as CliAgentId[];

export function isCliAgentId(id: string): id is CliAgentId {
  return Object.hasOwn(CLI_AGENTS, id);
}
