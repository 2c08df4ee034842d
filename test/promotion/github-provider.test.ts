import {
  createServer,
  type IncomingHttpHeaders,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type AasError, isAasError } from '../../src/kernel/index.js';
import type { DraftPrRequest } from '../../src/promotion/draft-pr-provider.js';
import { createGitHubProvider } from '../../src/promotion/github-provider.js';

/**
 * A real HTTP server standing in for the two GitHub endpoints the provider uses, so the tests
 * exercise octokit's actual URL building, headers, JSON and error handling end to end.
 */

const TOKEN = 'ghp_TestToken0123456789abcdefABCDEF';
const USER_AGENT = 'aas-test/1.0';

interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
  readonly body: unknown;
}

interface StoredPull {
  number: number;
  state: 'open' | 'closed';
  draft: boolean;
  title: string;
  body: string;
  head: string;
  headOwner: string;
  base: string;
}

interface Reply {
  readonly status: number;
  readonly body: unknown;
}

/** Returns a reply to send instead, 'hang' to never answer, or undefined to behave like GitHub. */
type Intercept = (request: RecordedRequest, fake: FakeGitHub) => Reply | 'hang' | undefined;

interface FakeGitHub {
  readonly origin: string;
  readonly requests: RecordedRequest[];
  readonly pulls: Map<string, StoredPull[]>;
  intercept: Intercept | undefined;
  addPull(repoKey: string, pull: Omit<StoredPull, 'number'>): StoredPull;
  close(): Promise<void>;
}

const ROUTE = /^(?:\/api\/v3)?\/repos\/([^/]+)\/([^/]+)\/pulls$/;

function toGitHubPull(origin: string, owner: string, repo: string, pull: StoredPull) {
  return {
    number: pull.number,
    html_url: `${origin}/${owner}/${repo}/pull/${pull.number}`,
    state: pull.state,
    draft: pull.draft,
    title: pull.title,
    body: pull.body,
    head: { ref: pull.head, label: `${pull.headOwner}:${pull.head}` },
    base: { ref: pull.base, label: `${owner}:${pull.base}` },
  };
}

function send(response: ServerResponse, reply: Reply): void {
  response.writeHead(reply.status, { 'content-type': 'application/json; charset=utf-8' });
  response.end(JSON.stringify(reply.body));
}

function readBody(request: AsyncIterable<Buffer>): Promise<string> {
  return (async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk);
    return Buffer.concat(chunks).toString('utf8');
  })();
}

