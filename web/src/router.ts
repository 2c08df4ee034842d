import { useEffect, useState } from 'react';

/**
 * Hash routes (`#/runs/ses_…`): the server only ever serves index.html and assets, and a
 * reload or a shared link lands on the same page.
 */
/** The run list's filters, kept in the URL so that Back, a reload and a shared link keep them. */
export interface RunFilters {
  readonly q: string;
  readonly status: string;
  readonly agent: string;
  readonly requester: string;
}

export const NO_RUN_FILTERS: RunFilters = { q: '', status: '', agent: '', requester: '' };
const FILTER_KEYS = ['q', 'status', 'agent', 'requester'] as const;

export type Route =
  | { readonly page: 'runs'; readonly filters?: RunFilters }
  | { readonly page: 'new' }
  | { readonly page: 'run'; readonly sessionId: string; readonly tab: string }
  | { readonly page: 'approvals' }
  | { readonly page: 'workers' };

export function parseRoute(hash: string): Route {
  const whole = hash.replace(/^#\/?/, '');
  const queryAt = whole.indexOf('?');
  const path = queryAt === -1 ? whole : whole.slice(0, queryAt);
  const search = new URLSearchParams(queryAt === -1 ? '' : whole.slice(queryAt + 1));
  const parts = path
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
      return { page: 'runs', filters: filtersOf(search) };
    default:
      return { page: 'runs' };
  }
}

function filtersOf(search: URLSearchParams): RunFilters {
  const filters: Record<(typeof FILTER_KEYS)[number], string> = { ...NO_RUN_FILTERS };
  for (const key of FILTER_KEYS) filters[key] = search.get(key)?.trim() ?? '';
  return filters;
}

/** Whether two sets of filters ask the same question. */
export function sameFilters(a: RunFilters, b: RunFilters): boolean {
  return FILTER_KEYS.every((key) => a[key] === b[key]);
}

export function href(route: Route): string {
  switch (route.page) {
    case 'run':
      return `#/runs/${encodeURIComponent(route.sessionId)}/${route.tab}`;
    case 'runs': {
      const search = new URLSearchParams();
      for (const key of FILTER_KEYS) {
        const value = route.filters?.[key] ?? '';
        if (value !== '') search.set(key, value);
      }
      const query = search.toString();
      return query === '' ? '#/runs' : `#/runs?${query}`;
    }
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
