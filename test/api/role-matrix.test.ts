import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PERMISSIONS, type RouteAccess } from '../../src/api/index.js';
import { ALL_CODES } from '../../src/kernel/index.js';
import { TOKEN_ROLES, type TokenRole } from '../../src/store/index.js';
import { createTempRepo } from '../helpers/temp-repo.js';
import { type StoreFixture, storeDialects } from '../store/dialects.js';
import {
  job,
  PROMOTABLE,
  type RunningApi,
  recordPolicyResolved,
  type SeededRun,
  seedFinishedRun,
  startApi,
  submitQueued,
} from './api-fixture.js';

/**
 * Every route × every kind of caller. The expected status comes twice: from the product's
 * permission table, and from the table below, written out by hand. They must agree with each
 * other and with the server, so a change to either the code or the table is a visible decision.
 */

type Caller = TokenRole | 'none' | 'revoked' | 'malformed-scheme' | 'malformed-secret' | 'unknown';
const CALLERS: readonly Caller[] = [
  ...TOKEN_ROLES,
  'none',
  'revoked',
  'malformed-scheme',
  'malformed-secret',
  'unknown',
];

interface RouteCase {
  /** `METHOD /openapi/path`, as in the OpenAPI document. */
  readonly key: string;
  /** The permission the product's code is expected to demand. */
  readonly access: RouteAccess;
  readonly success: number;
  /** Builds a fresh request (state-changing routes get fresh targets each time). */
  request(api: RunningApi, seeded: SeededRun): Promise<{ path: string; init: RequestInit }>;
}

const V1 = '/api/v1';
const json = (body: unknown): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});
let tokenCounter = 0;
let enrolmentCounter = 0;
let scheduleCounter = 0;
/** A schedule the schedule routes read and change. */
let matrixSchedule: string;
const scheduleBody = () => {
  scheduleCounter += 1;
  return {
    name: `matrix-${scheduleCounter}`,
    timing: { kind: 'cron', cron: '0 9 * * 1-5', timezone: 'Europe/Berlin' },
    job: job(),
  };
};
/** A run approved and promoted (patch mode) before the matrix runs, for the read routes. */
let promoted: SeededRun;

/** A freshly enrolled and registered remote worker, for the routes that change one: its name. */
async function registeredWorker(api: RunningApi): Promise<string> {
  enrolmentCounter += 1;
  const name = `matrix-${enrolmentCounter}`;
  const { secret } = await api.json<{ secret: string }>(`${V1}/workers/enrolments`, json({ name }));
  await api.json(`${V1}/workers/register`, {
    ...json({ enrolmentSecret: secret, capabilities: { agents: [], sandbox: [] } }),
    secret: null,
  });
  return name;
}

