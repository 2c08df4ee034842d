import { Octokit } from '@octokit/rest';
import { AasError, type ErrorDetails, isAasError } from '../kernel/index.js';
import type { DraftPr, DraftPrProvider, DraftPrRequest } from './draft-pr-provider.js';

export interface GitHubProviderOptions {
  /** A fine-grained token with `pull_requests: write`, or a classic token with `repo`. */
  token: string;
  /** The REST API root: https://api.github.com, or https://ghe.example/api/v3 for Enterprise. */
  baseUrl?: string;
  userAgent?: string;
  /** Injected for tests and for hosts that route through their own HTTP stack. */
  fetch?: typeof fetch;
  /** Per HTTP request, so a hung API fails the promotion instead of holding it forever. */
  timeoutMs?: number;
}

export const GITHUB_API_URL = 'https://api.github.com';
const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_USER_AGENT = 'autonomous-agent-stack';
/** Pinned so a GitHub-side API revision cannot change the response shapes read here. */
const API_VERSION_HEADERS = { 'x-github-api-version': '2022-11-28' } as const;
const REDACTED = '[REDACTED]';

/** What the provider was doing when a call failed; it leads the error message. */
const Operation = {
  list: 'list pull requests for the head branch',
  create: 'create the draft pull request',
} as const;
type Operation = (typeof Operation)[keyof typeof Operation];

/**
 * AAS logs through its own logger; octokit's fallbacks write every failed request to the
 * console, which would bypass it (and the request-log plugin would duplicate what we report).
 */
const QUIET_LOG = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

const TOKEN_HINT =
  'a fine-grained token needs `pull_requests: write` on the repository; a classic token needs the `repo` scope (set it as AAS_GITHUB_TOKEN)';

/**
 * Draft pull requests on GitHub or GitHub Enterprise through the plain REST client. Plain on
 * purpose: @octokit/rest carries no retry or throttling plugin, so a failure surfaces once, as a
 * PROVIDER_ERROR, and whether to retry stays the promotion's decision.
 */
