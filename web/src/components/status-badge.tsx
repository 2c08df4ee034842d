/** A run's status in words and colour; the colour is never the only signal. */
export function StatusBadge({ status, code }: { status: string; code?: string | null }) {
  return (
    <span className={`badge status-${status}`} title={code ?? undefined}>
      {status.replaceAll('_', ' ')}
    </span>
  );
}