const ROUTES: readonly RouteCase[] = [
  {
    key: 'POST /api/v1/sessions',
    access: 'submit',
    success: 201,
    request: async () => ({ path: `${V1}/sessions`, init: json(job()) }),
  },
  {
    key: 'GET /api/v1/sessions',
    access: 'read',
    success: 200,
    request: async () => ({ path: `${V1}/sessions?limit=5`, init: {} }),
  },
  {
    key: 'GET /api/v1/sessions/{id}',
    access: 'read',
    success: 200,
    request: async (_api, seeded) => ({ path: `${V1}/sessions/${seeded.sessionId}`, init: {} }),
  },
  {
    key: 'GET /api/v1/sessions/{id}/events',
    access: 'read',
    success: 200,
    request: async (_api, seeded) => ({
      path: `${V1}/sessions/${seeded.sessionId}/events`,
      init: {},
    }),
  },
  {
    key: 'GET /api/v1/sessions/{id}/events/stream',
    access: 'read',
    success: 200,
    request: async (_api, seeded) => ({
      path: `${V1}/sessions/${seeded.sessionId}/events/stream`,
      init: {},
    }),
  },
  {
    key: 'GET /api/v1/sessions/{id}/verify',
    access: 'read',
    success: 200,
    request: async (_api, seeded) => ({
      path: `${V1}/sessions/${seeded.sessionId}/verify`,
      init: {},
    }),
  },
  {
    key: 'GET /api/v1/stream',
    access: 'read',
    success: 200,
    request: async () => ({ path: `${V1}/stream`, init: {} }),
  },
  {
    key: 'GET /api/v1/runs/{id}/policy',
    access: 'read',
    success: 200,
    request: async () => ({ path: `${V1}/runs/${promoted.runId}/policy?path=src/a.ts`, init: {} }),
  },
  {
    key: 'GET /api/v1/runs/{id}',
    access: 'read',
    success: 200,
    request: async (_api, seeded) => ({ path: `${V1}/runs/${seeded.runId}`, init: {} }),
  },
  {
    key: 'GET /api/v1/runs/{id}/patch',
    access: 'read',
    success: 200,
    request: async (_api, seeded) => ({ path: `${V1}/runs/${seeded.runId}/patch`, init: {} }),
  },
  {
    key: 'GET /api/v1/runs/{id}/logs/{name}',
    access: 'read',
    success: 200,
    request: async (_api, seeded) => ({
      path: `${V1}/runs/${seeded.runId}/logs/2.stdout.log`,
      init: {},
    }),
  },
  {
    key: 'POST /api/v1/runs/{id}/cancel',
    access: 'cancel',
    success: 202,
    request: async (api) => {
      const { runId } = await submitQueued(api);
      return { path: `${V1}/runs/${runId}/cancel`, init: { method: 'POST' } };
    },
  },
  {
    key: 'GET /api/v1/workers',
    access: 'workers:read',
    success: 200,
    request: async () => ({ path: `${V1}/workers`, init: {} }),
  },
  {
    key: 'GET /api/v1/whoami',
    access: 'read',
    success: 200,
    request: async () => ({ path: `${V1}/whoami`, init: {} }),
  },
  {
    key: 'POST /api/v1/tokens',
    access: 'tokens',
    success: 201,
    request: async () => {
      tokenCounter += 1;
      return {
        path: `${V1}/tokens`,
        init: json({ name: `matrix-${tokenCounter}`, role: 'viewer' }),
      };
    },
  },
  {
    key: 'GET /api/v1/tokens',
    access: 'tokens',
    success: 200,
    request: async () => ({ path: `${V1}/tokens`, init: {} }),
  },
  {
    key: 'DELETE /api/v1/tokens/{idOrName}',
    access: 'tokens',
    success: 200,
    request: async (api) => {
      tokenCounter += 1;
      const name = `doomed-${tokenCounter}`;
      await api.json(`${V1}/tokens`, json({ name, role: 'viewer' }));
      return { path: `${V1}/tokens/${name}`, init: { method: 'DELETE' } };
    },
  },
  {
    key: 'POST /api/v1/runs/{id}/approvals',
    access: 'approve',
    success: 201,
    request: async (api) => {
      const fresh = await seedFinishedRun(api, '/repos/demo', PROMOTABLE);
      return {
        path: `${V1}/runs/${fresh.runId}/approvals`,
        init: json({ decision: 'approved', note: 'ok' }),
      };
    },
  },
  {
    key: 'GET /api/v1/runs/{id}/approvals',
    access: 'read',
    success: 200,
    request: async () => ({ path: `${V1}/runs/${promoted.runId}/approvals`, init: {} }),
  },
  {
    key: 'GET /api/v1/approvals',
    access: 'read',
    success: 200,
    request: async () => ({ path: `${V1}/approvals?status=standing`, init: {} }),
  },
  {
    key: 'POST /api/v1/runs/{id}/promote',
    access: 'promote',
    success: 200,
    request: async (api) => {
      const fresh = await seedFinishedRun(api, '/repos/demo', PROMOTABLE);
      await api.json(`${V1}/runs/${fresh.runId}/approvals`, {
        ...json({ decision: 'approved' }),
        secret: api.secrets.approver,
      });
      return { path: `${V1}/runs/${fresh.runId}/promote`, init: json({ mode: 'patch' }) };
    },
  },
  {
    key: 'GET /api/v1/runs/{id}/promotion',
    access: 'read',
    success: 200,
    request: async () => ({ path: `${V1}/runs/${promoted.runId}/promotion`, init: {} }),
  },
  {
    key: 'GET /api/v1/runs/{id}/attestation',
    access: 'read',
    success: 200,
    request: async () => ({ path: `${V1}/runs/${promoted.runId}/attestation`, init: {} }),
  },
  {
    key: 'GET /api/v1/keys',
    access: 'public',
    success: 200,
    request: async () => ({ path: `${V1}/keys`, init: {} }),
  },
  {
    key: 'GET /api/v1/schedules',
    access: 'read',
    success: 200,
    request: async () => ({ path: `${V1}/schedules`, init: {} }),
  },
  {
    key: 'POST /api/v1/schedules',
    access: 'submit',
    success: 201,
    request: async () => ({ path: `${V1}/schedules`, init: json(scheduleBody()) }),
  },
  {
    key: 'GET /api/v1/schedules/{id}',
    access: 'read',
    success: 200,
    request: async () => ({ path: `${V1}/schedules/${matrixSchedule}`, init: {} }),
  },
  {
    key: 'PATCH /api/v1/schedules/{id}',
    access: 'submit',
    success: 200,
    request: async () => ({
      path: `${V1}/schedules/${matrixSchedule}`,
      init: { ...json({ misfire: 'skip' }), method: 'PATCH' },
    }),
  },
  {
    key: 'DELETE /api/v1/schedules/{id}',
    access: 'submit',
    success: 200,
    request: async (api) => {
      const created = await api.json<{ id: string }>(`${V1}/schedules`, json(scheduleBody()));
      return { path: `${V1}/schedules/${created.id}`, init: { method: 'DELETE' } };
    },
  },
  {
    key: 'POST /api/v1/schedules/{id}/pause',
    access: 'submit',
    success: 200,
    request: async () => ({
      path: `${V1}/schedules/${matrixSchedule}/pause`,
      init: { method: 'POST' },
    }),
  },
  {
    key: 'POST /api/v1/schedules/{id}/resume',
    access: 'submit',
    success: 200,
    request: async () => ({
      path: `${V1}/schedules/${matrixSchedule}/resume`,
      init: { method: 'POST' },
    }),
  },
  {
    key: 'POST /api/v1/schedules/{id}/trigger',
    access: 'submit',
    success: 201,
    request: async () => ({
      path: `${V1}/schedules/${matrixSchedule}/trigger`,
      init: { method: 'POST' },
    }),
  },
  {
    key: 'GET /api/v1/schedules/{id}/preview',
    access: 'read',
    success: 200,
    request: async () => ({ path: `${V1}/schedules/${matrixSchedule}/preview?count=3`, init: {} }),
  },
  {
    key: 'GET /api/v1/health',
    access: 'public',
    success: 200,
    request: async () => ({ path: `${V1}/health`, init: {} }),
  },
  {
    key: 'POST /api/v1/workers/enrolments',
    access: 'workers:enrol',
    success: 201,
    request: async () => {
      enrolmentCounter += 1;
      return {
        path: `${V1}/workers/enrolments`,
        init: json({ name: `matrix-${enrolmentCounter}` }),
      };
    },
  },
  {
    key: 'GET /api/v1/workers/enrolments',
    access: 'workers:enrol',
    success: 200,
    request: async () => ({ path: `${V1}/workers/enrolments`, init: {} }),
  },
  {
    key: 'DELETE /api/v1/workers/enrolments/{name}',
    access: 'workers:enrol',
    success: 200,
    request: async (api) => {
      enrolmentCounter += 1;
      const name = `matrix-${enrolmentCounter}`;
      await api.json(`${V1}/workers/enrolments`, json({ name }));
      return { path: `${V1}/workers/enrolments/${name}`, init: { method: 'DELETE' } };
    },
  },
  {
    key: 'POST /api/v1/workers/register',
    access: 'public',
    success: 201,
    request: async (api) => {
      enrolmentCounter += 1;
      const { secret } = await api.json<{ secret: string }>(
        `${V1}/workers/enrolments`,
        json({ name: `matrix-${enrolmentCounter}` }),
      );
      return {
        path: `${V1}/workers/register`,
        init: json({ enrolmentSecret: secret, capabilities: { agents: ['mock'], sandbox: [] } }),
      };
    },
  },
  {
    key: 'DELETE /api/v1/workers/{idOrName}',
    access: 'workers:enrol',
    success: 200,
    request: async (api) => ({
      path: `${V1}/workers/${await registeredWorker(api)}`,
      init: { method: 'DELETE' },
    }),
  },
  {
    key: 'POST /api/v1/workers/{idOrName}/drain',
    access: 'workers:enrol',
    success: 200,
    request: async (api) => ({
      path: `${V1}/workers/${await registeredWorker(api)}/drain`,
      init: { method: 'POST' },
    }),
  },
  {
    key: 'POST /api/v1/workers/{idOrName}/resume',
    access: 'workers:enrol',
    success: 200,
    request: async (api) => ({
      path: `${V1}/workers/${await registeredWorker(api)}/resume`,
      init: { method: 'POST' },
    }),
  },
  {
    key: 'POST /api/v1/workers/claim',
    access: 'workers:work',
    // The fixture's worker offers no agent: nothing is claimable for it, so the answer is 204.
    success: 204,
    request: async () => ({ path: `${V1}/workers/claim`, init: json({ waitSec: 0 }) }),
  },
  {
    key: 'POST /api/v1/workers/heartbeat',
    access: 'workers:work',
    success: 200,
    request: async () => ({ path: `${V1}/workers/heartbeat`, init: json({ leases: [] }) }),
  },
  {
    key: 'POST /api/v1/workers/runs/{id}/ops',
    access: 'workers:work',
    success: 200,
    request: async (api) => {
      const { runId } = await submitQueued(api);
      const claimed = await api.queue.claim(api.workerId, { runId });
      return {
        path: `${V1}/workers/runs/${runId}/ops`,
        init: json({
          fencingToken: claimed?.fence.fencingToken ?? -1,
          operation: { op: 'getRun' },
        }),
      };
    },
  },
  {
    key: 'GET /api/v1/workers/runs/{id}/base-pack',
    access: 'workers:work',
    success: 200,
    request: async (api) => {
      const repo = createTempRepo();
      const { runId } = await submitQueued(api, { repo });
      const claimed = await api.queue.claim(api.workerId, { runId });
      return {
        path: `${V1}/workers/runs/${runId}/base-pack?fencingToken=${claimed?.fence.fencingToken ?? -1}`,
        init: {},
      };
    },
  },
  {
    key: 'PUT /api/v1/workers/runs/{id}/artifacts/{name}',
    access: 'workers:work',
    success: 200,
    request: async (api) => {
      const { runId } = await submitQueued(api);
      const claimed = await api.queue.claim(api.workerId, { runId });
      const content = Buffer.from('diff --git a/x b/x\n');
      return {
        path: `${V1}/workers/runs/${runId}/artifacts/patch`,
        init: {
          method: 'PUT',
          headers: {
            'content-type': 'application/octet-stream',
            'x-aas-fencing-token': String(claimed?.fence.fencingToken ?? -1),
            'x-aas-sha256': createHash('sha256').update(content).digest('hex'),
          },
          body: content,
        },
      };
    },
  },
  {
    key: 'POST /api/v1/runs/{id}/report',
    access: 'workers:work',
    success: 200,
    request: async (api) => {
      // A run held by the fixture's worker under a fresh claim (claimed by id, so no match).
      const { runId } = await submitQueued(api);
      const claimed = await api.queue.claim(api.workerId, { runId });
      return {
        path: `${V1}/runs/${runId}/report`,
        init: json({
          fencingToken: claimed?.fence.fencingToken ?? -1,
          status: 'failed',
          reasonCode: 'AGENT_FAILED',
          detail: 'matrix',
        }),
      };
    },
  },
  {
    key: 'GET /api/v1/metrics',
    access: 'read',
    success: 200,
    request: async () => ({ path: `${V1}/metrics`, init: {} }),
  },
];

