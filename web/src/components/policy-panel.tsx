import { type FormEvent, useCallback, useEffect, useRef, useState } from 'react';
import { type ApiError, api, asApiError } from '../api';
import { ErrorBox } from './error-box';

type Explanation = NonNullable<Awaited<ReturnType<typeof fetchExplanation>>['data']>;

function fetchExplanation(runId: string, paths: readonly string[]) {
  return api.GET('/api/v1/runs/{id}/policy', {
    params: { path: { id: runId }, query: { path: [...paths] } },
  });
}

/** The run's effective policy, which layer decided each value, and the verdict for any path. */
export function PolicyPanel({ runId, paths }: { runId: string; paths: readonly string[] }) {
  const [asked, setAsked] = useState<string[]>([]);
  const [draft, setDraft] = useState('');
  const [explanation, setExplanation] = useState<Explanation | null>(null);
  const [error, setError] = useState<ApiError | null>(null);

  const latest = useRef(0);
  const load = useCallback(
    async (extra: readonly string[]) => {
      const all = [...new Set([...extra, ...paths])].slice(0, 50);
      const asked = ++latest.current;
      const { data, error: failure, response } = await fetchExplanation(runId, all);
      // An older question answered late must not overwrite the newer answer.
      if (asked !== latest.current) return;
      if (data) {
        setExplanation(data);
        setError(null);
      } else setError(asApiError(failure, response.status));
    },
    [runId, paths],
  );

  useEffect(() => {
    load(asked).catch(() => setError(asApiError(null)));
  }, [load, asked]);

  function check(event: FormEvent) {
    event.preventDefault();
    const path = draft.trim();
    if (path === '') return;
    setAsked((previous) => [path, ...previous.filter((known) => known !== path)]);
  }

  return (
    <div className="policy">
      <form className="path-check" onSubmit={check} aria-label="Path verdict">
        <label htmlFor="policy-path">Check a path</label>
        <input
          id="policy-path"
          className="mono"
          placeholder="src/app.ts"
          value={draft}
          onChange={(event) => setDraft(event.target.value)}
        />
        <button type="submit">Explain</button>
      </form>
      {error !== null && <ErrorBox error={error} title="The policy could not be explained" />}
      {explanation === null && error === null && <p className="loading">Loading the policy…</p>}
      {explanation !== null && (
        <>
          {explanation.paths.length > 0 && (
            <table className="paths">
              <thead>
                <tr>
                  <th>Path</th>
                  <th>Verdict</th>
                  <th>Why</th>
                </tr>
              </thead>
              <tbody>
                {explanation.paths.map((item) => (
                  <tr key={item.path} data-path={item.path}>
                    <td className="mono">{item.path}</td>
                    <td>
                      <span className={`badge verdict-${item.outcome}`}>{item.outcome}</span>
                    </td>
                    <td>{describeDecision(item)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          <h3>Effective values</h3>
          <table className="values">
            <thead>
              <tr>
                <th>Setting</th>
                <th>Value</th>
                <th>Decided by</th>
              </tr>
            </thead>
            <tbody>
              {explanation.values.map((value) => (
                <tr key={value.field}>
                  <td className="mono">{value.field}</td>
                  <td>{value.display}</td>
                  <td>
                    {Array.isArray(value.decidedBy)
                      ? value.decidedBy.join(', ') || 'built-in default'
                      : (value.decidedBy ?? 'built-in default')}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <h3>Layers, most general first</h3>
          <ol className="layers">
            {explanation.layers.map((layer) => (
              <li key={layer.name}>
                <strong>{layer.name}</strong> <span className="mono hint">{layer.source}</span>
              </li>
            ))}
          </ol>
        </>
      )}
    </div>
  );
}

function describeDecision(item: Explanation['paths'][number]): string {
  const decision = item.decision as {
    reason?: string;
    layer?: string | null;
    rule?: string | null;
  };
  const runtime = item.runtime as { layer?: string; pattern?: string } | null;
  if (runtime)
    return `runtime artifact by ${runtime.pattern ?? '?'} (${runtime.layer ?? '?'}): dropped from the patch`;
  const parts = [
    decision.reason,
    decision.rule ? `rule ${decision.rule}` : null,
    decision.layer ? `layer ${decision.layer}` : null,
    // An allowed path: every layer whose allow-list admits it.
    !decision.layer && item.decidedBy.length > 0 ? `by ${item.decidedBy.join(', ')}` : null,
  ];
  return parts.filter(Boolean).join(' · ');
}
