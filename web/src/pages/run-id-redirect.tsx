import { useEffect, useState } from 'react';
import { type ApiError, api, asApiError } from '../api';
import { ErrorBox } from '../components/error-box';
import { href } from '../router';

/**
 * `#/runs/run_…`: the CLI prints run ids (`aas approve RUN`, `aas promote RUN`), pages are by
 * session. Looks the run up and goes to its session's page, on the same tab.
 */
export function RunIdRedirect({ runId, tab }: { runId: string; tab: string }) {
  const [error, setError] = useState<ApiError | null>(null);
  useEffect(() => {
    let current = true;
    api
      .GET('/api/v1/runs/{id}', { params: { path: { id: runId } } })
      .then(({ data, error: failure, response }) => {
        if (!current) return;
        if (data) {
          window.location.replace(href({ page: 'run', sessionId: data.run.sessionId, tab }));
        } else setError(asApiError(failure, response.status));
      })
      .catch(() => current && setError(asApiError(null)));
    return () => {
      current = false;
    };
  }, [runId, tab]);
  return error === null ? (
    <p className="loading">Finding run {runId}…</p>
  ) : (
    <ErrorBox error={error} title={`Run ${runId} could not be opened`} />
  );
}
