import { type KeyboardEvent, useCallback, useEffect, useMemo, useRef, useState } from 'react';
import {
  type ApiError,
  api,
  asApiError,
  type Identity,
  type RunDetail,
  type SessionDetail,
  type StoredEvent,
} from '../api';
import { AuditPanel } from '../components/audit-panel';
import { CancelRun } from '../components/cancel-run';
import { DiffView } from '../components/diff-view';
import { ErrorBox } from '../components/error-box';
import { GatesPanel } from '../components/gates-panel';
import { LiveBadge } from '../components/live-badge';
import { LogsPanel } from '../components/logs-panel';
import { PolicyPanel } from '../components/policy-panel';
import { PromotionPanel } from '../components/promotion-panel';
import { StatusBadge } from '../components/status-badge';
import { Timeline } from '../components/timeline';
import { dollars, shortDuration } from '../format';
import { href } from '../router';
import { type StreamState, streamEvents } from '../sse';

const TABS = [
  ['timeline', 'Timeline'],
  ['diff', 'Diff'],
  ['policy', 'Policy'],
  ['gates', 'Gates'],
  ['logs', 'Logs'],
  ['promotion', 'Approve & promote'],
  ['audit', 'Audit'],
] as const;

/** Events after which the run's record (status, attempts, logs, patch) has changed. */
const REFRESHING = /^(run\.|gate\.|patch\.|artifact\.|approval\.|promotion\.)/;

