import { assertNever } from '../kernel/index.js';
import type { EffectivePolicy } from './effective-policy.js';
import { formatBytes } from './format-values.js';

const unique = (patterns: readonly { pattern: string }[]) => [
  ...new Set(patterns.map((rule) => rule.pattern)),
];

function networkLine(policy: EffectivePolicy): string {
  const network = policy.network;
  switch (network.mode) {
    case 'disabled':
      return 'Network: disabled. Do not try to download anything.';
    case 'full':
      return 'Network: available.';
    case 'allowlist':
      return network.allow.length === 0
        ? 'Network: disabled (no host is allowed).'
        : `Network: only ${network.allow.join(', ')}.`;
    default:
      return assertNever(network, 'network mode');
  }
}

/**
 * A short plain-words summary of the policy for an agent's prompt, so a well-behaved agent
 * does not waste a run on changes that will be rejected. It informs; it does not enforce —
 * the sandbox and the gates do, whatever the agent does with this text.
 */
export function describePolicyForAgent(policy: EffectivePolicy): string {
  const lines = [
    'Policy for this run (enforced outside your process: a patch that breaks it is rejected).',
  ];
  const lists = policy.paths.allow;
  if (lists.length === 0) {
    lines.push('- You may change any file not listed below.');
  } else if (lists.some((list) => list.patterns.length === 0)) {
    lines.push('- You may not change any file.');
  } else {
    const [first, ...rest] = lists.map((list) => list.patterns.join(', '));
    const also = rest.map((patterns) => ` and also match ${patterns}`).join('');
    lines.push(`- Only change files whose path matches ${first ?? ''}${also}.`);
  }
  lines.push(`- Never change .git or files matching: ${unique(policy.paths.deny).join(', ')}.`);
  if (policy.paths.runtime.length > 0) {
    lines.push(
      `- Generated files matching ${unique(policy.paths.runtime).join(', ')} are dropped from your patch.`,
    );
  }
  lines.push(`- ${networkLine(policy)}`);
  const { limits } = policy;
  const cost =
    (limits.maxCostUsd === null ? '' : `, model cost at most $${limits.maxCostUsd}`) +
    (limits.maxInputTokens === null
      ? ''
      : `, at most ${limits.maxInputTokens} model input tokens`) +
    (limits.maxOutputTokens === null
      ? ''
      : `, at most ${limits.maxOutputTokens} model output tokens`);
  lines.push(
    `- Limits: at most ${limits.maxChangedFiles} changed files and ${limits.maxPatchLines} changed lines; ` +
      `time ${limits.timeoutSec} s; CPU ${limits.cpuSec} s; ${limits.maxProcesses} processes; ` +
      `memory ${formatBytes(limits.maxMemoryBytes)}; ` +
      `files up to ${formatBytes(limits.maxFileBytes)}; workspace growth ${formatBytes(limits.maxWorkspaceGrowthBytes)}; ` +
      `output ${formatBytes(limits.maxOutputBytes)}${cost}.`,
  );
  if (!policy.binaryChanges) lines.push('- Do not add or change binary files.');
  if (policy.tools !== null) {
    lines.push(
      `- Tools you may use: ${policy.tools.length === 0 ? 'none' : policy.tools.join(', ')}.`,
    );
  }
  lines.push(
    '- Do not commit, push or change git configuration: AAS turns your changes into a patch.',
  );
  return lines.join('\n');
}