export function createGitHubProvider(options: GitHubProviderOptions): DraftPrProvider {
  // Octokit strips these prefixes itself; strip them here too so redaction knows the real secret.
  const token = options.token.trim().replace(/^(?:token|bearer) +/i, '');
  if (token === '')
    throw new AasError(
      'CREDENTIALS_MISSING',
      'opening a draft pull request on GitHub needs a token and none is configured',
      { hint: `set AAS_GITHUB_TOKEN; ${TOKEN_HINT}` },
    );
  const baseUrl = apiBaseUrl(options.baseUrl ?? GITHUB_API_URL);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0)
    throw new AasError('INVALID_ARGUMENT', `the GitHub request timeout must be positive`, {
      field: 'timeoutMs',
      hint: `got ${timeoutMs}`,
    });

  const octokit = new Octokit({
    auth: token,
    baseUrl,
    userAgent: options.userAgent ?? DEFAULT_USER_AGENT,
    log: QUIET_LOG,
    request: options.fetch === undefined ? {} : { fetch: options.fetch },
  });

  const redact = (text: string): string => text.split(token).join(REDACTED);

  /** Runs one HTTP call under its own deadline; a timeout becomes a PROVIDER_ERROR here. */
  async function withTimeout<T>(
    operation: Operation,
    request: DraftPrRequest,
    send: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      return await send(signal);
    } catch (error) {
      if (!signal.aborted) throw error;
      throw new AasError(
        'PROVIDER_ERROR',
        `GitHub did not answer within ${timeoutMs} ms when asked to ${operation} on ${request.owner}/${request.repo}`,
        {
          ...context(operation, request),
          timeoutMs,
          hint: `check that ${baseUrl} is reachable; retrying is safe, it finds a pull request an earlier attempt opened`,
        },
      );
    }
  }

  function toProviderError(error: unknown, operation: Operation, request: DraftPrRequest) {
    if (isAasError(error)) return error;
    const where = `${request.owner}/${request.repo}`;
    const http = httpFailureOf(error);
    if (http === null) {
      const reason = error instanceof Error ? error.message : String(error);
      return new AasError(
        'PROVIDER_ERROR',
        redact(`could not ${operation} on ${where}: ${reason}`),
        context(operation, request),
      );
    }
    if (http.response === undefined)
      return new AasError(
        'PROVIDER_ERROR',
        redact(`could not reach the GitHub API at ${baseUrl} to ${operation}: ${http.message}`),
        {
          ...context(operation, request),
          hint: `check the GitHub API base URL (${baseUrl}) and this host's network access to it`,
        },
      );

    const { status, data, headers } = http.response;
    const github = githubErrorBody(data);
    const githubMessage = redact(github.message ?? http.message);
    const details: ErrorDetails = {
      ...context(operation, request),
      status,
      githubMessage,
      ...(github.errors.length > 0 && { githubErrors: github.errors.map(redact) }),
      ...(github.documentationUrl !== undefined && {
        documentationUrl: redact(github.documentationUrl),
      }),
    };
    const hint = hintFor(status, githubMessage, headers, where);
    const because = github.errors.length > 0 ? ` (${github.errors.join('; ')})` : '';
    return new AasError(
      'PROVIDER_ERROR',
      redact(
        `GitHub answered ${status} when asked to ${operation} on ${where}: ${githubMessage}${because}`,
      ),
      hint === undefined ? details : { ...details, hint },
    );
  }

  /**
   * The pull request already open (or once opened) for this head, if any. Closed ones count:
   * a person closed it, and opening a second one for the same branch would overrule them.
   */
  async function findExisting(request: DraftPrRequest): Promise<DraftPr | null> {
    const { owner, repo, head } = request;
    let pulls: readonly ListedPull[];
    try {
      const response = await withTimeout(Operation.list, request, (signal) =>
        octokit.rest.pulls.list({
          owner,
          repo,
          head: `${owner}:${head}`,
          state: 'all',
          per_page: 100,
          headers: API_VERSION_HEADERS,
          request: { signal },
        }),
      );
      pulls = response.data;
    } catch (error) {
      throw toProviderError(error, Operation.list, request);
    }
    if (!Array.isArray(pulls))
      throw new AasError(
        'PROVIDER_ERROR',
        `GitHub answered a pull request listing for ${owner}/${repo} with something that is not a list`,
        { ...context(Operation.list, request), hint: `check that ${baseUrl} is a GitHub REST API` },
      );
    // GitHub ignores a `head` filter it cannot parse and lists every pull request; re-check here
    // so a malformed filter can never make another branch's pull request look like ours.
    const ours = pulls.filter(
      (pull) =>
        pull.head.ref === head &&
        pull.head.label.split(':')[0]?.toLowerCase() === owner.toLowerCase(),
    );
    const chosen = ours.find((pull) => pull.state === 'open') ?? ours[0];
    return chosen === undefined
      ? null
      : { number: chosen.number, url: chosen.html_url, created: false };
  }

  return {
    name: 'github',
    async openDraftPr(request) {
      checkRequest(request);
      const existing = await findExisting(request);
      if (existing !== null) return existing;
      const { owner, repo, head, base, title, body } = request;
      try {
        const response = await withTimeout(Operation.create, request, (signal) =>
          octokit.rest.pulls.create({
            owner,
            repo,
            head,
            base,
            title,
            body,
            draft: true,
            headers: API_VERSION_HEADERS,
            request: { signal },
          }),
        );
        return { number: response.data.number, url: response.data.html_url, created: true };
      } catch (error) {
        // 422 is also GitHub's answer when another attempt opened the pull request between our
        // listing and our create; the pull request that won the race is then the answer.
        if (httpFailureOf(error)?.status === 422) {
          const raced = await findExisting(request);
          if (raced !== null) return raced;
        }
        throw toProviderError(error, Operation.create, request);
      }
    },
  };
}

interface ListedPull {
  readonly number: number;
  readonly html_url: string;
  readonly state: string;
  readonly head: { readonly ref: string; readonly label: string };
}

/** Octokit's RequestError, read structurally so the transitive package is not imported. */
interface HttpFailure {
  readonly status: number;
  readonly message: string;
  readonly response?: {
    readonly status: number;
    readonly data: unknown;
    readonly headers: Readonly<Record<string, unknown>>;
  };
}