/** Written out by hand, independently of PERMISSIONS: who may call each route. */
const EVERYONE = 'everyone' as const;
const READERS: readonly TokenRole[] = ['viewer', 'operator', 'approver', 'admin'];
const EXPECTED_ALLOWED: Record<string, readonly TokenRole[] | typeof EVERYONE> = {
  'POST /api/v1/sessions': ['operator', 'admin'],
  'GET /api/v1/sessions': READERS,
  'GET /api/v1/sessions/{id}': READERS,
  'GET /api/v1/sessions/{id}/events': READERS,
  'GET /api/v1/sessions/{id}/events/stream': READERS,
  'GET /api/v1/sessions/{id}/verify': READERS,
  'GET /api/v1/stream': READERS,
  'GET /api/v1/runs/{id}/policy': READERS,
  'GET /api/v1/runs/{id}': READERS,
  'GET /api/v1/runs/{id}/patch': READERS,
  'GET /api/v1/runs/{id}/logs/{name}': READERS,
  'POST /api/v1/runs/{id}/cancel': ['operator', 'admin'],
  'GET /api/v1/workers': READERS,
  'GET /api/v1/whoami': READERS,
  'POST /api/v1/tokens': ['admin'],
  'GET /api/v1/tokens': ['admin'],
  'DELETE /api/v1/tokens/{idOrName}': ['admin'],
  'POST /api/v1/runs/{id}/approvals': ['approver', 'admin'],
  'GET /api/v1/runs/{id}/approvals': READERS,
  'GET /api/v1/approvals': READERS,
  'POST /api/v1/runs/{id}/promote': ['operator', 'approver', 'admin'],
  'GET /api/v1/runs/{id}/promotion': READERS,
  'GET /api/v1/runs/{id}/attestation': READERS,
  'GET /api/v1/keys': EVERYONE,
  'GET /api/v1/schedules': READERS,
  'POST /api/v1/schedules': ['operator', 'admin'],
  'GET /api/v1/schedules/{id}': READERS,
  'PATCH /api/v1/schedules/{id}': ['operator', 'admin'],
  'DELETE /api/v1/schedules/{id}': ['operator', 'admin'],
  'POST /api/v1/schedules/{id}/pause': ['operator', 'admin'],
  'POST /api/v1/schedules/{id}/resume': ['operator', 'admin'],
  'POST /api/v1/schedules/{id}/trigger': ['operator', 'admin'],
  'GET /api/v1/schedules/{id}/preview': READERS,
  'GET /api/v1/health': EVERYONE,
  'GET /api/v1/metrics': READERS,
  'POST /api/v1/workers/enrolments': ['admin'],
  'GET /api/v1/workers/enrolments': ['admin'],
  'DELETE /api/v1/workers/enrolments/{name}': ['admin'],
  'POST /api/v1/workers/register': EVERYONE,
  'DELETE /api/v1/workers/{idOrName}': ['admin'],
  'POST /api/v1/workers/{idOrName}/drain': ['admin'],
  'POST /api/v1/workers/{idOrName}/resume': ['admin'],
  'POST /api/v1/workers/claim': ['worker'],
  'POST /api/v1/workers/heartbeat': ['worker'],
  'POST /api/v1/workers/runs/{id}/ops': ['worker'],
  'GET /api/v1/workers/runs/{id}/base-pack': ['worker'],
  'PUT /api/v1/workers/runs/{id}/artifacts/{name}': ['worker'],
  'POST /api/v1/runs/{id}/report': ['worker'],
};

