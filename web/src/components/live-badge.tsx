import type { StreamState } from '../sse';

/** Whether what the page shows is following the server, in words (not only a colour). */
export function LiveBadge({ state }: { state: StreamState | 'off' }) {
  const label =
    state === 'live'
      ? 'Live'
      : state === 'reconnecting'
        ? 'Reconnecting…'
        : state === 'stopped'
          ? 'Not live'
          : 'Connecting…';
  return (
    <span className={`live live-${state}`} role="status">
      {label}
    </span>
  );
}
