import { useEffect, useState } from 'react';

/**
 * Hash routes (`#/runs/ses_…`): the server only ever serves index.html and assets, and a
 * reload or a shared link lands on the same page.
 */
export type Route =
  | { readonly page: 'runs' }
  | { readonly page: 'new' }
  | { readonly page: 'run'; readonly sessionId: string; readonly tab: string }
  | { readonly page: 'approvals' }
  | { readonly page: 'workers' };

export function parseRoute(hash: string): Route {
  const parts = hash
    .replace(/^#\/?/, '')
    .split('/')
    .filter(Boolean)
    .map((part) => {
      try {
        return decodeURIComponent(part);
      } catch {
        // A malformed escape in a hand-edited URL: keep the raw text, the page says not found.
        return part;
      }
    });
  switch (parts[0]) {
    case 'new':
      return { page: 'new' };
    case 'approvals':
      return { page: 'approvals' };
    case 'workers':
      return { page: 'workers' };
    case 'runs':
      if (parts[1] !== undefined) {
        return { page: 'run', sessionId: parts[1], tab: parts[2] ?? 'timeline' };
      }
      return { page: 'runs' };
    default:
      return { page: 'runs' };
  }
}

export function href(route: Route): string {
  switch (route.page) {
    case 'run':
      return `#/runs/${encodeURIComponent(route.sessionId)}/${route.tab}`;
    case 'runs':
      return '#/runs';
    default:
      return `#/${route.page}`;
  }
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseRoute(window.location.hash));
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}
