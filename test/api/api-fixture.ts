import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { expect } from 'vitest';
import {
  type ApiDeps,
  createApiServer,
  hashTokenSecret,
  issueToken,
  newEnrolmentSecret,
  newWorkerCredential,
  type StreamLimits,
} from '../../src/api/index.js';
import { createPromotionDeps } from '../../src/app/index.js';
import { parseConfig } from '../../src/config/index.js';
import {
  type Clock,
  type Code,
  httpStatusFor,
  IdPrefix,
  newId,
  sha256Hex,
  silentLogger,
} from '../../src/kernel/index.js';
import { type EffectivePolicy, mergePolicy, type NamedLayer } from '../../src/policy/index.js';
import { RunQueue } from '../../src/queue/index.js';
import { ScheduleService } from '../../src/schedules/index.js';
import { EventBus, SessionRecorder, sessionEvent } from '../../src/sessions/index.js';
import {
  type Store,
  type StoredEvent,
  TOKEN_ROLES,
  type TokenRole,
} from '../../src/store/index.js';
import { RemoteWorkers } from '../../src/workers/index.js';
import { makeTempDir, removeDir } from '../helpers/temp-repo.js';
import type { StoreFixture } from '../store/dialects.js';
import { StoreControlPlane } from './store-control-plane.js';

/** A clock that moves one millisecond per reading: ids (and so list order) follow call order. */
export class TickingClock implements Clock {
  private ms = Date.parse('2026-03-01T00:00:00.000Z');
  nowMs(): number {
    this.ms += 1;
    return this.ms;
  }
  now(): Date {
    return new Date(this.nowMs());
  }
  nowIso(): string {
    return this.now().toISOString();
  }
  elapsedMs(): number {
    return this.nowMs();
  }
}

export interface RunningApi {
  readonly app: FastifyInstance;
  readonly url: string;
  readonly store: Store;
  readonly bus: EventBus;
  readonly clock: Clock;
  readonly controlPlane: StoreControlPlane;
  /** The queue remote workers claim from (leases by this fixture's clock). */
  readonly queue: RunQueue;
  readonly remoteWorkers: RemoteWorkers;
  /** The remote worker whose credential is `secrets.worker`. */
  readonly workerId: string;
  readonly paths: { readonly runs: string; readonly artifacts: string };
  /** A live token secret per role. */
  readonly secrets: Record<TokenRole, string>;
  readonly revokedSecret: string;
  /** `fetch` against the server with `Authorization: Bearer <secret>` when a secret is given. */
  request(path: string, init?: RequestInit & { secret?: string | null }): Promise<Response>;
  /** Like `request` with the admin's token. */
  json<T = unknown>(path: string, init?: RequestInit & { secret?: string | null }): Promise<T>;
  close(): Promise<void>;
}

export interface ApiOptions {
  readonly bodyLimitBytes?: number;
  readonly requestTimeoutMs?: number;
  readonly streamPollMs?: number;
  readonly streamKeepAliveMs?: number;
  readonly feedRetryMs?: number;
  readonly streamLimits?: StreamLimits;
  /** The queue's per-repository limit (AAS_MAX_RUNNING_PER_REPO); none by default. */
  readonly maxRunningPerRepo?: number;
  readonly store?: Store;
  readonly bus?: EventBus;
  /** The panel build to serve; by default a directory that does not exist (not built). */
  readonly panelDir?: string;
}

