import type { ApiError } from '../api';

/** The server's own message, its code, and its hint: what went wrong and what to do. */
export function ErrorBox({ error, title }: { error: ApiError; title?: string }) {
  return (
    <div className="error-box" role="alert">
      <strong>{title ?? 'Something went wrong'}</strong>
      <p>
        {error.message} <code>{error.code}</code>
      </p>
      {error.details.hint !== undefined && <p className="hint">{error.details.hint}</p>}
    </div>
  );
}
