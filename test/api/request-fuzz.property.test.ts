import { Agent, request as httpRequest } from 'node:http';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL_CODES, type Code, httpStatusFor } from '../../src/kernel/index.js';
import { TOKEN_ROLES } from '../../src/store/index.js';
import { type StoreFixture, storeDialects } from '../store/dialects.js';
import {
  job,
  type RunningApi,
  recordPolicyResolved,
  type SeededRun,
  seedFinishedRun,
  startApi,
} from './api-fixture.js';

/**
 * Random and mutated requests against every route: whatever arrives, the answer is never a
 * 5xx, and every error is `{code, message, details}` with a code from the closed table and the
 * status that code maps to. Deterministic (fixed seed), a few hundred requests per database.
 */

const RUNS = 300;
const SEED = 20_260_301;
const BODY_LIMIT = 16 * 1024;

interface FuzzRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: string | undefined;
}

interface FuzzResponse {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

const agent = new Agent({ keepAlive: false });

/** node:http rather than fetch: any method may carry a body, and headers go out as written. */
function send(base: URL, request: FuzzRequest): Promise<FuzzResponse> {
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(
      {
        host: base.hostname,
        port: base.port,
        method: request.method,
        path: request.path,
        // Explicit: Node sends a GET, HEAD or DELETE body with no length at all, which the
        // server can only read as the start of a second, garbled request.
        headers:
          request.body === undefined
            ? request.headers
            : { ...request.headers, 'content-length': String(Buffer.byteLength(request.body)) },
        agent,
      },
      (response) => {
        const contentType = String(response.headers['content-type'] ?? '');
        if (contentType.startsWith('text/event-stream')) {
          // An open stream: the status is what matters; hang up.
          response.destroy();
          resolve({ status: response.statusCode ?? 0, contentType, body: '' });
          return;
        }
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            contentType,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        response.on('error', reject);
      },
    );
    outgoing.on('error', reject);
    outgoing.end(request.body);
  });
}

const TEMPLATES = [
  '/api/v1/sessions',
  '/api/v1/sessions/{ses}',
  '/api/v1/sessions/{ses}/events',
  '/api/v1/sessions/{ses}/events/stream',
  '/api/v1/sessions/{ses}/verify',
  '/api/v1/stream',
  '/api/v1/runs/{run}',
  '/api/v1/runs/{run}/policy',
  '/api/v1/runs/{run}/patch',
  '/api/v1/runs/{run}/logs/{log}',
  '/api/v1/runs/{run}/cancel',
  '/api/v1/workers',
  '/api/v1/whoami',
  '/api/v1/tokens',
  '/api/v1/tokens/{tok}',
  '/api/v1/health',
  '/api/v1/metrics',
  '/openapi.json',
  '/docs',
  '/panel',
  '/panel/{log}',
  '/panel/assets/{log}',
] as const;

const QUERY_KEYS = [
  'status',
  'repo',
  'agent',
  'label',
  'requester',
  'q',
  'path',
  'cursor',
  'limit',
  'after',
  '__proto__',
  'constructor',
];

/** Printable ASCII only: what an HTTP header value can carry. */
const headerText = fc.string({
  unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
  maxLength: 80,
});
const hex24 = fc.string({
  unit: fc.constantFrom(...'0123456789abcdef'),
  minLength: 24,
  maxLength: 24,
});
const junkSegment = fc.oneof(
  fc.string({ maxLength: 40 }).map(encodeURIComponent),
  fc.constantFrom(
    '',
    '..',
    '%2e%2e',
    '%',
    '%zz',
    '%00',
    '%2F',
    'a%2Fb',
    '%C0%AF',
    '..%2F..%2Fetc%2Fpasswd',
  ),
);