export async function startApi(
  fixture: StoreFixture,
  options: ApiOptions = {},
): Promise<RunningApi> {
  const store = options.store ?? fixture.store;
  const bus = options.bus ?? new EventBus();
  const clock = new TickingClock();
  const dir = makeTempDir('aas-api-');
  const paths = { runs: join(dir, 'runs'), artifacts: join(dir, 'artifacts') };
  mkdirSync(paths.runs, { recursive: true });
  mkdirSync(paths.artifacts, { recursive: true });
  const controlPlane = new StoreControlPlane({ store, clock, bus });

  const secrets = {} as Record<TokenRole, string>;
  const suffix = Math.random().toString(36).slice(2, 8);
  for (const role of TOKEN_ROLES) {
    // Its secret is a worker's credential, below.
    if (role === 'worker') continue;
    const issued = await issueToken(store, clock, {
      name: `${role}-${suffix}`,
      role,
      createdBy: 'fixture',
    });
    secrets[role] = issued.secret;
  }
  // The worker role's secret is a real remote worker's credential (bound to a worker, as the
  // worker routes demand). It offers no agent, so its own claims find nothing unless pinned.
  const enrolmentSecret = newEnrolmentSecret();
  await store.createWorkerEnrolment({
    id: newId(IdPrefix.enrolment, clock.nowMs()),
    name: `worker-${suffix}`,
    labels: [],
    secretSha256: hashTokenSecret(enrolmentSecret),
    createdAt: clock.nowIso(),
    createdBy: 'fixture',
    expiresAt: new Date(clock.nowMs() + 3_600_000).toISOString(),
  });
  secrets.worker = newWorkerCredential();
  const fixtureWorker = await store.registerWorker({
    enrolmentSecretSha256: hashTokenSecret(enrolmentSecret),
    nowIso: clock.nowIso(),
    workerId: newId(IdPrefix.worker, clock.nowMs()),
    credentialSha256: hashTokenSecret(secrets.worker),
    capabilities: { agents: [], sandbox: [] },
  });
  const revoked = await issueToken(store, clock, {
    name: `revoked-${suffix}`,
    role: 'admin',
    createdBy: 'fixture',
  });
  await store.revokeToken(revoked.token.id, clock.nowIso());

  const promotion = createPromotionDeps({
    config: parseConfig({ env: { AAS_HOME: dir }, cwd: dir }),
    store,
    clock,
    bus,
    log: silentLogger,
    owner: 'api-test',
  });
  const queue = new RunQueue(
    { store, clock, log: silentLogger, bus },
    {
      leaseMs: 60_000,
      retryBackoff: { baseMs: 1_000, maxMs: 10_000 },
      ...(options.maxRunningPerRepo === undefined
        ? {}
        : { maxRunningPerRepo: options.maxRunningPerRepo }),
    },
  );
  const remoteWorkers = new RemoteWorkers(
    { queue, store, clock, bus, log: silentLogger },
    {
      pollMs: options.streamPollMs ?? 60 * 60 * 1000,
      leaseMs: 30_000,
      serverPolicy: null,
      budgets: {},
    },
  );
  const deps: ApiDeps = {
    store,
    clock,
    log: silentLogger,
    bus,
    controlPlane,
    promotion: promotion.service,
    schedules: new ScheduleService({ store, clock, bus }),
    workerGateway: remoteWorkers,
    paths,
    panelDir: options.panelDir ?? join(dir, 'panel'),
    bodyLimitBytes: options.bodyLimitBytes ?? 64 * 1024,
    ...(options.requestTimeoutMs === undefined
      ? {}
      : { requestTimeoutMs: options.requestTimeoutMs }),
    streamPollMs: options.streamPollMs ?? 60 * 60 * 1000,
    streamKeepAliveMs: options.streamKeepAliveMs ?? 60 * 60 * 1000,
    streamLimits: options.streamLimits ?? { maxStreams: 500, maxStreamsPerToken: 50 },
    ...(options.feedRetryMs === undefined ? {} : { feedRetryMs: options.feedRetryMs }),
  };
  const app = await createApiServer(deps);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  const url = `http://127.0.0.1:${address.port}`;

  const request = (path: string, init: RequestInit & { secret?: string | null } = {}) => {
    const { secret, ...rest } = init;
    const headers = new Headers(rest.headers);
    const token = secret === undefined ? secrets.admin : secret;
    if (token !== null) headers.set('authorization', `Bearer ${token}`);
    return fetch(`${url}${path}`, { ...rest, headers });
  };
  return {
    app,
    url,
    store,
    bus,
    clock,
    controlPlane,
    queue,
    remoteWorkers,
    workerId: fixtureWorker.id,
    paths,
    secrets,
    revokedSecret: revoked.secret,
    request,
    async json<T>(path: string, init?: RequestInit & { secret?: string | null }): Promise<T> {
      const response = await request(path, init);
      const body = (await response.json()) as T;
      if (!response.ok) {
        throw new Error(`${path}: ${response.status} ${JSON.stringify(body)}`);
      }
      return body;
    },
    async close() {
      remoteWorkers.stop();
      await app.close();
      removeDir(dir);
    },
  };
}

/** A job whose runs can be approved and promoted without a repository: patch mode onto main. */
export const PROMOTABLE = { promotion: { mode: 'patch', targetBranch: 'main' } } as const;

/** A minimal valid job. */
export function job(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { task: 'fix the typo', repo: '/repos/demo', agent: 'mock', ...overrides };
}

export function postJson(
  body: unknown,
  extra: RequestInit & { secret?: string | null } = {},
): RequestInit & { secret?: string | null } {
  return {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    ...extra,
  };
}

export interface SeededRun {
  readonly sessionId: string;
  readonly runId: string;
  readonly patch: string;
  readonly logs: Record<string, string>;
}

/**
 * A run as the runner leaves it: claimed, two attempts (the first failed its validator, the
 * second passed), agent and validator logs on disk, a stored patch, `ready_for_promotion`.
 */
