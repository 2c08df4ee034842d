import { type FormEvent, useCallback, useEffect, useRef, useState } from 'react';
import { type ApiError, api, asApiError, type RunStatus, type SessionItem } from '../api';
import { ErrorBox } from '../components/error-box';
import { StatusBadge } from '../components/status-badge';
import { age, isTerminal, shortDuration } from '../format';
import { href } from '../router';
import { streamEvents } from '../sse';
import { useNow } from '../use-now';

const STATUSES: RunStatus[] = [
  'queued',
  'running',
  'ready_for_promotion',
  'human_review',
  'awaiting_approval',
  'promoting',
  'promoted',
  'blocked',
  'failed',
  'cancelled',
];

interface Filters {
  readonly q: string;
  readonly status: string;
  readonly agent: string;
  readonly requester: string;
}

const NO_FILTERS: Filters = { q: '', status: '', agent: '', requester: '' };
const PAGE_SIZE = 50;

/** The run list: filters, search, cursor paging, and live updates from the server's feed. */
export function RunsPage() {
  const [draft, setDraft] = useState<Filters>(NO_FILTERS);
  const [filters, setFilters] = useState<Filters>(NO_FILTERS);
  const [items, setItems] = useState<SessionItem[] | null>(null);
  const [nextCursor, setNextCursor] = useState<string | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [live, setLive] = useState<'live' | 'reconnecting' | 'off'>('off');
  const [loadingMore, setLoadingMore] = useState(false);
  const now = useNow();
  const pages = useRef(1);

  const load = useCallback(
    async (cursor: string | null, pageCount = 1): Promise<void> => {
      const query = {
        limit: PAGE_SIZE * (cursor === null ? pageCount : 1),
        ...(cursor === null ? {} : { cursor }),
        ...(filters.q ? { q: filters.q } : {}),
        ...(filters.status ? { status: filters.status as RunStatus } : {}),
        ...(filters.agent ? { agent: filters.agent } : {}),
        ...(filters.requester ? { requester: filters.requester } : {}),
      };
      const {
        data,
        error: failure,
        response,
      } = await api.GET('/api/v1/sessions', {
        params: { query },
      });
      if (!data) {
        setError(asApiError(failure, response.status));
        return;
      }
      setError(null);
      setItems((previous) => (cursor === null ? data.items : [...(previous ?? []), ...data.items]));
      setNextCursor(data.nextCursor);
    },
    [filters],
  );

  useEffect(() => {
    pages.current = 1;
    setItems(null);
    load(null).catch(() => setError(asApiError(null)));
  }, [load]);

  // Any change anywhere reloads what is on screen (debounced): order and filters stay right.
  useEffect(() => {
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    void streamEvents(
      '/api/v1/stream',
      () => {
        clearTimeout(timer);
        timer = setTimeout(() => {
          load(null, pages.current).catch(() => undefined);
        }, 250);
      },
      controller.signal,
      setLive,
    );
    return () => {
      clearTimeout(timer);
      controller.abort();
    };
  }, [load]);

  function applyFilters(event: FormEvent) {
    event.preventDefault();
    setFilters(draft);
  }

  async function loadMore() {
    if (nextCursor === null) return;
    setLoadingMore(true);
    pages.current += 1;
    await load(nextCursor).catch(() => setError(asApiError(null)));
    setLoadingMore(false);
  }

  return (
    <section>
      <div className="page-head">
        <h1>Runs</h1>
        <span className={`live live-${live}`} role="status">
          {live === 'live' ? 'Live' : live === 'reconnecting' ? 'Reconnecting…' : 'Connecting…'}
        </span>
        <a className="button" href={href({ page: 'new' })}>
          New run
        </a>
      </div>
      <form className="filters" onSubmit={applyFilters} aria-label="Filter runs">
        <input
          type="search"
          placeholder="Search task, repository, agent, requester"
          aria-label="Search"
          value={draft.q}
          onChange={(event) => setDraft({ ...draft, q: event.target.value })}
        />
        <select
          aria-label="Status"
          value={draft.status}
          onChange={(event) => setDraft({ ...draft, status: event.target.value })}
        >
          <option value="">Any status</option>
          {STATUSES.map((status) => (
            <option key={status} value={status}>
              {status.replaceAll('_', ' ')}
            </option>
          ))}
        </select>
        <input
          placeholder="Agent"
          aria-label="Agent"
          value={draft.agent}
          onChange={(event) => setDraft({ ...draft, agent: event.target.value })}
        />
        <input
          placeholder="Requester"
          aria-label="Requester"
          value={draft.requester}
          onChange={(event) => setDraft({ ...draft, requester: event.target.value })}
        />
        <button type="submit">Apply</button>
        <button
          type="button"
          className="secondary"
          onClick={() => {
            setDraft(NO_FILTERS);
            setFilters(NO_FILTERS);
          }}
        >
          Clear
        </button>
      </form>
      {error !== null && <ErrorBox error={error} title="The run list could not be loaded" />}
      {items === null && error === null && <p className="loading">Loading runs…</p>}
      {items !== null && items.length === 0 && (
        <div className="empty">
          <p>No runs{filters === NO_FILTERS ? ' yet' : ' match these filters'}.</p>
          <a href={href({ page: 'new' })}>Start one</a>
        </div>
      )}
      {items !== null && items.length > 0 && (
        <table className="runs">
          <thead>
            <tr>
              <th>Status</th>
              <th>Task</th>
              <th className="narrow-hide">Agent</th>
              <th className="wide">Repository</th>
              <th className="narrow-hide">Requester</th>
              <th>Age</th>
              <th className="narrow-hide">Duration</th>
              <th className="narrow-hide">Decision</th>
            </tr>
          </thead>
          <tbody>
            {items.map((item) => (
              <tr key={item.id} data-session={item.id}>
                <td>
                  <StatusBadge status={item.status} code={item.reasonCode} />
                </td>
                <td className="task">
                  <a href={href({ page: 'run', sessionId: item.id, tab: 'timeline' })}>
                    {item.task}
                  </a>
                </td>
                <td className="narrow-hide">{item.agent}</td>
                <td className="wide mono">{item.repo}</td>
                <td className="narrow-hide">{item.requestedBy}</td>
                <td title={item.createdAt}>{age(item.createdAt, now)}</td>
                <td className="narrow-hide">
                  {shortDuration(
                    (isTerminal(item.status) ? Date.parse(item.updatedAt) : now) -
                      Date.parse(item.createdAt),
                  )}
                </td>
                <td className="mono narrow-hide">{item.reasonCode ?? '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {nextCursor !== null && (
        <button type="button" className="secondary more" onClick={loadMore} disabled={loadingMore}>
          {loadingMore ? 'Loading…' : 'Load more'}
        </button>
      )}
    </section>
  );
}
