import { readFileSync } from 'node:fs';

/** The machine's CPU counters at one moment: ms busy and ms in all, summed over every CPU. */
export interface CpuMark {
  readonly busyMs: number;
  readonly totalMs: number;
}

/** What the machine's CPUs did between two marks. */
export interface CpuSpent {
  /** CPU time spent by every process (this one, the database server, anything else). */
  readonly busyMs: number;
  /** Share of all CPUs' time that was busy, 0…1. */
  readonly busyShare: number;
}

/** /proc/stat counts in USER_HZ, which Linux fixes at 100 per second for user space. */
const MS_PER_TICK = 10;

/**
 * The machine's CPU counters from /proc/stat's first line (all CPUs); undefined where there is
 * no /proc/stat (not Linux), so a bench reports nothing rather than a wrong figure. Busy is
 * everything but idle and iowait.
 */
export function cpuMark(): CpuMark | undefined {
  let first: string | undefined;
  try {
    first = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0];
  } catch {
    return undefined;
  }
  if (first === undefined || !first.startsWith('cpu ')) return undefined;
  const ticks = first.trim().split(/\s+/).slice(1).map(Number);
  if (ticks.length < 5 || ticks.some((tick) => !Number.isFinite(tick))) return undefined;
  const total = ticks.reduce((sum, tick) => sum + tick, 0);
  const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
  return { busyMs: (total - idle) * MS_PER_TICK, totalMs: total * MS_PER_TICK };
}

/** CPU spent since `from`; undefined when either mark is missing or no time passed. */
export function cpuSince(from: CpuMark | undefined): CpuSpent | undefined {
  const to = cpuMark();
  if (from === undefined || to === undefined || to.totalMs <= from.totalMs) return undefined;
  const busyMs = to.busyMs - from.busyMs;
  return { busyMs, busyShare: busyMs / (to.totalMs - from.totalMs) };
}
