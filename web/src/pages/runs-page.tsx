import { type FormEvent, useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { type ApiError, api, asApiError, type RunStatus, type SessionItem } from '../api';
import { ErrorBox } from '../components/error-box';
import { LiveBadge } from '../components/live-badge';
import { StatusBadge } from '../components/status-badge';
import { age } from '../format';
import { href, NO_RUN_FILTERS, type RunFilters, sameFilters } from '../router';
import { type StreamState, streamEvents } from '../sse';
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

const PAGE_SIZE = 50;

/**
 * The run list: filters (from the URL: Apply navigates, so Back returns to the filtered list),
 * search, cursor paging, and live updates from the server's feed.
 */
export function RunsPage({
  canSubmit,
  filters: routeFilters,
}: {
  readonly canSubmit: boolean;
  readonly filters: RunFilters;
}) {
  // The same object while the URL asks the same question: a new one would reload the list.
  const filterKey = href({ page: 'runs', filters: routeFilters });
  // biome-ignore lint/correctness/useExhaustiveDependencies: filterKey stands for routeFilters
  const filters = useMemo(() => routeFilters, [filterKey]);
  const [draft, setDraft] = useState<RunFilters>(filters);
  useEffect(() => setDraft(filters), [filters]);
  const [items, setItems] = useState<SessionItem[] | null>(null);
  const [nextCursor, setNextCursor] = useState<string | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [live, setLive] = useState<StreamState | 'off'>('off');
  const [loadingMore, setLoadingMore] = useState(false);
  const now = useNow();
  // Bumped when the filters change: answers to an older question are dropped.
  const generation = useRef(0);
  const pagesLoaded = useRef(0);
  // What is on screen, for the stream handler (a state updater runs later, not in place).
  const shownItems = useRef<SessionItem[] | null>(null);
  useEffect(() => {
    shownItems.current = items;
  }, [items]);

  const query = useCallback(
    (cursor: string | null) => ({
      limit: PAGE_SIZE,
      ...(cursor === null ? {} : { cursor }),
      ...(filters.q ? { q: filters.q } : {}),
      ...(filters.status ? { status: filters.status as RunStatus } : {}),
      ...(filters.agent ? { agent: filters.agent } : {}),
      ...(filters.requester ? { requester: filters.requester } : {}),
    }),
    [filters],
  );

  /**
   * (Re)reads the first page and puts it in front of what is already shown: rows further down
   * (older, loaded with "Load more") stay, so a live update never loses the user's place.
   */
  const loadFirstPage = useCallback(async (): Promise<void> => {
    const asked = generation.current;
    const {
      data,
      error: failure,
      response,
    } = await api.GET('/api/v1/sessions', {
      params: { query: query(null) },
    });
    if (asked !== generation.current) return;
    if (!data) {
      setError(asApiError(failure, response.status));
      return;
    }
    setError(null);
    const first = data.items;
    const oldest = first.at(-1)?.id;
    setItems((previous) => {
      if (previous === null || pagesLoaded.current <= 1 || oldest === undefined) return first;
      const seen = new Set(first.map((item) => item.id));
      return [...first, ...previous.filter((item) => !seen.has(item.id) && item.id < oldest)];
    });
    if (pagesLoaded.current <= 1) setNextCursor(data.nextCursor);
    pagesLoaded.current = Math.max(1, pagesLoaded.current);
  }, [query]);

  useEffect(() => {
    generation.current += 1;
    pagesLoaded.current = 0;
    setItems(null);
    setNextCursor(null);
    loadFirstPage().catch(() => setError(asApiError(null)));
  }, [loadFirstPage]);

  // Each frame carries the changed session's list item: a row on screen is replaced in place;
  // one that is not (a new run) brings a reload of the first page, at most once a second. A
  // (re)connected stream reloads too, and so does a `resync` frame (the server may have missed
  // changes): the feed does not replay what happened meanwhile.
  useEffect(() => {
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const reloadSoon = () => {
      if (timer !== undefined) return;
      timer = setTimeout(() => {
        timer = undefined;
        loadFirstPage().catch(() => undefined);
      }, 1_000);
    };
    void streamEvents(
      '/api/v1/stream',
      (message) => {
        if (message.event === 'resync') {
          // Rows of later pages may be stale too: back to the first page alone.
          pagesLoaded.current = 1;
          reloadSoon();
          return;
        }
        let changed: SessionItem;
        try {
          changed = JSON.parse(message.data) as SessionItem;
        } catch {
          return;
        }
        if (shownItems.current?.some((item) => item.id === changed.id)) {
          setItems(
            (previous) =>
              previous?.map((item) => (item.id === changed.id ? changed : item)) ?? previous,
          );
        } else reloadSoon();
      },
      controller.signal,
      (state) => {
        setLive(state);
        if (state === 'live') loadFirstPage().catch(() => undefined);
      },
    );
    return () => {
      clearTimeout(timer);
      controller.abort();
    };
  }, [loadFirstPage]);

  function applyFilters(event: FormEvent) {
    event.preventDefault();
    window.location.hash = href({ page: 'runs', filters: draft });
  }
  const filtered = !sameFilters(filters, NO_RUN_FILTERS);

  async function loadMore() {
    if (nextCursor === null) return;
    const asked = generation.current;
    setLoadingMore(true);
    try {
      const {
        data,
        error: failure,
        response,
      } = await api.GET('/api/v1/sessions', {
        params: { query: query(nextCursor) },
      });
      if (asked !== generation.current) return;
      if (!data) {
        setError(asApiError(failure, response.status));
        return;
      }
      pagesLoaded.current += 1;
      setItems((previous) => {
        const seen = new Set((previous ?? []).map((item) => item.id));
        return [...(previous ?? []), ...data.items.filter((item) => !seen.has(item.id))];
      });
      setNextCursor(data.nextCursor);
    } catch {
      setError(asApiError(null));
    } finally {
      setLoadingMore(false);
    }
  }

  return (
    <section>
      <div className="page-head">
        <h1>Runs</h1>
        <LiveBadge state={live} />
        {canSubmit && (
          <a className="button" href={href({ page: 'new' })}>
            New run
          </a>
        )}
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
            setDraft(NO_RUN_FILTERS);
            window.location.hash = href({ page: 'runs' });
          }}
        >
          Clear
        </button>
      </form>
      {error !== null && <ErrorBox error={error} title="The run list could not be loaded" />}
      {items === null && error === null && <p className="loading">Loading runs…</p>}
      {items !== null && items.length === 0 && (
        <div className="empty">
          <p>No runs{filtered ? ' match these filters' : ' yet'}.</p>
          {filtered ? (
            <a href={href({ page: 'runs' })}>Show all runs</a>
          ) : (
            canSubmit && <a href={href({ page: 'new' })}>Start one</a>
          )}
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
              <th className="narrow-hide">Last change</th>
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
                  <span className="narrow-show hint">
                    {item.agent} · {item.requestedBy} · changed {age(item.updatedAt, now)}
                    {item.reasonCode ? ` · ${item.reasonCode}` : ''}
                  </span>
                </td>
                <td className="narrow-hide">{item.agent}</td>
                <td className="wide mono">{item.repo}</td>
                <td className="narrow-hide">{item.requestedBy}</td>
                <td title={item.createdAt}>{age(item.createdAt, now)}</td>
                <td className="narrow-hide" title={item.updatedAt}>
                  {age(item.updatedAt, now)}
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
