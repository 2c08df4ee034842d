import { assertNever } from '../kernel/index.js';
import type { ExplainedPath, PolicyExplanation } from './explain-policy.js';
import { displayPath } from './format-values.js';

function pathLine(entry: ExplainedPath): string {
  const path = displayPath(entry.path);
  const { decision } = entry;
  switch (entry.outcome) {
    case 'allow':
      return `ALLOW ${path}`;
    case 'drop':
      return `DROP  ${path}  (runtime artifact, dropped from the patch: layer ${entry.runtime?.layer ?? '?'}, rule ${
        entry.runtime?.rule ?? '?'
      })`;
    case 'deny':
      switch (decision.kind) {
        case 'denied':
          return `DENY  ${path}  (layer ${decision.layer ?? '?'}, rule ${decision.rule ?? '?'})`;
        case 'not-allowed':
          return `DENY  ${path}  (layer ${decision.layer ?? '?'}, not in ${decision.rule ?? 'its allow-list'})`;
        case 'invalid-path':
        case 'git-metadata':
        case 'allowed':
          return `DENY  ${path}  (${decision.reason})`;
        default:
          return assertNever(decision.kind, 'path decision kind');
      }
    default:
      return assertNever(entry.outcome, 'path outcome');
  }
}

/** The human-readable form `aas policy explain` prints. */
export function formatExplanation(explanation: PolicyExplanation): string {
  const lines: string[] = ['Layers (merged in this order; deny wins):'];
  const nameWidth = Math.max(...explanation.layers.map((layer) => layer.name.length), 0);
  explanation.layers.forEach((layer, index) => {
    lines.push(`  ${index + 1}. ${layer.name.padEnd(nameWidth)}  ${layer.source}`);
  });
  lines.push('', 'Effective policy:');
  const fieldWidth = Math.max(...explanation.values.map((value) => value.field.length), 0);
  for (const value of explanation.values) {
    const by = value.decidedBy.length === 0 ? 'default' : value.decidedBy.join(', ');
    lines.push(`  ${value.field.padEnd(fieldWidth)}  ${value.display}  (${by})`);
  }
  if (explanation.notGranted.length > 0) {
    lines.push('', 'Asked for and not granted:');
    for (const entry of explanation.notGranted) {
      lines.push(`  ${entry.field}  ${entry.asked}  (layer ${entry.layer}: ${entry.why})`);
    }
  }
  if (explanation.paths.length > 0) {
    lines.push('', 'Paths:');
    for (const entry of explanation.paths) lines.push(`  ${pathLine(entry)}`);
  }
  return lines.join('\n');
}
