import { useCallback, useEffect, useState } from 'react';
import { type ApiError, api, asApiError, type Identity, type SessionItem } from '../api';
import { ErrorBox } from '../components/error-box';
import { StatusBadge } from '../components/status-badge';
import { age } from '../format';
import { href } from '../router';
import { streamEvents } from '../sse';
import { useNow } from '../use-now';

/**
 * The inbox: runs that passed their gates and wait for a decision, that someone else asked
 * for (a requester can never approve their own run).
 */
export function ApprovalsPage({ identity }: { identity: Identity }) {
  const [waiting, setWaiting] = useState<SessionItem[] | null>(null);
  const [mine, setMine] = useState<SessionItem[]>([]);
  const [error, setError] = useState<ApiError | null>(null);
  const now = useNow();

  const load = useCallback(async () => {
    const statuses = ['ready_for_promotion', 'awaiting_approval'] as const;
    const pages = await Promise.all(
      statuses.map((status) =>
        api.GET('/api/v1/sessions', { params: { query: { status, limit: 200 } } }),
      ),
    );
    const failed = pages.find((page) => !page.data);
    if (failed) {
      setError(asApiError(failed.error, failed.response.status));
      return;
    }
    const all = pages.flatMap((page) => page.data?.items ?? []);
    // Runs this user already decided on are not waiting for them any more.
    const decided = await api.GET('/api/v1/approvals', { params: { query: { limit: 500 } } });
    const decidedSessions = new Set(
      (decided.data?.items ?? [])
        .filter((approval) => approval.decidedBy === identity.name)
        .map((approval) => approval.sessionId),
    );
    setError(null);
    setWaiting(
      all.filter((item) => item.requestedBy !== identity.name && !decidedSessions.has(item.id)),
    );
    setMine(all.filter((item) => item.requestedBy === identity.name));
  }, [identity.name]);

  useEffect(() => {
    load().catch(() => setError(asApiError(null)));
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    // At most one reload a second however busy the feed is.
    const reloadSoon = () => {
      if (timer !== undefined) return;
      timer = setTimeout(() => {
        timer = undefined;
        load().catch(() => undefined);
      }, 1_000);
    };
    void streamEvents('/api/v1/stream', reloadSoon, controller.signal, (state) => {
      if (state === 'live') reloadSoon();
    });
    return () => {
      clearTimeout(timer);
      controller.abort();
    };
  }, [load]);

  const canApprove = identity.role === 'approver' || identity.role === 'admin';

  return (
    <section>
      <h1>Approvals</h1>
      {error !== null && <ErrorBox error={error} title="The inbox could not be loaded" />}
      {waiting === null && error === null && <p className="loading">Loading…</p>}
      {!canApprove && (
        <p className="notice">
          Your role ({identity.role}) cannot approve; these runs wait for an approver or an admin.
        </p>
      )}
      {waiting !== null && waiting.length === 0 && (
        <p className="empty">Nothing waits for your decision.</p>
      )}
      {waiting !== null && waiting.length > 0 && (
        <ul className="inbox">
          {waiting.map((item) => (
            <li key={item.id}>
              <StatusBadge status={item.status} />{' '}
              <a href={href({ page: 'run', sessionId: item.id, tab: 'promotion' })}>{item.task}</a>{' '}
              <span className="hint">
                {item.agent} for {item.requestedBy}, {age(item.updatedAt, now)}
              </span>
            </li>
          ))}
        </ul>
      )}
      {mine.length > 0 && (
        <>
          <h2>Yours, not promoted yet</h2>
          <ul className="inbox">
            {mine.map((item) => (
              <li key={item.id}>
                <a href={href({ page: 'run', sessionId: item.id, tab: 'promotion' })}>
                  {item.task}
                </a>{' '}
                <span className="hint">
                  an approver other than you decides on it; once approved, it waits to be promoted
                </span>
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}
