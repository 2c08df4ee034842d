import { useCallback, useEffect, useRef, useState } from 'react';
import { api, asApiError, canSubmit, type Identity, whenUnauthorized } from './api';
import { clearToken, readToken } from './auth';
import { ApprovalsPage } from './pages/approvals-page';
import { NewRunPage } from './pages/new-run-page';
import { RunIdRedirect } from './pages/run-id-redirect';
import { RunPage } from './pages/run-page';
import { RunsPage } from './pages/runs-page';
import { SignInPage } from './pages/sign-in-page';
import { WorkersPage } from './pages/workers-page';
import { href, NO_RUN_FILTERS, type Route, useRoute } from './router';

/** The document's title for a route: tabs, history and screen readers tell pages apart. */
function titleOf(route: Route): string {
  switch (route.page) {
    case 'runs':
      return 'Runs';
    case 'new':
      return 'New run';
    case 'run':
      return `Run ${route.sessionId} · ${route.tab}`;
    case 'approvals':
      return 'Approvals';
    case 'workers':
      return 'Workers & schedules';
  }
}

export function App() {
  const route = useRoute();
  const main = useRef<HTMLElement>(null);
  const pageKey = route.page === 'run' ? `run:${route.sessionId}` : route.page;
  useEffect(() => {
    document.title = `${titleOf(route)} · AAS panel`;
  }, [route]);

  const [identity, setIdentity] = useState<Identity | null>(null);
  const [checking, setChecking] = useState(() => readToken() !== null);
  const [notice, setNotice] = useState<string | null>(null);
  const shown = identity !== null;
  // On another page (not another tab of the same run) and once signed in, focus moves to the
  // page's content, so a keyboard or screen-reader user starts there, not at the document's top.
  // biome-ignore lint/correctness/useExhaustiveDependencies: pageKey says when the page changed
  useEffect(() => {
    if (shown) main.current?.focus({ preventScroll: true });
  }, [pageKey, shown]);

  const signOut = useCallback((message: string | null) => {
    clearToken();
    setIdentity(null);
    setNotice(message);
  }, []);

  // A token refused while signed in signs out; one refused at sign-in is the form's to explain.
  const signedIn = useRef(false);
  signedIn.current = identity !== null;
  useEffect(
    () =>
      whenUnauthorized(() => {
        if (signedIn.current) signOut('The server no longer accepts this token. Sign in again.');
      }),
    [signOut],
  );

  // A token kept from earlier in this tab is checked once; a refused one signs out.
  useEffect(() => {
    if (readToken() === null) return;
    api
      .GET('/api/v1/whoami')
      .then(({ data, error, response }) => {
        if (data) setIdentity(data);
        else if (response.status === 401) {
          clearToken();
          setNotice('The server no longer accepts this token. Sign in again.');
        } else setNotice(asApiError(error, response.status).message);
      })
      .catch(() => setNotice('The server could not be reached.'))
      .finally(() => setChecking(false));
  }, []);

  if (checking) return <p className="loading page">Checking your token…</p>;
  if (identity === null) {
    return (
      <SignInPage
        notice={notice}
        onSignedIn={(who) => {
          setNotice(null);
          setIdentity(who);
        }}
      />
    );
  }

  const nav = [
    {
      label: 'Runs',
      target: href({ page: 'runs' }),
      active: route.page === 'runs' || route.page === 'run',
    },
    ...(canSubmit(identity)
      ? [{ label: 'New run', target: href({ page: 'new' }), active: route.page === 'new' }]
      : []),
    { label: 'Approvals', target: href({ page: 'approvals' }), active: route.page === 'approvals' },
    {
      label: 'Workers & schedules',
      target: href({ page: 'workers' }),
      active: route.page === 'workers',
    },
  ];
  return (
    <div className="shell">
      <header className="topbar">
        <a className="brand" href={href({ page: 'runs' })}>
          AAS
        </a>
        <nav aria-label="Main">
          {nav.map((item) => (
            <a key={item.label} href={item.target} aria-current={item.active ? 'page' : undefined}>
              {item.label}
            </a>
          ))}
        </nav>
        <span className="who" title={`token ${identity.tokenId}`}>
          {identity.name} <span className="role">{identity.role}</span>
        </span>
        <button type="button" className="link" onClick={() => signOut(null)}>
          Sign out
        </button>
      </header>
      <main ref={main} tabIndex={-1}>
        {route.page === 'runs' && (
          <RunsPage canSubmit={canSubmit(identity)} filters={route.filters ?? NO_RUN_FILTERS} />
        )}
        {route.page === 'new' &&
          (canSubmit(identity) ? (
            <NewRunPage />
          ) : (
            <p className="notice" role="status">
              Your role ({identity.role}) cannot submit runs; an operator or an admin can.
            </p>
          ))}
        {route.page === 'run' && route.sessionId.startsWith('run_') && (
          <RunIdRedirect key={route.sessionId} runId={route.sessionId} tab={route.tab} />
        )}
        {route.page === 'run' && !route.sessionId.startsWith('run_') && (
          <RunPage
            key={route.sessionId}
            sessionId={route.sessionId}
            tab={route.tab}
            identity={identity}
          />
        )}
        {route.page === 'approvals' && <ApprovalsPage identity={identity} />}
        {route.page === 'workers' && <WorkersPage identity={identity} />}
      </main>
    </div>
  );
}
