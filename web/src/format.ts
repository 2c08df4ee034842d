/** "3 s", "4 min", "2 h", "5 d": how long ago or how long, at a glance. */
export function shortDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)} s`;
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return `${hours} h`;
  return `${Math.round(hours / 24)} d`;
}

export function age(iso: string, nowMs: number): string {
  return `${shortDuration(nowMs - Date.parse(iso))} ago`;
}

export function dollars(usd: number): string {
  return usd === 0 ? '$0' : `$${usd < 0.01 ? usd.toPrecision(2) : usd.toFixed(2)}`;
}

/**
 * A moment in the reader's own time zone ("7 Dec 2026, 22:05:03 CET"): what the server sends is
 * UTC, which few people read at a glance. An unreadable value is shown as it came.
 */
export function localTime(iso: string): string {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return iso;
  return new Date(ms).toLocaleString(undefined, {
    dateStyle: 'medium',
    timeStyle: 'long',
  });
}