function arbitraries(api: RunningApi, seeded: SeededRun) {
  const segment = (prefix: string, real: string) =>
    fc.oneof(
      fc.constant(real),
      hex24.map((hex) => `${prefix}_${hex}`),
      junkSegment,
    );
  const pathArb = fc.oneof(
    {
      weight: 8,
      arbitrary: fc
        .record({
          template: fc.constantFrom(...TEMPLATES),
          ses: segment('ses', seeded.sessionId),
          run: segment('run', seeded.runId),
          tok: fc.oneof(
            segment('tok', 'tok_000000000000000000000000'),
            fc.constantFrom('no-such-token', 'x'),
          ),
          log: fc.oneof(
            fc.constantFrom(
              ...Object.keys(seeded.logs),
              '9.stdout.log',
              '1.validator-7.stderr.log',
            ),
            junkSegment,
          ),
        })
        .map(({ template, ses, run, tok, log }) =>
          template
            .replace('{ses}', ses)
            .replace('{run}', run)
            .replace('{tok}', tok)
            .replace('{log}', log),
        ),
    },
    {
      weight: 1,
      arbitrary: fc.array(junkSegment, { maxLength: 5 }).map((parts) => `/${parts.join('/')}`),
    },
    { weight: 1, arbitrary: junkSegment.map((part) => `/api/v1/${part}`) },
  );
  const queryArb = fc.oneof(
    fc.constant(''),
    fc
      .array(
        fc.tuple(
          fc.oneof(fc.constantFrom(...QUERY_KEYS), fc.string({ maxLength: 10 })),
          fc.oneof(
            fc.constantFrom(
              'queued',
              '0',
              '1',
              '50',
              '201',
              '-1',
              '1.5',
              'NaN',
              '1e999',
              '',
              '\u0000',
            ),
            fc.integer().map(String),
            fc.string({ maxLength: 20 }),
          ),
        ),
        { maxLength: 4 },
      )
      .map((pairs) =>
        pairs.length === 0
          ? ''
          : `?${pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&')}`,
      ),
    fc.constantFrom('?', '?&&', '?%', '?limit', '?cursor=%zz', '?a=1&a=2'),
  );
  const authArb = fc.oneof(
    fc.constant(undefined),
    fc.constantFrom(...TOKEN_ROLES).map((role) => `Bearer ${api.secrets[role]}`),
    fc.constant(`Bearer ${api.revokedSecret}`),
    headerText.map((text) => `Bearer ${text}`),
    headerText,
  );
  const contentTypeArb = fc.oneof(
    fc.constant(undefined),
    fc.constantFrom(
      'application/json',
      'application/json; charset=utf-8',
      'APPLICATION/JSON',
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/octet-stream',
      'application/json; charset=utf-16',
    ),
    headerText,
  );
  const validJob = job();
  // Any code unit, NUL and unpaired surrogates included, in fields that are stored as text.
  const storedTextBody = fc
    .tuple(
      fc.constantFrom('task', 'repo', 'agent', 'name'),
      fc.string({ unit: 'binary', maxLength: 12 }),
      fc.constantFrom('\u0000', '\ud800', '\udfff', ''),
    )
    .map(([key, text, special]) => JSON.stringify({ ...validJob, [key]: `${text}${special}` }));
  // Nesting far beyond what recursive serialisers survive, written as text.
  const deepBody = fc
    .oneof(fc.integer({ min: 1, max: 7_900 }), fc.constantFrom(65, 1_000, 7_900))
    .map(
      (depth) =>
        `{"task":"t","repo":"r","agent":"a","agentInput":${'['.repeat(depth)}${']'.repeat(depth)}}`,
    );
  const bodyArb = fc.oneof(
    storedTextBody,
    deepBody,
    fc.constant(undefined),
    fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value)),
    fc
      .tuple(fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 2 }))
      .map(([key, value]) => JSON.stringify({ ...validJob, [key]: value })),
    fc
      .tuple(
        fc.constantFrom(...Object.keys(validJob), 'validators', 'labels', 'requestedBy'),
        fc.jsonValue({ maxDepth: 2 }),
      )
      .map(([key, value]) => JSON.stringify({ ...validJob, [key]: value })),
    fc
      .record({ name: fc.string({ maxLength: 70 }), role: fc.string({ maxLength: 10 }) })
      .map((b) => JSON.stringify(b)),
    fc.string({ maxLength: 200 }),
    fc.constantFrom(
      '{',
      '[1,',
      '{"__proto__":{"x":1}}',
      '{"constructor":{"prototype":{}}}',
      'null',
      '""',
    ),
    fc.constant(JSON.stringify({ ...validJob, task: 'x'.repeat(BODY_LIMIT + 10) })),
  );
  const randomRequest = fc
    .record({
      method: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'),
      path: pathArb,
      query: queryArb,
      authorization: authArb,
      contentType: contentTypeArb,
      lastEventId: fc.option(headerText, { nil: undefined }),
      body: bodyArb,
    })
    .map(
      (r): FuzzRequest => ({
        method: r.method,
        path: `${r.path}${r.query}`,
        headers: {
          ...(r.authorization === undefined ? {} : { authorization: r.authorization }),
          ...(r.contentType === undefined ? {} : { 'content-type': r.contentType }),
          ...(r.lastEventId === undefined ? {} : { 'last-event-id': r.lastEventId }),
        },
        body: r.body,
      }),
    );

  // Valid requests of every route, then one to three mutations of each.
  const admin = `Bearer ${api.secrets.admin}`;
  const jsonHeaders = { authorization: admin, 'content-type': 'application/json' };
  const valid: FuzzRequest[] = [
    {
      method: 'POST',
      path: '/api/v1/sessions',
      headers: jsonHeaders,
      body: JSON.stringify(validJob),
    },
    {
      method: 'GET',
      path: '/api/v1/sessions?limit=2',
      headers: { authorization: admin },
      body: undefined,
    },
    {
      method: 'GET',
      path: `/api/v1/sessions/${seeded.sessionId}`,
      headers: { authorization: admin },
      body: undefined,
    },
    {
      method: 'GET',
      path: `/api/v1/sessions/${seeded.sessionId}/events?after=1&limit=3`,
      headers: { authorization: admin },
      body: undefined,
    },
    {
      method: 'GET',
      path: `/api/v1/sessions/${seeded.sessionId}/events/stream`,
      headers: { authorization: admin, 'last-event-id': '2' },
      body: undefined,
    },
    {
      method: 'GET',
      path: `/api/v1/sessions/${seeded.sessionId}/verify`,
      headers: { authorization: admin },
      body: undefined,
    },
    { method: 'GET', path: '/api/v1/stream', headers: { authorization: admin }, body: undefined },
    {
      method: 'GET',
      path: '/api/v1/sessions?q=typo&limit=2',
      headers: { authorization: admin },
      body: undefined,
    },
    {
      method: 'GET',
      path: `/api/v1/runs/${seeded.runId}/policy?path=src/a.ts&path=.env`,
      headers: { authorization: admin },
      body: undefined,
    },
    {
      method: 'GET',
      path: `/api/v1/runs/${seeded.runId}`,
      headers: { authorization: admin },
      body: undefined,
    },
    {
      method: 'GET',
      path: `/api/v1/runs/${seeded.runId}/patch`,
      headers: { authorization: admin },
      body: undefined,
    },
    {
      method: 'GET',
      path: `/api/v1/runs/${seeded.runId}/logs/1.stdout.log`,
      headers: { authorization: admin },
      body: undefined,
    },
    {
      method: 'POST',
      path: `/api/v1/runs/${seeded.runId}/cancel`,
      headers: { authorization: admin },
      body: undefined,
    },
    { method: 'GET', path: '/api/v1/workers', headers: { authorization: admin }, body: undefined },
    { method: 'GET', path: '/api/v1/whoami', headers: { authorization: admin }, body: undefined },
    {
      method: 'POST',
      path: '/api/v1/tokens',
      headers: jsonHeaders,
      body: JSON.stringify({ name: 'fuzzed', role: 'viewer' }),
    },
    { method: 'GET', path: '/api/v1/tokens', headers: { authorization: admin }, body: undefined },
    {
      method: 'DELETE',
      path: '/api/v1/tokens/fuzzed',
      headers: { authorization: admin },
      body: undefined,
    },
    { method: 'GET', path: '/api/v1/health', headers: {}, body: undefined },
    { method: 'GET', path: '/api/v1/metrics', headers: { authorization: admin }, body: undefined },
  ];
  type Mutation = (request: FuzzRequest) => FuzzRequest;
  const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
    fc
      .constantFrom('GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'PATCH')
      .map((method) => (r: FuzzRequest) => ({ ...r, method })),
    fc.tuple(fc.nat(), junkSegment).map(([index, junk]) => (r: FuzzRequest) => {
      const [path = '', query] = r.path.split('?');
      const parts = path.split('/');
      parts[1 + (index % Math.max(1, parts.length - 1))] = junk;
      return { ...r, path: `${parts.join('/')}${query === undefined ? '' : `?${query}`}` };
    }),
    queryArb.map((query) => (r: FuzzRequest) => ({
      ...r,
      path: `${r.path.split('?')[0]}${query}`,
    })),
    contentTypeArb.map((contentType) => (r: FuzzRequest) => {
      const { 'content-type': _dropped, ...rest } = r.headers;
      return {
        ...r,
        headers: contentType === undefined ? rest : { ...rest, 'content-type': contentType },
      };
    }),
    authArb.map((authorization) => (r: FuzzRequest) => {
      const { authorization: _dropped, ...rest } = r.headers;
      return { ...r, headers: authorization === undefined ? rest : { ...rest, authorization } };
    }),
    fc
      .tuple(fc.nat(), fc.string({ minLength: 1, maxLength: 3 }))
      .map(([at, text]) => (r: FuzzRequest) => {
        const body = r.body ?? '';
        const cut = at % (body.length + 1);
        return { ...r, body: `${body.slice(0, cut)}${text}${body.slice(cut + 1)}` };
      }),
    fc.nat().map((at) => (r: FuzzRequest) => ({
      ...r,
      body: r.body?.slice(0, at % (r.body.length + 1)),
    })),
    bodyArb.map((body) => (r: FuzzRequest) => ({ ...r, body })),
    headerText.map((id) => (r: FuzzRequest) => ({
      ...r,
      headers: { ...r.headers, 'last-event-id': id },
    })),
  );
  const mutatedRequest = fc
    .tuple(fc.constantFrom(...valid), fc.array(mutationArb, { minLength: 1, maxLength: 3 }))
    .map(([base, mutations]) => mutations.reduce((request, mutate) => mutate(request), base));

  // A request that is valid in every respect but its body.
  const hostileBody = fc
    .tuple(
      fc.constantFrom(...valid.filter((request) => request.body !== undefined)),
      fc.oneof(bodyArb, storedTextBody, deepBody),
    )
    .map(([base, body]): FuzzRequest => ({ ...base, body }));

  return {
    request: fc.oneof(
      { weight: 2, arbitrary: randomRequest },
      { weight: 2, arbitrary: mutatedRequest },
      { weight: 2, arbitrary: hostileBody },
    ),
    valid,
  };
}