function httpFailureOf(error: unknown): HttpFailure | null {
  if (!(error instanceof Error) || error.name !== 'HttpError') return null;
  const { status, response } = error as Error & { status?: unknown; response?: unknown };
  if (typeof status !== 'number') return null;
  if (response === undefined || response === null) return { status, message: error.message };
  const { data, headers } = response as { data?: unknown; headers?: unknown };
  return {
    status,
    message: error.message,
    response: {
      status,
      data,
      headers: typeof headers === 'object' && headers !== null ? { ...headers } : {},
    },
  };
}

/** GitHub's error body: `{ message, errors?: [{ message?, code?, field? }], documentation_url? }`. */
function githubErrorBody(data: unknown): {
  message?: string;
  errors: string[];
  documentationUrl?: string;
} {
  if (typeof data === 'string')
    return data.trim() === '' ? { errors: [] } : { message: data, errors: [] };
  if (typeof data !== 'object' || data === null) return { errors: [] };
  const body = data as { message?: unknown; errors?: unknown; documentation_url?: unknown };
  const errors = Array.isArray(body.errors)
    ? body.errors.map((item: unknown) => {
        if (typeof item === 'string') return item;
        const entry = (typeof item === 'object' && item !== null ? item : {}) as {
          message?: unknown;
          code?: unknown;
          field?: unknown;
        };
        if (typeof entry.message === 'string') return entry.message;
        return [entry.field, entry.code].filter((part) => typeof part === 'string').join(': ');
      })
    : [];
  return {
    ...(typeof body.message === 'string' && { message: body.message }),
    errors: errors.filter((text) => text !== ''),
    ...(typeof body.documentation_url === 'string' && { documentationUrl: body.documentation_url }),
  };
}

function hintFor(
  status: number,
  githubMessage: string,
  headers: Readonly<Record<string, unknown>>,
  where: string,
): string | undefined {
  const rateLimited =
    status === 429 ||
    (status === 403 &&
      (headers['x-ratelimit-remaining'] === '0' || /rate limit/i.test(githubMessage)));
  if (rateLimited)
    return 'GitHub rate-limited the token; retry the promotion after the limit resets';
  if (status === 401)
    return `GitHub did not accept the token: check that it is current and not revoked; ${TOKEN_HINT}`;
  if (status === 403)
    return `the token may not open pull requests on ${where}: ${TOKEN_HINT}; for an organisation with SAML SSO, authorise the token for it`;
  if (status === 404)
    return `the repository ${where} does not exist or the token cannot see it (GitHub answers 404 for private repositories a token has no access to); check the remote and the token's repository access`;
  if (status === 422)
    return 'GitHub rejected the pull request itself: check that the head branch was pushed, differs from the base, and that the base branch exists';
  if (status >= 500)
    return 'GitHub failed on its side; a retry is safe (it opens one pull request at most)';
  return undefined;
}

function context(operation: Operation, request: DraftPrRequest): ErrorDetails {
  return {
    provider: 'github',
    operation,
    owner: request.owner,
    repo: request.repo,
    head: request.head,
    base: request.base,
  };
}

function checkRequest(request: DraftPrRequest): void {
  for (const field of ['owner', 'repo', 'head', 'base', 'title'] as const)
    if (request[field].trim() === '')
      throw new AasError('INVALID_ARGUMENT', `a draft pull request needs a non-empty ${field}`, {
        field,
      });
}

/** Octokit joins `baseUrl` and the route verbatim, so a trailing slash would double up. */
function apiBaseUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new AasError('INVALID_ARGUMENT', `the GitHub API base URL is not a URL: ${raw}`, {
      field: 'baseUrl',
      hint: `use ${GITHUB_API_URL}, or https://<host>/api/v3 for GitHub Enterprise Server`,
    });
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new AasError('INVALID_ARGUMENT', `the GitHub API base URL must be http(s): ${raw}`, {
      field: 'baseUrl',
      hint: `use ${GITHUB_API_URL}, or https://<host>/api/v3 for GitHub Enterprise Server`,
    });
  return raw.trim().replace(/\/+$/, '');
}