function expectedFromTable(route: RouteCase, caller: Caller): number {
  if (route.access === 'public') return route.success;
  if (!(TOKEN_ROLES as readonly string[]).includes(caller)) return 401;
  return (PERMISSIONS[route.access] as readonly string[]).includes(caller) ? route.success : 403;
}

function expectedByHand(route: RouteCase, caller: Caller): number {
  const allowed = EXPECTED_ALLOWED[route.key];
  if (allowed === undefined) throw new Error(`no hand-written expectation for ${route.key}`);
  if (allowed === EVERYONE) return route.success;
  if (!(TOKEN_ROLES as readonly string[]).includes(caller)) return 401;
  return allowed.includes(caller as TokenRole) ? route.success : 403;
}

function authorizationFor(api: RunningApi, caller: Caller): string | undefined {
  switch (caller) {
    case 'none':
      return undefined;
    case 'revoked':
      return `Bearer ${api.revokedSecret}`;
    case 'malformed-scheme':
      return `Basic ${Buffer.from('admin:admin').toString('base64')}`;
    case 'malformed-secret':
      return 'Bearer aas_tooshort';
    case 'unknown':
      return `Bearer aas_${'A'.repeat(43)}`;
    default:
      return `Bearer ${api.secrets[caller]}`;
  }
}

