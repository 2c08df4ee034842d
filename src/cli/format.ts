import { oneLine } from './terminal-safe.js';

/** Small text helpers for tables and durations in terminal output. */

export function formatMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(2)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** `2 model calls, 300 input tokens (60 cached), 100 output tokens, $0.002238`. */
export function formatModelSpend(spend: {
  readonly calls: number;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly cachedInputTokens: number;
  readonly costUsd: number;
}): string {
  if (spend.calls === 0 && spend.costUsd === 0) return 'no model calls';
  const calls = `${spend.calls} model call${spend.calls === 1 ? '' : 's'}`;
  const cached = spend.cachedInputTokens > 0 ? ` (${spend.cachedInputTokens} cached)` : '';
  // Six significant digits: a small spend is not shown as $0.00.
  const dollars = `$${Number(spend.costUsd.toPrecision(6))}`;
  return `${calls}, ${spend.inputTokens} input tokens${cached}, ${spend.outputTokens} output tokens, ${dollars}`;
}

export function pad(text: string, width: number): string {
  return text.length >= width ? text : text + ' '.repeat(width - text.length);
}

export function table(cells: readonly (readonly string[])[]): string {
  const rows = cells.map((row) => row.map(oneLine));
  const widths: number[] = [];
  for (const row of rows) {
    for (const [i, cell] of row.entries()) widths[i] = Math.max(widths[i] ?? 0, cell.length);
  }
  return rows
    .map((row) =>
      row.map((cell, i) => (i === row.length - 1 ? cell : pad(cell, widths[i] ?? 0))).join('  '),
    )
    .join('\n');
}

export function firstLine(text: string, max = 120): string {
  const line = oneLine(text.split('\n', 1)[0] ?? '');
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/** `git diff --stat`-like summary from per-file counts. */
export function diffstat(
  changed: readonly { path: string; insertions: number; deletions: number; binary: boolean }[],
): string {
  if (changed.length === 0) return ' 0 files changed';
  const files = changed.map((file) => ({ ...file, path: oneLine(file.path) }));
  const width = Math.min(60, Math.max(...files.map((f) => f.path.length)));
  const lines = files.map((file) => {
    const changes = file.binary
      ? 'Bin'
      : `${file.insertions + file.deletions} ${'+'.repeat(Math.min(file.insertions, 30))}${'-'.repeat(Math.min(file.deletions, 30))}`;
    return ` ${pad(file.path, width)} | ${changes}`;
  });
  const insertions = files.reduce((sum, f) => sum + f.insertions, 0);
  const deletions = files.reduce((sum, f) => sum + f.deletions, 0);
  lines.push(
    ` ${files.length} file${files.length === 1 ? '' : 's'} changed, ${insertions} insertion${insertions === 1 ? '' : 's'}(+), ${deletions} deletion${deletions === 1 ? '' : 's'}(-)`,
  );
  return lines.join('\n');
}
