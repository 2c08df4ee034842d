/** Display helpers shared by the explanation and the agent summary. */

export function formatBytes(bytes: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'] as const;
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && value % 1024 === 0 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value} ${units[unit] ?? 'bytes'}`;
}

/** A path as it can be shown on one line: quoted when it holds control characters or edge spaces. */
export function displayPath(path: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: detecting control characters is the point
  return /[\u0000-\u001f\u007f]|^\s|\s$/.test(path) ? JSON.stringify(path) : path;
}

/** Patterns grouped by the layer that gave them: `floor: a, b; repo: c`. */
export function byLayer(rules: readonly { layer: string; pattern: string }[]): string {
  const groups = new Map<string, string[]>();
  for (const rule of rules)
    groups.set(rule.layer, [...(groups.get(rule.layer) ?? []), rule.pattern]);
  return [...groups].map(([layer, patterns]) => `${layer}: ${patterns.join(', ')}`).join('; ');
}
