import { type FormEvent, useEffect, useRef, useState } from 'react';
import { api, asApiError, type Identity } from '../api';
import { clearToken, saveToken } from '../auth';

/** Paste a token once; it is kept for this tab only, and checked before it is kept. */
export function SignInPage({
  notice,
  onSignedIn,
}: {
  notice: string | null;
  onSignedIn: (identity: Identity) => void;
}) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  // The page's one field: ready for the paste as the page opens.
  const field = useRef<HTMLInputElement>(null);
  useEffect(() => field.current?.focus(), []);

  async function submit(event: FormEvent) {
    event.preventDefault();
    const value = token.trim();
    if (value === '') {
      setError('Paste an API token (aas token create, or the bootstrap token aas start printed).');
      return;
    }
    setBusy(true);
    setError(null);
    saveToken(value);
    try {
      const { data, error: failure, response } = await api.GET('/api/v1/whoami');
      if (data) onSignedIn(data);
      else {
        clearToken();
        setError(
          response.status === 401
            ? 'The server does not accept this token: it is wrong, revoked or expired.'
            : asApiError(failure, response.status).message,
        );
      }
    } catch {
      clearToken();
      setError('The server could not be reached.');
    } finally {
      setBusy(false);
    }
  }

  return (
    <main className="sign-in">
      <h1>AAS panel</h1>
      <p>Watch runs, review patches, approve and promote.</p>
      {notice !== null && (
        <p className="notice" role="status">
          {notice}
        </p>
      )}
      <form onSubmit={submit} noValidate>
        <label htmlFor="token">API token</label>
        <input
          ref={field}
          id="token"
          type="password"
          autoComplete="off"
          value={token}
          onChange={(event) => setToken(event.target.value)}
          aria-invalid={error !== null}
          aria-describedby={error !== null ? 'token-error' : undefined}
        />
        {error !== null && (
          <p id="token-error" className="field-error">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {busy ? 'Checking…' : 'Sign in'}
        </button>
        <p className="hint">
          Kept in this browser tab only; closing the tab or signing out forgets it.
        </p>
      </form>
    </main>
  );
}