async function startFakeGitHub(): Promise<FakeGitHub> {
  const requests: RecordedRequest[] = [];
  const pulls = new Map<string, StoredPull[]>();
  let nextNumber = 1;
  const server: Server = createServer((request, response) => {
    void (async () => {
      const url = new URL(request.url ?? '/', 'http://127.0.0.1');
      const text = await readBody(request);
      const recorded: RecordedRequest = {
        method: request.method ?? '',
        path: url.pathname,
        query: url.searchParams,
        headers: request.headers,
        body: text === '' ? undefined : (JSON.parse(text) as unknown),
      };
      requests.push(recorded);

      const intercepted = self.intercept?.(recorded, self);
      if (intercepted === 'hang') return;
      if (intercepted !== undefined) return send(response, intercepted);

      const match = ROUTE.exec(url.pathname);
      const [, owner, repo] = match ?? [];
      if (owner === undefined || repo === undefined)
        return send(response, { status: 404, body: { message: 'Not Found' } });
      const key = `${owner}/${repo}`;
      const stored = pulls.get(key) ?? [];

      if (request.method === 'GET') {
        const head = url.searchParams.get('head');
        const state = url.searchParams.get('state') ?? 'open';
        const listed = stored
          .filter((pull) => head === null || `${pull.headOwner}:${pull.head}` === head)
          .filter((pull) => state === 'all' || pull.state === state)
          .sort((a, b) => b.number - a.number);
        return send(response, {
          status: 200,
          body: listed.map((pull) => toGitHubPull(self.origin, owner, repo, pull)),
        });
      }
      if (request.method === 'POST') {
        const body = recorded.body as Record<string, unknown>;
        const head = String(body.head);
        if (
          stored.some(
            (pull) => pull.head === head && pull.headOwner === owner && pull.state === 'open',
          )
        )
          return send(response, {
            status: 422,
            body: {
              message: 'Validation Failed',
              errors: [
                {
                  resource: 'PullRequest',
                  code: 'custom',
                  message: `A pull request already exists for ${owner}:${head}.`,
                },
              ],
              documentation_url: 'https://docs.github.com/rest/pulls/pulls#create-a-pull-request',
            },
          });
        const pull = self.addPull(key, {
          state: 'open',
          draft: body.draft === true,
          title: String(body.title),
          body: String(body.body),
          head,
          headOwner: owner,
          base: String(body.base),
        });
        return send(response, { status: 201, body: toGitHubPull(self.origin, owner, repo, pull) });
      }
      return send(response, { status: 405, body: { message: 'Method Not Allowed' } });
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const self: FakeGitHub = {
    origin: `http://127.0.0.1:${port}`,
    requests,
    pulls,
    intercept: undefined,
    addPull(repoKey, pull) {
      const stored = { ...pull, number: nextNumber++ };
      pulls.set(repoKey, [...(pulls.get(repoKey) ?? []), stored]);
      return stored;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        // Hung requests keep their sockets open; drop them so close() can finish.
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
  return self;
}

const REQUEST: DraftPrRequest = {
  owner: 'acme',
  repo: 'widgets',
  head: 'aas/run_01',
  base: 'main',
  title: 'Fix the widget',
  body: 'Promoted by AAS.\n\nGates: all passed.',
};

async function failure(promise: Promise<unknown>): Promise<AasError> {
  try {
    await promise;
  } catch (error) {
    if (isAasError(error)) return error;
    throw error;
  }
  throw new Error('expected the promise to reject');
}

function expectNoToken(error: AasError): void {
  expect(error.message).not.toContain(TOKEN);
  expect(error.describe()).not.toContain(TOKEN);
  expect(JSON.stringify(error.toJSON())).not.toContain(TOKEN);
}

let fake: FakeGitHub;
const fakes: FakeGitHub[] = [];

async function fresh(): Promise<FakeGitHub> {
  fake = await startFakeGitHub();
  fakes.push(fake);
  return fake;
}

afterEach(async () => {
  await Promise.all(fakes.splice(0).map((server) => server.close()));
});

function provider(overrides: { baseUrl?: string; timeoutMs?: number; token?: string } = {}) {
  return createGitHubProvider({
    token: overrides.token ?? TOKEN,
    baseUrl: overrides.baseUrl ?? fake.origin,
    userAgent: USER_AGENT,
    ...(overrides.timeoutMs !== undefined && { timeoutMs: overrides.timeoutMs }),
  });
}

describe('createGitHubProvider', () => {
  it('lists by head, then creates a draft pull request with the token and user agent', async () => {
    await fresh();
    const pr = await provider().openDraftPr(REQUEST);

    expect(pr).toEqual({
      number: 1,
      url: `${fake.origin}/acme/widgets/pull/1`,
      created: true,
    });
    expect(fake.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'GET /repos/acme/widgets/pulls',
      'POST /repos/acme/widgets/pulls',
    ]);
    const [list, create] = fake.requests;
    expect(list?.query.get('head')).toBe('acme:aas/run_01');
    expect(list?.query.get('state')).toBe('all');
    expect(create?.body).toEqual({
      head: 'aas/run_01',
      base: 'main',
      title: 'Fix the widget',
      body: 'Promoted by AAS.\n\nGates: all passed.',
      draft: true,
    });
    for (const request of fake.requests) {
      expect(request.headers.authorization).toBe(`token ${TOKEN}`);
      expect(request.headers['user-agent']).toMatch(/^aas-test\/1\.0 /);
      expect(request.headers['x-github-api-version']).toBe('2022-11-28');
    }
    expect(fake.pulls.get('acme/widgets')?.[0]?.draft).toBe(true);
  });

  it('returns the existing pull request for the head without a second POST', async () => {
    await fresh();
    const github = provider();
    const first = await github.openDraftPr(REQUEST);
    const second = await github.openDraftPr(REQUEST);

    expect(first.created).toBe(true);
    expect(second).toEqual({ number: first.number, url: first.url, created: false });
    expect(fake.requests.filter((r) => r.method === 'POST')).toHaveLength(1);
    expect(fake.requests.filter((r) => r.method === 'GET')).toHaveLength(2);
  });

  it('finds a pull request another provider instance opened (a retried promotion)', async () => {
    await fresh();
    const first = await provider().openDraftPr(REQUEST);
    const second = await provider().openDraftPr(REQUEST);
    expect(second).toEqual({ ...first, created: false });
  });

  it('prefers the open pull request for the head and still reports a closed one', async () => {
    await fresh();
    const base = { draft: true, title: 't', body: 'b', head: REQUEST.head, headOwner: 'acme' };
    fake.addPull('acme/widgets', { ...base, state: 'closed', base: 'main' });
    const open = fake.addPull('acme/widgets', { ...base, state: 'open', base: 'main' });
    fake.addPull('acme/widgets', { ...base, state: 'closed', base: 'main' });

    const pr = await provider().openDraftPr(REQUEST);
    expect(pr).toEqual({ number: open.number, url: expect.any(String), created: false });

    await fresh();
    const closed = fake.addPull('acme/widgets', { ...base, state: 'closed', base: 'main' });
    const onlyClosed = await provider().openDraftPr(REQUEST);
    expect(onlyClosed).toMatchObject({ number: closed.number, created: false });
    expect(fake.requests.filter((r) => r.method === 'POST')).toHaveLength(0);
  });

  it('ignores pull requests for other heads even when the head filter is not honoured', async () => {
    await fresh();
    const other = fake.addPull('acme/widgets', {
      state: 'open',
      draft: false,
      title: 'other',
      body: '',
      head: 'feature/other',
      headOwner: 'acme',
      base: 'main',
    });
    const fork = fake.addPull('acme/widgets', {
      state: 'open',
      draft: false,
      title: 'fork',
      body: '',
      head: REQUEST.head,
      headOwner: 'someone-else',
      base: 'main',
    });
    // Like GitHub with a filter it cannot parse: every pull request in the repository.
    fake.intercept = (request, server) =>
      request.method === 'GET'
        ? {
            status: 200,
            body: [other, fork].map((pull) => toGitHubPull(server.origin, 'acme', 'widgets', pull)),
          }
        : undefined;

    const pr = await provider().openDraftPr(REQUEST);
    expect(pr.created).toBe(true);
    expect(pr.number).not.toBe(other.number);
    expect(pr.number).not.toBe(fork.number);
  });

  it('returns the pull request that won a create race (422) with created:false', async () => {
    await fresh();
    let racer: StoredPull | undefined;
    fake.intercept = (request, server) => {
      // Another attempt opens the pull request between our listing and our create.
      if (request.method === 'POST' && racer === undefined)
        racer = server.addPull('acme/widgets', {
          state: 'open',
          draft: true,
          title: REQUEST.title,
          body: REQUEST.body,
          head: REQUEST.head,
          headOwner: 'acme',
          base: REQUEST.base,
        });
      return undefined;
    };

    const pr = await provider().openDraftPr(REQUEST);
    expect(pr).toEqual({
      number: racer?.number,
      url: `${fake.origin}/acme/widgets/pull/${racer?.number}`,
      created: false,
    });
    expect(fake.requests.map((r) => r.method)).toEqual(['GET', 'POST', 'GET']);
    expect(fake.pulls.get('acme/widgets')).toHaveLength(1);
  });

  it('maps a 422 that is not a race to PROVIDER_ERROR with GitHub’s errors', async () => {
    await fresh();
    fake.intercept = (request) =>
      request.method === 'POST'
        ? {
            status: 422,
            body: {
              message: 'Validation Failed',
              errors: [
                {
                  resource: 'PullRequest',
                  code: 'custom',
                  message: 'No commits between main and aas/run_01',
                },
              ],
            },
          }
        : undefined;

    const error = await failure(provider().openDraftPr(REQUEST));
    expect(error.code).toBe('PROVIDER_ERROR');
    expect(error.details).toMatchObject({
      status: 422,
      githubMessage: 'Validation Failed',
      githubErrors: ['No commits between main and aas/run_01'],
      operation: 'create the draft pull request',
    });
    expect(error.message).toContain('No commits between main and aas/run_01');
    expect(fake.requests.map((r) => r.method)).toEqual(['GET', 'POST', 'GET']);
  });

  it('maps 401 to PROVIDER_ERROR with a scopes hint and never leaks the token', async () => {
    await fresh();
    // A hostile or buggy server echoing the credential must not get it into the error.
    fake.intercept = () => ({
      status: 401,
      body: {
        message: `Bad credentials for ${TOKEN}`,
        documentation_url: 'https://docs.github.com/rest',
      },
    });

    const error = await failure(provider().openDraftPr(REQUEST));
    expect(error.code).toBe('PROVIDER_ERROR');
    expect(error.details.status).toBe(401);
    expect(error.details.githubMessage).toBe('Bad credentials for [REDACTED]');
    expect(error.details.hint).toContain('pull_requests: write');
    expect(error.details.hint).toContain('`repo`');
    expect(error.message).toContain('401');
    expectNoToken(error);
    expect(fake.requests.filter((r) => r.method === 'POST')).toHaveLength(0);
  });

  it('maps 403 to PROVIDER_ERROR with a scopes hint', async () => {
    await fresh();
    fake.intercept = (request) =>
      request.method === 'POST'
        ? { status: 403, body: { message: 'Resource not accessible by personal access token' } }
        : undefined;

    const error = await failure(provider().openDraftPr(REQUEST));
    expect(error.code).toBe('PROVIDER_ERROR');
    expect(error.details).toMatchObject({
      status: 403,
      githubMessage: 'Resource not accessible by personal access token',
    });
    expect(error.details.hint).toContain('pull_requests: write');
    expectNoToken(error);
  });

  it('maps 404 to PROVIDER_ERROR with a missing-or-invisible repository hint', async () => {
    await fresh();
    fake.intercept = () => ({ status: 404, body: { message: 'Not Found' } });

    const error = await failure(provider().openDraftPr(REQUEST));
    expect(error.code).toBe('PROVIDER_ERROR');
    expect(error.details).toMatchObject({ status: 404, githubMessage: 'Not Found' });
    expect(error.details.hint).toMatch(/acme\/widgets does not exist or the token cannot see it/);
    expectNoToken(error);
  });

  it('works against a GitHub Enterprise base URL with the /api/v3 prefix', async () => {
    await fresh();
    const pr = await provider({ baseUrl: `${fake.origin}/api/v3/` }).openDraftPr(REQUEST);

    expect(pr).toMatchObject({ number: 1, created: true });
    expect(fake.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'GET /api/v3/repos/acme/widgets/pulls',
      'POST /api/v3/repos/acme/widgets/pulls',
    ]);
  });

  it('refuses an empty token with CREDENTIALS_MISSING naming AAS_GITHUB_TOKEN', () => {
    for (const token of ['', '   ']) {
      let thrown: unknown;
      try {
        createGitHubProvider({ token });
      } catch (error) {
        thrown = error;
      }
      expect(isAasError(thrown) && thrown.code).toBe('CREDENTIALS_MISSING');
      expect(isAasError(thrown) && thrown.details.hint).toContain('AAS_GITHUB_TOKEN');
    }
  });

  it('fails with PROVIDER_ERROR after the timeout when the API never answers', async () => {
    await fresh();
    fake.intercept = () => 'hang';

    const started = Date.now();
    const error = await failure(provider({ timeoutMs: 300 }).openDraftPr(REQUEST));
    expect(error.code).toBe('PROVIDER_ERROR');
    expect(error.details).toMatchObject({ timeoutMs: 300, operation: expect.any(String) });
    expect(error.message).toContain('300 ms');
    expectNoToken(error);
    // Only a floor: it must actually have waited for the deadline, not failed on something else.
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(fake.requests).toHaveLength(1);
  });

  it('maps an unreachable API to PROVIDER_ERROR with a base URL hint', async () => {
    const closed = await fresh();
    const origin = closed.origin;
    await closed.close();
    fakes.splice(fakes.indexOf(closed), 1);

    const error = await failure(provider({ baseUrl: origin }).openDraftPr(REQUEST));
    expect(error.code).toBe('PROVIDER_ERROR');
    expect(error.details.status).toBeUndefined();
    expect(error.details.hint).toContain(origin);
    expectNoToken(error);
  });

  it('rejects a request with an empty head before calling GitHub', async () => {
    await fresh();
    const error = await failure(provider().openDraftPr({ ...REQUEST, head: '' }));
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.details.field).toBe('head');
    expect(fake.requests).toHaveLength(0);
  });

  it('rejects a base URL that is not a URL', () => {
    expect(() => createGitHubProvider({ token: TOKEN, baseUrl: 'not a url' })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
  });
});