it('the hand-written table agrees with the permission table', () => {
  for (const route of ROUTES) {
    for (const caller of CALLERS) {
      expect(expectedFromTable(route, caller), `${route.key} as ${caller}`).toBe(
        expectedByHand(route, caller),
      );
    }
  }
  expect(Object.keys(EXPECTED_ALLOWED).sort()).toEqual(ROUTES.map((route) => route.key).sort());
  // The worker role holds only the worker protocol's own permission.
  for (const [permission, roles] of Object.entries(PERMISSIONS)) {
    expect(roles as readonly string[], permission).toEqual(
      permission === 'workers:work' ? ['worker'] : expect.not.arrayContaining(['worker']),
    );
  }
});

const dialects = await storeDialects();

for (const dialect of dialects) {
  describe.skipIf(!dialect.available)(`role matrix: ${dialect.name}`, () => {
    let fixture: StoreFixture;
    let api: RunningApi;
    let seeded: SeededRun;

    beforeAll(async () => {
      fixture = await dialect.open();
      api = await startApi(fixture);
      seeded = await seedFinishedRun(api);
      promoted = await seedFinishedRun(api, '/repos/demo', PROMOTABLE);
      await recordPolicyResolved(api, promoted);
      await api.json(`${V1}/runs/${promoted.runId}/approvals`, {
        ...json({ decision: 'approved' }),
        secret: api.secrets.approver,
      });
      // No body at all: the mode the job asked for (patch), as `{mode?}` promises.
      await api.json(`${V1}/runs/${promoted.runId}/promote`, { method: 'POST' });
      matrixSchedule = (await api.json<{ id: string }>(`${V1}/schedules`, json(scheduleBody()))).id;
    });
    afterAll(async () => {
      await api?.close();
      await fixture?.cleanup();
    });

    it('covers every route of the OpenAPI document', async () => {
      const document = (await (await fetch(`${api.url}/openapi.json`)).json()) as {
        paths: Record<string, Record<string, unknown>>;
      };
      const documented = Object.entries(document.paths).flatMap(([path, operations]) =>
        Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`),
      );
      expect(documented.sort()).toEqual(ROUTES.map((route) => route.key).sort());
    });

    for (const route of ROUTES) {
      it(`${route.key}: every caller gets the status its role allows`, async () => {
        const outcomes: Record<string, number> = {};
        const expected: Record<string, number> = {};
        for (const caller of CALLERS) {
          const { path, init } = await route.request(api, seeded);
          const headers = new Headers(init.headers);
          const authorization = authorizationFor(api, caller);
          if (authorization !== undefined) headers.set('authorization', authorization);
          const abort = new AbortController();
          const response = await fetch(`${api.url}${path}`, {
            ...init,
            headers,
            signal: abort.signal,
          });
          outcomes[caller] = response.status;
          expected[caller] = expectedByHand(route, caller);
          if (response.headers.get('content-type')?.startsWith('text/event-stream')) {
            abort.abort();
          } else if (response.status >= 400) {
            const body = (await response.json()) as { code: string };
            expect(ALL_CODES).toContain(body.code);
            if (response.status === 401) {
              expect(body.code).toBe('UNAUTHENTICATED');
              expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
            }
            if (response.status === 403) expect(body.code).toBe('FORBIDDEN');
          } else {
            await response.arrayBuffer();
          }
        }
        expect(outcomes).toEqual(expected);
      });
    }
  });
}
