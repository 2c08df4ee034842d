import { useState } from 'react';
import { type ApiError, api, asApiError } from '../api';
import { ErrorBox } from './error-box';

type Verification = {
  ok: boolean;
  events: number;
  firstBrokenSeq: number | null;
  reason: string | null;
  disagreements: string[];
};

/** Recomputes the session's hash chain on the server and says whether it holds. */
export function AuditPanel({ sessionId }: { sessionId: string }) {
  const [result, setResult] = useState<Verification | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);

  async function verify() {
    setBusy(true);
    setError(null);
    try {
      const {
        data,
        error: failure,
        response,
      } = await api.GET('/api/v1/sessions/{id}/verify', {
        params: { path: { id: sessionId } },
      });
      if (data) setResult(data);
      else setError(asApiError(failure, response.status));
    } catch {
      setError(asApiError(null));
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="audit">
      <p>
        Every event carries a SHA-256 hash over its content and the previous event's hash. Verifying
        recomputes the chain: an edited, removed or reordered event breaks it.
      </p>
      <button type="button" onClick={verify} disabled={busy}>
        {busy ? 'Verifying…' : 'Verify the hash chain'}
      </button>
      {error !== null && <ErrorBox error={error} title="Verification failed to run" />}
      {result !== null && (
        <p className={result.ok ? 'verdict ok' : 'verdict broken'} role="status">
          {result.ok
            ? `Chain intact: ${result.events} events verified, and the records agree with them.`
            : result.firstBrokenSeq !== null
              ? `Chain broken at event #${result.firstBrokenSeq}: ${result.reason}`
              : `Chain intact, but the records say otherwise (changed outside AAS): ${result.disagreements.join('; ')}`}
        </p>
      )}
    </div>
  );
}
