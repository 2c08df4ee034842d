import { useEffect, useRef, useState } from 'react';
import { type ApiError, api, asApiError, type Identity, type RunDetail } from '../api';
import { ErrorBox } from './error-box';

/** The server's role table (permissions.ts): operators and admins may cancel. */
function canCancel(identity: Identity): boolean {
  return identity.role === 'operator' || identity.role === 'admin';
}

/**
 * Cancel a queued or running run, after a second click: a queued run ends at once, a running one
 * is told to stop through its holder's heartbeat, so the page says so until it has ended.
 */
export function CancelRun({
  run,
  identity,
  onChange,
}: {
  run: RunDetail['run'];
  identity: Identity;
  onChange: () => void;
}) {
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  // Each step takes the focus of the button that opened it, which is gone from the page.
  const confirmButton = useRef<HTMLButtonElement>(null);
  const openButton = useRef<HTMLButtonElement>(null);
  const stepped = useRef(false);
  useEffect(() => {
    if (confirming) confirmButton.current?.focus();
    else if (stepped.current) openButton.current?.focus();
    stepped.current = true;
  }, [confirming]);
  if (run.status !== 'queued' && run.status !== 'running') return null;
  if (run.cancelRequestedAt !== null) {
    return (
      <p className="hint cancel-requested" role="status">
        Cancel requested by {run.cancelRequestedBy ?? 'someone'}: the run stops at its worker’s next
        heartbeat.
      </p>
    );
  }
  if (!canCancel(identity)) return null;

  async function cancel() {
    setBusy(true);
    setError(null);
    try {
      const { error: failure, response } = await api.POST('/api/v1/runs/{id}/cancel', {
        params: { path: { id: run.id } },
      });
      if (!response.ok) setError(asApiError(failure, response.status));
      else setConfirming(false);
      onChange();
    } catch {
      setError(asApiError(null));
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="cancel-run">
      {confirming ? (
        <>
          <span>
            {run.status === 'queued'
              ? 'Cancel this run before it starts?'
              : 'Stop this run? Its agent is stopped and the run ends as cancelled.'}
          </span>
          <button
            ref={confirmButton}
            type="button"
            className="danger"
            disabled={busy}
            onClick={cancel}
          >
            {busy ? 'Cancelling…' : 'Yes, cancel the run'}
          </button>
          <button
            type="button"
            className="secondary"
            disabled={busy}
            onClick={() => setConfirming(false)}
          >
            Keep it
          </button>
        </>
      ) : (
        <button
          ref={openButton}
          type="button"
          className="secondary"
          onClick={() => setConfirming(true)}
        >
          Cancel run
        </button>
      )}
      {error !== null && <ErrorBox error={error} title="The run was not cancelled" />}
    </div>
  );
}
