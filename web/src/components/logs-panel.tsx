import { useEffect, useRef, useState } from 'react';
import { type ApiError, asApiError, fetchWithToken } from '../api';
import { downloadWithToken } from '../download';
import { ErrorBox } from './error-box';

const TAIL_LINES = 500;

/** The agent's and validators' output: pick a log, read its tail, or download all of it. */
export function LogsPanel({ runId, logs }: { runId: string; logs: readonly string[] }) {
  const [chosen, setChosen] = useState<string | null>(null);
  // The first log until one is chosen: logs that appear after the tab opened are picked up.
  const name = chosen ?? logs[0] ?? null;
  const [text, setText] = useState<string | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [downloadError, setDownloadError] = useState<string | null>(null);
  const body = useRef<HTMLPreElement>(null);

  useEffect(() => {
    if (name === null) return;
    setText(null);
    setError(null);
    let cancelled = false;
    fetchWithToken(`/api/v1/runs/${encodeURIComponent(runId)}/logs/${encodeURIComponent(name)}`)
      .then(async (response) => {
        if (cancelled) return;
        if (response.ok) setText(await response.text());
        else setError(asApiError(await response.json().catch(() => null), response.status));
      })
      .catch(() => setError(asApiError(null)));
    return () => {
      cancelled = true;
    };
  }, [runId, name]);

  // The tail is what matters: open scrolled to the end.
  useEffect(() => {
    if (text !== null && body.current) body.current.scrollTop = body.current.scrollHeight;
  }, [text]);

  if (logs.length === 0) return <p className="empty">No logs yet.</p>;
  const lines = text?.split('\n') ?? [];
  const tail = lines.slice(-TAIL_LINES);
  return (
    <div className="logs">
      <div className="logs-toolbar">
        <label htmlFor="log-name">Log</label>
        <select
          id="log-name"
          value={name ?? ''}
          onChange={(event) => setChosen(event.target.value)}
        >
          {logs.map((log) => (
            <option key={log} value={log}>
              {log}
            </option>
          ))}
        </select>
        {name !== null && (
          <button
            type="button"
            className="secondary"
            onClick={async () =>
              setDownloadError(
                await downloadWithToken(
                  `/api/v1/runs/${encodeURIComponent(runId)}/logs/${encodeURIComponent(name)}`,
                  `${runId}-${name}`,
                ),
              )
            }
          >
            Download
          </button>
        )}
      </div>
      {downloadError !== null && <p className="field-error">{downloadError}</p>}
      {error !== null && <ErrorBox error={error} title="The log could not be loaded" />}
      {text === null && error === null && <p className="loading">Loading the log…</p>}
      {text !== null && (
        <>
          {lines.length > TAIL_LINES && (
            <p className="hint">
              Showing the last {TAIL_LINES} of {lines.length} lines; download for all of it.
            </p>
          )}
          <section aria-label={`Log ${name ?? ''}`}>
            {/* biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be reachable by keyboard (WCAG 2.1.1) */}
            <pre className="log" ref={body} tabIndex={0}>
              {text === '' ? '(empty)' : tail.join('\n')}
            </pre>
          </section>
        </>
      )}
    </div>
  );
}
