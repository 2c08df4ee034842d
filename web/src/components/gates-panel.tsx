import type { StoredEvent } from '../api';

interface Verdict {
  readonly attempt: number;
  readonly gate: string;
  readonly code: string;
  readonly detail: string;
  readonly durationMs: number;
  readonly evidence?: unknown;
}

/** Every gate of every attempt, with its verdict and what explains it. */
export function GatesPanel({ events }: { events: readonly StoredEvent[] }) {
  const verdicts = events
    .filter((event) => event.type === 'gate.passed' || event.type === 'gate.failed')
    .map((event) => ({ passed: event.type === 'gate.passed', ...(event.data as Verdict) }));
  if (verdicts.length === 0) return <p className="empty">No gate has run yet.</p>;
  return (
    <table className="gates">
      <thead>
        <tr>
          <th>Attempt</th>
          <th>Gate</th>
          <th>Verdict</th>
          <th>Detail</th>
          <th>Time</th>
        </tr>
      </thead>
      <tbody>
        {verdicts.map((verdict) => (
          <tr key={`${verdict.attempt}-${verdict.gate}`}>
            <td>{verdict.attempt}</td>
            <td className="mono">{verdict.gate}</td>
            <td>
              <span className={`badge ${verdict.passed ? 'pass' : 'fail'}`}>
                {verdict.passed ? 'passed' : 'failed'}
              </span>{' '}
              <code>{verdict.code}</code>
            </td>
            <td>
              {verdict.detail}
              {verdict.evidence !== undefined && verdict.evidence !== null && (
                <details>
                  <summary>Output and evidence</summary>
                  <pre>{JSON.stringify(readableEvidence(verdict), null, 2)}</pre>
                </details>
              )}
            </td>
            <td>{verdict.durationMs} ms</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/**
 * The evidence with the server's log file paths (which mean nothing in a browser) replaced by
 * the names the Logs tab lists them under: `<attempt>.<file>`.
 */
function readableEvidence(verdict: Verdict): unknown {
  const evidence = verdict.evidence;
  if (typeof evidence !== 'object' || evidence === null || Array.isArray(evidence)) return evidence;
  return Object.fromEntries(
    Object.entries(evidence).map(([key, value]) => {
      if (typeof value !== 'string' || !value.startsWith('/') || !value.endsWith('.log')) {
        return [key, value];
      }
      const file = value.slice(value.lastIndexOf('/') + 1);
      return [key, `${verdict.attempt}.${file} (in the Logs tab)`];
    }),
  );
}