function checkResponse(request: FuzzRequest, response: FuzzResponse): void {
  const where = `${request.method} ${request.path} → ${response.status} ${response.body.slice(0, 300)}`;
  expect(response.status, where).toBeGreaterThanOrEqual(200);
  expect(response.status, where).toBeLessThan(500);
  if (response.status < 400 || request.method === 'HEAD') return;
  expect(response.contentType, where).toMatch(/^application\/json/);
  const body = JSON.parse(response.body) as { code: Code; message: unknown; details: unknown };
  expect(ALL_CODES, where).toContain(body.code);
  expect(typeof body.message, where).toBe('string');
  expect(
    typeof body.details === 'object' && body.details !== null && !Array.isArray(body.details),
    where,
  ).toBe(true);
  expect(httpStatusFor(body.code), where).toBe(response.status);
  expect(Object.keys(body).sort(), where).toEqual(['code', 'details', 'message']);
}

const dialects = await storeDialects();

for (const dialect of dialects) {
  describe.skipIf(!dialect.available)(`request fuzzing: ${dialect.name}`, () => {
    let fixture: StoreFixture;
    let api: RunningApi;
    let seeded: SeededRun;

    beforeAll(async () => {
      fixture = await dialect.open();
      api = await startApi(fixture, { bodyLimitBytes: BODY_LIMIT });
      seeded = await seedFinishedRun(api);
      await recordPolicyResolved(api, seeded);
    });
    afterAll(async () => {
      await api?.close();
      await fixture?.cleanup();
    });

    it('the valid requests succeed (the mutations start from working requests)', async () => {
      const { valid } = arbitraries(api, seeded);
      const base = new URL(api.url);
      const statuses = [];
      for (const request of valid) statuses.push((await send(base, request)).status);
      expect(statuses).toEqual([
        201, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 409, 200, 200, 201, 200, 200,
        200, 200,
      ]);
    });

    it('never answers 5xx, and every error has the error model', async () => {
      const { request } = arbitraries(api, seeded);
      const base = new URL(api.url);
      const seen = new Map<number, number>();
      await fc.assert(
        fc.asyncProperty(request, async (fuzzed) => {
          const response = await send(base, fuzzed);
          seen.set(response.status, (seen.get(response.status) ?? 0) + 1);
          checkResponse(fuzzed, response);
        }),
        { seed: SEED, numRuns: RUNS, endOnFailure: true },
      );
      // The generator reaches the interesting answers, not only one kind of refusal.
      for (const status of [200, 400, 401, 403, 404, 413, 415]) {
        expect(
          seen.get(status) ?? 0,
          `status ${status} in ${JSON.stringify([...seen])}`,
        ).toBeGreaterThan(0);
      }
    });
  });
}