export function RunPage({
  sessionId,
  tab,
  identity,
}: {
  sessionId: string;
  tab: string;
  identity: Identity;
}) {
  const [session, setSession] = useState<SessionDetail | null>(null);
  const [run, setRun] = useState<RunDetail | null>(null);
  const [events, setEvents] = useState<StoredEvent[]>([]);
  /** A first load that failed: the page has nothing to show. */
  const [error, setError] = useState<ApiError | null>(null);
  /** A later refresh that failed: shown above what is still on screen, cleared by the next. */
  const [stale, setStale] = useState<ApiError | null>(null);
  const [live, setLive] = useState<StreamState | 'off'>('off');
  /** Times the stream came back after losing the server: what failed meanwhile is read again. */
  const [reconnects, setReconnects] = useState(0);
  const loaded = useRef(false);
  const lastState = useRef<StreamState | 'off'>('off');

  const refresh = useCallback(async () => {
    const fail = (problem: ApiError) => (loaded.current ? setStale(problem) : setError(problem));
    const found = await api.GET('/api/v1/sessions/{id}', { params: { path: { id: sessionId } } });
    if (!found.data) {
      fail(asApiError(found.error, found.response.status));
      return;
    }
    setSession(found.data);
    const latest = found.data.runs.at(-1);
    if (latest === undefined) return;
    const detail = await api.GET('/api/v1/runs/{id}', { params: { path: { id: latest.id } } });
    if (!detail.data) {
      fail(asApiError(detail.error, detail.response.status));
      return;
    }
    setRun(detail.data);
    loaded.current = true;
    setStale(null);
  }, [sessionId]);

  // biome-ignore lint/correctness/useExhaustiveDependencies: a reconnect reloads the run
  useEffect(() => {
    refresh().catch(() =>
      loaded.current ? setStale(asApiError(null)) : setError(asApiError(null)),
    );
  }, [refresh, reconnects]);

  // The session's history, live: the stream replays it from the start, then follows.
  useEffect(() => {
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    void streamEvents(
      `/api/v1/sessions/${encodeURIComponent(sessionId)}/events/stream`,
      (message) => {
        let event: StoredEvent;
        try {
          event = JSON.parse(message.data) as StoredEvent;
        } catch {
          return;
        }
        // The stream sends seqs in order and never twice; a replay after a reconnect starts
        // after the last one received, so anything at or below it is a duplicate.
        setEvents((previous) =>
          (previous.at(-1)?.seq ?? 0) >= event.seq ? previous : [...previous, event],
        );
        if (REFRESHING.test(event.type)) {
          clearTimeout(timer);
          timer = setTimeout(() => refresh().catch(() => undefined), 150);
        }
      },
      controller.signal,
      (state) => {
        if (state === 'live' && lastState.current === 'reconnecting') {
          setReconnects((count) => count + 1);
        }
        lastState.current = state;
        setLive(state);
      },
    );
    return () => {
      clearTimeout(timer);
      controller.abort();
    };
  }, [sessionId, refresh]);

  const runRecord = run?.run ?? null;
  const patchFiles = useMemo(() => latestPatch(events), [events]);
  // The same array for as long as the patch is the same: the policy view refetches on change only.
  const patchPaths = useMemo(() => patchFiles?.files.map((file) => file.path) ?? [], [patchFiles]);
  // A refused preflight explains the last attempt only until a decision changes what it checked.
  const preflight = useMemo(() => {
    const latest = latestOf(events, 'promotion.preflight');
    const decided = events.findLast((event) => event.type.startsWith('approval.'));
    return latest !== undefined && (decided === undefined || decided.seq < latest.seq)
      ? latest
      : undefined;
  }, [events]);
  const decisionsSeq = useMemo(
    () => events.findLast((event) => /^(approval|promotion)\./.test(event.type))?.seq ?? 0,
    [events],
  );

  if (error !== null) return <ErrorBox error={error} title="This run could not be loaded" />;
  const staleBanner =
    stale === null ? null : <ErrorBox error={stale} title="Showing what was last loaded" />;
  if (session === null) return <p className="loading">Loading run…</p>;

  const knownTab = TABS.some(([id]) => id === tab);
  /** Left and right arrows, Home and End: the next view is opened and its tab focused. */
  function moveBetweenTabs(event: KeyboardEvent<HTMLDivElement>) {
    // Alt+Left is the browser's Back, and the like: only the bare keys move between tabs.
    if (event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return;
    const at = TABS.findIndex(([id]) => id === tab);
    const last = TABS.length - 1;
    const next =
      event.key === 'ArrowRight'
        ? at >= last
          ? 0
          : at + 1
        : event.key === 'ArrowLeft'
          ? at <= 0
            ? last
            : at - 1
          : event.key === 'Home'
            ? 0
            : event.key === 'End'
              ? last
              : null;
    const target = next === null ? undefined : TABS[next];
    if (target === undefined) return;
    event.preventDefault();
    window.location.hash = href({ page: 'run', sessionId, tab: target[0] });
    document.getElementById(`tab-${target[0]}`)?.focus();
  }
  const status = runRecord?.status ?? session.session.status;
  const started = Date.parse(session.session.createdAt);
  const ended = runRecord?.finishedAt ? Date.parse(runRecord.finishedAt) : null;
  return (
    <section>
      {staleBanner}
      <nav className="crumbs" aria-label="Breadcrumb">
        <a href={href({ page: 'runs' })}>Runs</a> / <span className="mono">{sessionId}</span>
      </nav>
      <div className="page-head">
        <h1 className="task-title">{session.session.task}</h1>
        <StatusBadge status={status} code={runRecord?.reasonCode ?? null} />
        <LiveBadge state={live} />
      </div>
      {runRecord !== null && (
        <CancelRun run={runRecord} identity={identity} onChange={() => void refresh()} />
      )}
      <dl className="facts">
        <dt>Agent</dt>
        <dd>{session.session.agent}</dd>
        <dt>Repository</dt>
        <dd className="mono">{session.session.repo}</dd>
        <dt>Requested by</dt>
        <dd>{session.session.requestedBy}</dd>
        <dt>Base</dt>
        <dd className="mono">{runRecord?.baseCommit?.slice(0, 12) ?? '—'}</dd>
        <dt>Duration</dt>
        <dd>{ended === null ? 'running' : shortDuration(ended - started)}</dd>
        <dt>Decision</dt>
        <dd>
          {runRecord?.reasonCode ?? '—'}
          {runRecord?.reasonDetail ? (
            <span className="detail"> — {runRecord.reasonDetail}</span>
          ) : null}
        </dd>
        <dt>Model spend</dt>
        <dd>
          {run
            ? `${dollars(run.spend.costUsd)} · ${run.spend.calls} call${run.spend.calls === 1 ? '' : 's'} · ${run.spend.inputTokens} in / ${run.spend.outputTokens} out tokens`
            : '—'}
        </dd>
      </dl>
      <div className="tabs" role="tablist" aria-label="Run views" onKeyDown={moveBetweenTabs}>
        {TABS.map(([id, label]) => (
          <a
            key={id}
            id={`tab-${id}`}
            role="tab"
            aria-selected={tab === id}
            aria-controls="run-view"
            // One stop in the Tab order; the arrow keys move between the views (WAI-ARIA tabs).
            tabIndex={tab === id || (!knownTab && id === 'timeline') ? 0 : -1}
            href={href({ page: 'run', sessionId, tab: id })}
          >
            {label}
          </a>
        ))}
      </div>
      <div
        className="tab-body"
        id="run-view"
        role="tabpanel"
        aria-labelledby={knownTab ? `tab-${tab}` : undefined}
      >
        {tab === 'timeline' && (
          <Timeline events={events} finished={(runRecord?.finishedAt ?? null) !== null} />
        )}
        {tab === 'diff' && runRecord !== null && (
          <DiffView
            runId={runRecord.id}
            patchSha256={runRecord.patchSha256}
            files={patchFiles}
            finished={runRecord.finishedAt !== null}
          />
        )}
        {tab === 'policy' && runRecord !== null && (
          <PolicyPanel runId={runRecord.id} paths={patchPaths} />
        )}
        {tab === 'gates' && <GatesPanel events={events} />}
        {tab === 'logs' && run !== null && <LogsPanel runId={run.run.id} logs={run.logs} />}
        {tab === 'promotion' && run !== null && (
          <PromotionPanel
            run={run}
            requestedBy={session.session.requestedBy}
            identity={identity}
            preflight={preflight?.data as PreflightData | undefined}
            reloadKey={`${decisionsSeq}:${reconnects}`}
            onChange={() => void refresh()}
          />
        )}
        {tab === 'audit' && <AuditPanel sessionId={sessionId} />}
        {!knownTab && (
          <p className="empty">
            There is no “{tab}” view of a run; the tabs above are the ones there are.
          </p>
        )}
        {runRecord === null && tab !== 'timeline' && tab !== 'audit' && tab !== 'gates' && (
          <p className="loading">Loading…</p>
        )}
      </div>
    </section>
  );
}

export interface PatchFiles {
  readonly files: readonly { path: string; status: string; binary: boolean }[];
  readonly runtimeDropped: readonly { path: string; layer: string; rule: string }[];
}

export interface PreflightData {
  readonly ok: boolean;
  readonly mode: string;
  readonly checks: readonly { name: string; ok: boolean; detail: string }[];
}

function latestOf(events: readonly StoredEvent[], type: string): StoredEvent | undefined {
  return events.findLast((event) => event.type === type);
}

/** What the last `patch.computed` event says about the files: status, binary, dropped. */
function latestPatch(events: readonly StoredEvent[]): PatchFiles | null {
  return (latestOf(events, 'patch.computed')?.data as PatchFiles | undefined) ?? null;
}
