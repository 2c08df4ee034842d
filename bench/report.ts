import { percentile, summarise } from './stats.js';

/**
 * `ms`, `s` and `KB`: lower is better. Rates (`events/s`, `req/s`, `runs/s`, `jobs/s`) and
 * `ratio` (ours ÷ a baseline's rate): higher is better.
 */
export type Unit = 'ms' | 's' | 'KB' | 'events/s' | 'req/s' | 'runs/s' | 'jobs/s' | 'ratio';

export interface Target {
  readonly op: '<=' | '>=';
  readonly value: number;
}

export interface ResultRow {
  readonly metric: string;
  readonly unit: Unit;
  readonly samples: readonly number[];
  /** Compared with the median. */
  readonly target?: Target;
}

export interface ResultTable {
  readonly title: string;
  readonly rows: readonly ResultRow[];
  readonly notes: readonly string[];
  /** Set when the table could not be measured (e.g. PostgreSQL unreachable). */
  readonly skipped?: string;
}

function higherIsBetter(unit: Unit): boolean {
  return (
    unit === 'events/s' ||
    unit === 'req/s' ||
    unit === 'runs/s' ||
    unit === 'jobs/s' ||
    unit === 'ratio'
  );
}

/**
 * The slow tail: p90 of a duration, and for a rate the rate at the p90 duration (its p10).
 * The "p90" column always shows the slow side.
 */
function slowTail(row: ResultRow): number {
  return percentile(row.samples, higherIsBetter(row.unit) ? 10 : 90);
}

export function passes(row: ResultRow): boolean | null {
  if (row.target === undefined) return null;
  const value = summarise(row.samples).median;
  return row.target.op === '<=' ? value <= row.target.value : value >= row.target.value;
}

function formatValue(value: number, unit: Unit): string {
  if (Number.isNaN(value)) return '–';
  switch (unit) {
    case 'ms':
      return `${value.toFixed(value >= 100 ? 0 : value >= 10 ? 1 : 2)} ms`;
    case 's':
      return `${value.toFixed(2)} s`;
    case 'KB':
      return `${value.toFixed(1)} KB`;
    case 'events/s':
      return `${Math.round(value).toLocaleString('en-US')} ev/s`;
    case 'req/s':
      return `${Math.round(value).toLocaleString('en-US')} req/s`;
    case 'runs/s':
      return `${Math.round(value).toLocaleString('en-US')} runs/s`;
    case 'jobs/s':
      return `${Math.round(value).toLocaleString('en-US')} jobs/s`;
    case 'ratio':
      return `${value.toFixed(2)}×`;
  }
}

function formatTarget(row: ResultRow): string {
  if (row.target === undefined) return '';
  return `${row.target.op === '<=' ? '≤' : '≥'} ${formatValue(row.target.value, row.unit)}`;
}

export function formatTable(table: ResultTable): string {
  const lines = [`## ${table.title}`];
  if (table.skipped !== undefined) {
    lines.push(`skipped (${table.skipped})`);
    return lines.join('\n');
  }
  const header = ['metric', 'median', 'p90', 'n', 'target', '✓/✗'];
  const body = table.rows.map((row) => {
    const pass = passes(row);
    return [
      row.metric,
      formatValue(summarise(row.samples).median, row.unit),
      formatValue(slowTail(row), row.unit),
      String(row.samples.length),
      formatTarget(row),
      pass === null ? '' : pass ? '✓' : '✗',
    ];
  });
  const widths = header.map((title, column) =>
    Math.max(title.length, ...body.map((cells) => (cells[column] ?? '').length)),
  );
  const numeric = new Set([1, 2, 3]);
  const render = (cells: readonly string[]) =>
    `| ${cells
      .map((cell, column) => {
        const width = widths[column] ?? 0;
        return numeric.has(column) ? cell.padStart(width) : cell.padEnd(width);
      })
      .join(' | ')} |`;
  lines.push(render(header));
  lines.push(`|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`);
  for (const cells of body) lines.push(render(cells));
  for (const note of table.notes) lines.push(`  · ${note}`);
  return lines.join('\n');
}

/** The machine-readable form written to bench/out/results.json. */
export function tableToJson(table: ResultTable): unknown {
  return {
    title: table.title,
    ...(table.skipped === undefined ? {} : { skipped: table.skipped }),
    notes: table.notes,
    rows: table.rows.map((row) => {
      const summary = summarise(row.samples);
      return {
        metric: row.metric,
        unit: row.unit,
        n: summary.n,
        median: round(summary.median),
        p90: round(slowTail(row)),
        min: round(summary.min),
        max: round(summary.max),
        target: row.target ?? null,
        pass: passes(row),
        samples: row.samples.map(round),
      };
    }),
  };
}

function round(value: number): number | null {
  return Number.isFinite(value) ? Math.round(value * 1000) / 1000 : null;
}