export async function seedFinishedRun(
  api: RunningApi,
  repo = '/repos/demo',
  overrides: Record<string, unknown> = {},
): Promise<SeededRun> {
  const identity = {
    tokenId: 'tok_000000000000000000000000',
    name: 'seeder',
    role: 'operator' as const,
  };
  const { sessionId, runId } = await api.controlPlane.submitJob(
    job({ repo, ...overrides }),
    identity,
  );
  const recorder = new SessionRecorder(api, sessionId, 'runner-1');
  const startedAt = api.clock.nowIso();
  await recorder.updateRun(
    runId,
    {
      status: 'running',
      startedAt,
      leaseOwner: 'runner-1',
      leaseExpiresAt: new Date(api.clock.nowMs() + 60_000).toISOString(),
    },
    [sessionEvent('run.started', { runId, owner: 'runner-1', leaseExpiresAt: startedAt })],
  );
  const logs: Record<string, string> = {};
  for (const number of [1, 2]) {
    const attemptId = newId(IdPrefix.attempt, api.clock.nowMs());
    await recorder.createAttempt({ id: attemptId, runId, number, agentId: 'mock' }, [
      sessionEvent('run.attempt.started', {
        runId,
        attemptId,
        attempt: number,
        agentId: 'mock',
        feedback: [],
      }),
    ]);
    const attemptDir = join(api.paths.runs, runId, `attempt-${number}`);
    mkdirSync(join(attemptDir, 'validators'), { recursive: true });
    const files: Record<string, string> = {
      'stdout.log': `attempt ${number} says hello\n`,
      'stderr.log': `attempt ${number} warns\n`,
      'validators/validator-1.stdout.log': `validator 1 of attempt ${number}\n`,
      'validators/validator-1.stderr.log': number === 1 ? 'FAIL greet.test\n' : '',
    };
    for (const [file, content] of Object.entries(files)) {
      writeFileSync(join(attemptDir, file), content);
      logs[`${number}.${file.replace('validators/', '')}`] = content;
    }
    await recorder.finishAttempt(
      {
        attemptId,
        status: number === 1 ? 'failed' : 'succeeded',
        reasonCode: number === 1 ? 'GATE_FAILED' : 'GATES_PASSED',
        detail: { attempt: number },
      },
      [
        sessionEvent(number === 1 ? 'gate.failed' : 'gate.passed', {
          runId,
          attempt: number,
          gate: 'validator-1',
          code: number === 1 ? 'VALIDATOR_FAILED' : 'GATES_PASSED',
          detail: '',
          durationMs: 1,
        }),
      ],
    );
  }
  const patch =
    'diff --git a/README.md b/README.md\n--- a/README.md\n+++ b/README.md\n@@ -1 +1 @@\n-teh\n+the\n';
  const sha256 = sha256Hex(patch);
  writeFileSync(join(api.paths.artifacts, `${sha256}.patch`), patch);
  await recorder.updateRun(
    runId,
    {
      status: 'ready_for_promotion',
      reasonCode: 'GATES_PASSED',
      patchSha256: sha256,
      baseRef: 'main',
      baseCommit: 'c0ffee'.repeat(6).concat('c0ff'),
      finishedAt: api.clock.nowIso(),
      leaseOwner: null,
      leaseExpiresAt: null,
    },
    [
      sessionEvent('run.completed', {
        runId,
        status: 'ready_for_promotion',
        reasonCode: 'GATES_PASSED',
        detail: 'every gate passed',
        patchSha256: sha256,
      }),
    ],
  );
  return { sessionId, runId, patch, logs };
}

/** A repository layer with an allow-list, a deny rule and a runtime rule, for policy tests. */
export const REPO_LAYER: NamedLayer = {
  name: 'repo',
  source: '.aas/policy.yaml',
  layer: {
    paths: {
      allow: ['src/**', 'docs/**', 'dist/**'],
      deny: ['src/secret/**'],
      runtime: ['dist/**'],
    },
    limits: { timeoutSec: 600 },
  },
};

/**
 * Records the run's `policy.resolved` as the runner does before an agent's first attempt:
 * the layers' names and sources, and the merged policy as it is (plain JSON).
 */
export async function recordPolicyResolved(
  api: RunningApi,
  run: { readonly sessionId: string; readonly runId: string },
  agentId = 'mock',
  /** Anything: a record an older or a broken version wrote is recorded as given. */
  effective: unknown = mergePolicy([REPO_LAYER]),
): Promise<StoredEvent[]> {
  const layers =
    typeof effective === 'object' && effective !== null && 'layers' in effective
      ? (effective as EffectivePolicy).layers
      : [];
  return new SessionRecorder(api, run.sessionId, 'runner-1').append(
    sessionEvent('policy.resolved', { runId: run.runId, agentId, layers, effective }),
  );
}

/** A queued run of a fresh session. */
export function submitQueued(api: RunningApi, overrides: Record<string, unknown> = {}) {
  return api.controlPlane.submitJob(job(overrides), {
    tokenId: 'tok_000000000000000000000000',
    name: 'seeder',
    role: 'operator',
  });
}

/** Asserts the error model: status from the code's table entry, body `{code, message, details}`. */
export async function expectError(
  response: Response,
  code: Code,
  field?: string,
): Promise<ErrorBody> {
  const body = (await response.json()) as ErrorBody;
  expect({ status: response.status, code: body.code }).toEqual({
    status: httpStatusFor(code),
    code,
  });
  expect(typeof body.message).toBe('string');
  expect(typeof body.details).toBe('object');
  if (field !== undefined) expect(body.details.field).toBe(field);
  return body;
}

export interface ErrorBody {
  readonly code: Code;
  readonly message: string;
  readonly details: Record<string, unknown>;
}
