import { z } from 'zod';
import { AasError, type Code, type ErrorDetails, isCode } from '../../kernel/index.js';
import type { SessionAudit } from '../../promotion/index.js';
import type { JobSpec } from '../../runner/index.js';
import type { AttemptRecord, RunRecord, SessionRecord, StoredEvent } from '../../sessions/index.js';
import type { ModelSpend } from '../../store/index.js';
import {
  ApprovalListWire,
  type ApprovalWireView,
  asAttempt,
  asEvent,
  asRun,
  asSession,
  CancelWire,
  DecisionWire,
  EnrolmentListWire,
  EnrolmentWire,
  ErrorBodyWire,
  EventPageWire,
  HeartbeatReplyWire,
  IssuedTokenWire,
  KeysWire,
  type LeaseGrantView,
  LeaseGrantWire,
  NestedRunViewWire,
  NestedSessionViewWire,
  PreviewWire,
  type PromotionResultView,
  PromotionResultWire,
  RegisteredWorkerWire,
  RemoteWorkerWire,
  type RunApprovalsView,
  RunApprovalsWire,
  RunViewWire,
  ScheduleDetailWire,
  type ScheduleFireWireView,
  ScheduleListWire,
  ScheduleWire,
  type ScheduleWireView,
  type ScheduleWrittenView,
  ScheduleWrittenWire,
  SessionPageWire,
  SessionVerificationWire,
  SessionViewWire,
  SubmittedWire,
  TokenListWire,
  type TokenView,
  TokenWire,
  TriggeredWire,
  WithdrawnEnrolmentsWire,
  WorkerListWire,
  type WorkerView,
} from './wire.js';

export const API_PREFIX = '/api/v1';

/**
 * How long a worker waits for the control plane before treating a request as lost and retrying
 * it (the writes are numbered, so a retry never applies twice): a heartbeat, a runner operation,
 * a pack or artifact transfer.
 */
const WORKER_HEARTBEAT_TIMEOUT_MS = 10_000;
const WORKER_OPERATION_TIMEOUT_MS = 30_000;
const WORKER_TRANSFER_TIMEOUT_MS = 300_000;

/** Errors made from a 5xx answer: the server failed this time, which may not last. */
const serverFailures = new WeakSet<AasError>();

/**
 * Whether trying again later may succeed: the server was unreachable, dropped the connection,
 * is starting or draining, or failed with a 5xx, or held as many event streams as it allows
 * (another closes sooner or later). Bad input, a refused token or a protocol mismatch will not
 * change by waiting.
 */
export function isTransient(error: AasError): boolean {
  return (
    error.code === 'SERVER_UNAVAILABLE' ||
    error.code === 'STORE_UNAVAILABLE' ||
    error.code === 'TOO_MANY_STREAMS' ||
    serverFailures.has(error)
  );
}

export interface ServerClientOptions {
  /** `http(s)://host[:port][/prefix]`; a trailing `/` or `/api/v1` is accepted and dropped. */
  readonly serverUrl: string;
  /** Absent: requests carry no token, for the public routes (GET /keys, health). */
  readonly token?: string;
  /** Defaults to the global `fetch`; tests may pass their own. */
  readonly fetch?: typeof fetch;
  readonly userAgent?: string;
  /**
   * What to do when the server refuses `token` (401), for clients whose token is not an API
   * token (a worker's enrolment secret or credential); an API token's advice otherwise.
   */
  readonly refusedTokenHint?: string;
}

export interface SessionQuery {
  readonly status?: string;
  readonly repo?: string;
  readonly agent?: string;
  readonly label?: string;
  readonly requester?: string;
  readonly cursor?: string;
  readonly limit?: number;
}

export interface SessionPage {
  readonly items: SessionRecord[];
  readonly nextCursor: string | null;
}

export interface EventPage {
  readonly items: StoredEvent[];
  readonly nextAfter: number | null;
}

export interface SessionView {
  readonly session: SessionRecord;
  readonly runs: RunRecord[];
  /** Null from a server that predates spend reporting. */
  readonly spend: SessionSpend | null;
}

export interface SessionSpend {
  readonly total: ModelSpend;
  readonly runs: readonly { readonly runId: string; readonly spend: ModelSpend }[];
}

export interface RunView {
  readonly run: RunRecord;
  readonly attempts: AttemptRecord[];
}

type Query = Readonly<Record<string, string | number | undefined>>;

interface RequestOptions {
  readonly query?: Query;
  readonly body?: unknown;
  /** Raw bytes instead of a JSON body. */
  readonly bytes?: { readonly contentType: string; readonly content: Uint8Array };
  /** Give up after this long without an answer (SERVER_UNAVAILABLE, so callers may retry). */
  readonly timeoutMs?: number;
  /** Query parameters that repeat (`have=a&have=b`). */
  readonly repeated?: Readonly<Record<string, readonly string[]>>;
  readonly accept?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly signal?: AbortSignal;
}

/**
 * Checks and normalises a server URL. The token never belongs in it: credentials in a URL end
 * up in shell history, logs and error messages.
 */
export function normaliseServerUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    throw new AasError('CONFIG_INVALID', 'the server URL is not a URL', {
      field: '--server',
      hint: 'e.g. --server http://127.0.0.1:8001 (or AAS_SERVER)',
    });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new AasError('CONFIG_INVALID', 'the server URL must start with http:// or https://', {
      field: '--server',
    });
  }
  if (url.username !== '' || url.password !== '') {
    throw new AasError('CONFIG_INVALID', 'the server URL must not hold credentials', {
      field: '--server',
      hint: 'give the token with AAS_TOKEN (or --token), not in the URL',
    });
  }
  if (url.search !== '' || url.hash !== '') {
    throw new AasError('CONFIG_INVALID', 'the server URL must not have a query or a fragment', {
      field: '--server',
    });
  }
  const path = url.pathname.replace(/\/+$/, '').replace(/\/api\/v1$/, '');
  return `${url.origin}${path}`;
}

/** A bearer token is visible ASCII; anything else would be mangled or refused by `fetch`. */
function checkToken(token: string): string {
  const trimmed = token.trim();
  if (!/^[\x21-\x7e]+$/.test(trimmed)) {
    throw new AasError('CONFIG_INVALID', 'the token holds characters a bearer token cannot', {
      field: 'AAS_TOKEN / --token',
      hint: 'copy the secret `aas token create` printed, without quotes or spaces',
    });
  }
  return trimmed;
}

const NETWORK_REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection closed',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'connection timed out',
  UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
  UND_ERR_SOCKET: 'connection closed',
  UND_ERR_HEADERS_TIMEOUT: 'no answer in time',
  UND_ERR_BODY_TIMEOUT: 'the answer stalled',
};

const TLS_CODE =
  /^(ERR_TLS_|ERR_SSL_|CERT_|EPROTO$|DEPTH_ZERO_SELF_SIGNED_CERT$|SELF_SIGNED_CERT_IN_CHAIN$|UNABLE_TO_)/;

/** The innermost useful cause of a `fetch` failure: its code and message. */
function networkCause(thrown: unknown): { code: string | null; message: string } {
  let current: unknown = thrown;
  let found: { code: string | null; message: string } = {
    code: null,
    message: thrown instanceof Error ? thrown.message : String(thrown),
  };
  for (let depth = 0; depth < 5 && current instanceof Error; depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') found = { code, message: current.message };
    else if (found.code === null) found = { code: null, message: current.message };
    current = current.cause;
  }
  return found;
}

/**
 * A small typed client of the AAS REST API on the global `fetch`. Every failure becomes an
 * `AasError` from the closed code table; the token is sent only as a bearer header and is
 * removed from any text that comes back before it can reach a message.
 */
export class ServerClient {
  /** The server as shown to people: `http(s)://host[:port][/prefix]`, never with the token. */
  readonly url: string;
  readonly #api: string;
  /** Null: no Authorization header (the public routes only, such as the keys). */
  readonly #token: string | null;
  readonly #fetch: typeof fetch;
  readonly #userAgent: string;
  readonly #refusedTokenHint: string | undefined;

  constructor(options: ServerClientOptions) {
    this.url = normaliseServerUrl(options.serverUrl);
    this.#api = `${this.url}${API_PREFIX}`;
    this.#token = options.token === undefined ? null : checkToken(options.token);
    this.#fetch = options.fetch ?? fetch;
    this.#userAgent = options.userAgent ?? 'aas-cli';
    this.#refusedTokenHint = options.refusedTokenHint;
  }

  #hintFor(code: Code): { hint?: string } {
    if (code === 'UNAUTHENTICATED' && this.#refusedTokenHint !== undefined) {
      return { hint: this.#refusedTokenHint };
    }
    return hintFor(code, this.url);
  }

  /** Where a run's patch can be downloaded (with the token). */
  patchUrl(runId: string): string {
    return `${this.#api}/runs/${encodeURIComponent(runId)}/patch`;
  }

  async submitJob(job: JobSpec): Promise<z.infer<typeof SubmittedWire>> {
    if ('requestedBy' in job) {
      throw new AasError('JOB_INVALID', 'requestedBy is taken from the token, never sent', {
        field: 'requestedBy',
      });
    }
    return this.#json('POST', '/sessions', SubmittedWire, { body: job });
  }

  async listSessions(query: SessionQuery = {}): Promise<SessionPage> {
    const page = await this.#json('GET', '/sessions', SessionPageWire, { query: { ...query } });
    return { items: page.items.map(asSession), nextCursor: page.nextCursor ?? null };
  }

  /** The server's recomputation of a session's hash chain (`GET /sessions/{id}/verify`). */
  async verifySession(sessionId: string): Promise<SessionAudit> {
    const route = `/sessions/${segment(sessionId)}/verify`;
    const body = await this.#json('GET', route, SessionVerificationWire);
    return {
      sessionId,
      ok: body.ok,
      disagreements: body.disagreements,
      tablesChecked: body.tablesChecked,
      lastHash: body.lastHash,
      eventCount: body.events,
      firstProblem:
        body.ok || body.firstBrokenSeq === null
          ? null
          : {
              seq: body.firstBrokenSeq,
              kind: body.kind ?? 'hash-mismatch',
              detail: body.reason ?? 'the server did not say',
            },
    };
  }

  async getSession(sessionId: string): Promise<SessionView> {
    const route = `/sessions/${segment(sessionId)}`;
    const body = await this.#json('GET', route, z.unknown());
    const nested = NestedSessionViewWire.safeParse(body);
    if (nested.success) {
      return {
        session: asSession(nested.data.session),
        runs: nested.data.runs.map(asRun),
        spend: nested.data.spend ?? null,
      };
    }
    const { runs, spend, ...session } = this.#check(
      SessionViewWire,
      body,
      `GET ${API_PREFIX}${route}`,
    );
    return { session: asSession(session), runs: runs.map(asRun), spend: spend ?? null };
  }

  async readEvents(
    sessionId: string,
    range: { after?: number; limit?: number } = {},
  ): Promise<EventPage> {
    const page = await this.#json('GET', `/sessions/${segment(sessionId)}/events`, EventPageWire, {
      query: { after: range.after, limit: range.limit },
    });
    return { items: page.items.map(asEvent), nextAfter: page.nextAfter ?? null };
  }

  /**
   * Opens the live event stream after `after`; the caller reads `body` and aborts `signal` to
   * close it. `Last-Event-ID` carries the same seq, which is what the server resumes from.
   */
  async openEventStream(
    sessionId: string,
    options: { after: number; signal: AbortSignal },
  ): Promise<ReadableStream<Uint8Array>> {
    const response = await this.#send('GET', `/sessions/${segment(sessionId)}/events/stream`, {
      query: { after: options.after },
      accept: 'text/event-stream',
      headers: options.after > 0 ? { 'last-event-id': String(options.after) } : {},
      signal: options.signal,
    });
    const type = response.headers.get('content-type') ?? '';
    if (!type.startsWith('text/event-stream') || response.body === null) {
      await response.body?.cancel().catch(() => {});
      throw new AasError(
        'INTERNAL',
        `the server at ${this.url} did not answer with an event stream (content type "${this.redact(type)}")`,
        { hint: 'is this URL an AAS server, reached without a proxy that buffers responses?' },
      );
    }
    return response.body;
  }

  async getRun(runId: string): Promise<RunView> {
    const route = `/runs/${segment(runId)}`;
    const body = await this.#json('GET', route, z.unknown());
    const nested = NestedRunViewWire.safeParse(body);
    if (nested.success) {
      return { run: asRun(nested.data.run), attempts: nested.data.attempts.map(asAttempt) };
    }
    const { attempts, ...run } = this.#check(RunViewWire, body, `GET ${API_PREFIX}${route}`);
    return { run: asRun(run), attempts: attempts.map(asAttempt) };
  }

  async getPatch(runId: string): Promise<string> {
    const response = await this.#send('GET', `/runs/${segment(runId)}/patch`, {
      accept: 'text/x-diff, text/plain',
    });
    return this.#text(response);
  }

  /** `cancelled` at once (it was queued) or `cancel_requested` (its holder stops it). */
  async cancelRun(
    runId: string,
    options: { readonly signal?: AbortSignal; readonly timeoutMs?: number } = {},
  ): Promise<z.infer<typeof CancelWire>> {
    return this.#json('POST', `/runs/${segment(runId)}/cancel`, CancelWire, {
      body: {},
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    });
  }

  async decide(
    runId: string,
    input: { decision: 'approved' | 'rejected'; note: string | null; expiresInSec?: number },
  ): Promise<{ approval: ApprovalWireView; run: RunView['run'] }> {
    const result = await this.#json('POST', `/runs/${segment(runId)}/approvals`, DecisionWire, {
      body: input,
    });
    return { approval: result.approval, run: asRun(result.run) };
  }

  async runApprovals(runId: string): Promise<RunApprovalsView> {
    return this.#json('GET', `/runs/${segment(runId)}/approvals`, RunApprovalsWire);
  }

  async listApprovals(query: { status?: string; limit?: number }): Promise<ApprovalWireView[]> {
    return (await this.#json('GET', '/approvals', ApprovalListWire, { query })).items;
  }

  async promote(runId: string, mode?: string): Promise<PromotionResultView> {
    return this.#json('POST', `/runs/${segment(runId)}/promote`, PromotionResultWire, {
      body: mode === undefined ? {} : { mode },
    });
  }

  /** The attestation exactly as the server stored it (its bytes are what was signed). */
  async attestation(runId: string): Promise<string> {
    const response = await this.#send('GET', `/runs/${segment(runId)}/attestation`, {});
    return this.#text(response);
  }

  async publicKeys(): Promise<{ keyId: string; publicKeyPem: string }[]> {
    return (await this.#json('GET', '/keys', KeysWire)).keys;
  }

  async createToken(input: {
    name: string;
    role: string;
  }): Promise<{ token: TokenView; secret: string }> {
    return this.#json('POST', '/tokens', IssuedTokenWire, { body: input });
  }

  async listTokens(): Promise<TokenView[]> {
    return (await this.#json('GET', '/tokens', TokenListWire)).items;
  }

  async revokeToken(idOrName: string): Promise<TokenView> {
    return this.#json('DELETE', `/tokens/${segment(idOrName)}`, TokenWire);
  }

  async enrolWorker(input: {
    name: string;
    labels: readonly string[];
    ttlSec: number;
  }): Promise<z.infer<typeof EnrolmentWire>> {
    return this.#json('POST', '/workers/enrolments', EnrolmentWire, { body: input });
  }

  /** Enrolments not used yet and not expired. */
  async listEnrolments(): Promise<z.infer<typeof EnrolmentListWire>['items']> {
    return (await this.#json('GET', '/workers/enrolments', EnrolmentListWire)).items;
  }

  /** NOT_FOUND when the name has no unused enrolment. */
  async withdrawEnrolments(
    name: string,
  ): Promise<z.infer<typeof WithdrawnEnrolmentsWire>['withdrawn']> {
    const path = `/workers/enrolments/${segment(name)}`;
    return (await this.#json('DELETE', path, WithdrawnEnrolmentsWire)).withdrawn;
  }

  async revokeWorker(idOrName: string): Promise<z.infer<typeof RemoteWorkerWire>> {
    return this.#json('DELETE', `/workers/${segment(idOrName)}`, RemoteWorkerWire);
  }

  /** An administrator's drain: the worker finishes what it holds and gets no new claims. */
  async drainWorker(idOrName: string): Promise<z.infer<typeof RemoteWorkerWire>> {
    return this.#json('POST', `/workers/${segment(idOrName)}/drain`, RemoteWorkerWire);
  }

  async resumeWorker(idOrName: string): Promise<z.infer<typeof RemoteWorkerWire>> {
    return this.#json('POST', `/workers/${segment(idOrName)}/resume`, RemoteWorkerWire);
  }

  /** Exchanges a one-time enrolment secret (sent in the body, not as this client's token). */
  async registerWorker(input: {
    enrolmentSecret: string;
    capabilities: { agents: readonly string[]; sandbox: readonly string[] };
  }): Promise<{ worker: z.infer<typeof RemoteWorkerWire>; credential: string }> {
    return this.#json('POST', '/workers/register', RegisteredWorkerWire, { body: input });
  }

  /** Long-polls for a run this worker can execute; null when none came within `waitSec`. */
  async claimRun(waitSec: number, signal: AbortSignal): Promise<LeaseGrantView | null> {
    const response = await this.#send('POST', '/workers/claim', {
      body: { waitSec },
      signal,
      // The server answers within waitSec; past that plus a margin, the connection is dead.
      timeoutMs: (waitSec + 15) * 1000,
    });
    if (response.status === 204) {
      await response.body?.cancel().catch(() => {});
      return null;
    }
    const text = await this.#text(response);
    return this.#check(LeaseGrantWire, parseJson(text), `POST ${API_PREFIX}/workers/claim`);
  }

  /** Renews `leases`; `state.draining` says this worker is draining itself (SIGTERM). */
  async workerHeartbeat(
    leases: readonly { readonly runId: string; readonly fencingToken: number }[],
    state: { readonly draining: boolean; readonly timeoutMs?: number },
  ): Promise<z.infer<typeof HeartbeatReplyWire>> {
    return this.#json('POST', '/workers/heartbeat', HeartbeatReplyWire, {
      body: { leases, draining: state.draining },
      // A heartbeat that hangs would hold back every renewal: give up well within a lease.
      timeoutMs: Math.min(WORKER_HEARTBEAT_TIMEOUT_MS, state.timeoutMs ?? Number.POSITIVE_INFINITY),
    });
  }

  async leaseOp(runId: string, fencingToken: number, operation: unknown): Promise<unknown> {
    return this.#json('POST', `/workers/runs/${segment(runId)}/ops`, z.unknown(), {
      body: { fencingToken, operation },
      timeoutMs: WORKER_OPERATION_TIMEOUT_MS,
    });
  }

  async basePack(
    runId: string,
    fencingToken: number,
    haves: readonly string[],
  ): Promise<{ commit: string; pack: Buffer }> {
    const route = `/workers/runs/${segment(runId)}/base-pack`;
    const response = await this.#send('GET', route, {
      query: { fencingToken },
      repeated: { have: haves },
      accept: 'application/x-git-packfile',
      timeoutMs: WORKER_TRANSFER_TIMEOUT_MS,
    });
    const commit = response.headers.get('x-aas-base-commit') ?? '';
    let pack: Buffer;
    try {
      pack = Buffer.from(await response.arrayBuffer());
    } catch (thrown) {
      throw this.connectionLost(thrown);
    }
    if (!/^[0-9a-f]{40}$/.test(commit)) {
      throw new AasError(
        'INTERNAL',
        `the server at ${this.url} sent a base pack without its commit`,
        {
          route: `GET ${API_PREFIX}${route}`,
        },
      );
    }
    return { commit, pack };
  }

  async putRunArtifact(
    runId: string,
    upload: {
      readonly fencingToken: number;
      readonly name: string;
      readonly sha256: string;
      readonly originalBytes: number;
      readonly content: Buffer;
    },
  ): Promise<void> {
    const response = await this.#send(
      'PUT',
      `/workers/runs/${segment(runId)}/artifacts/${segment(upload.name)}`,
      {
        bytes: { contentType: 'application/octet-stream', content: upload.content },
        timeoutMs: WORKER_TRANSFER_TIMEOUT_MS,
        headers: {
          'x-aas-fencing-token': String(upload.fencingToken),
          'x-aas-sha256': upload.sha256,
          'x-aas-original-bytes': String(upload.originalBytes),
        },
      },
    );
    await response.body?.cancel().catch(() => {});
  }

  /** Whether waiting and trying again may succeed (see the module's isTransient). */
  isTransient(error: AasError): boolean {
    return isTransient(error);
  }

  async listWorkers(): Promise<WorkerView[]> {
    return (await this.#json('GET', '/workers', WorkerListWire)).items;
  }

  async listSchedules(): Promise<ScheduleWireView[]> {
    return (await this.#json('GET', '/schedules', ScheduleListWire)).items;
  }

  async getSchedule(
    idOrName: string,
  ): Promise<{ schedule: ScheduleWireView; fires: ScheduleFireWireView[] }> {
    return this.#json('GET', `/schedules/${segment(idOrName)}`, ScheduleDetailWire);
  }

  async createSchedule(body: unknown): Promise<ScheduleWrittenView> {
    return this.#json('POST', '/schedules', ScheduleWrittenWire, { body });
  }

  async updateSchedule(idOrName: string, body: unknown): Promise<ScheduleWrittenView> {
    return this.#json('PATCH', `/schedules/${segment(idOrName)}`, ScheduleWrittenWire, {
      body,
    });
  }

  async deleteSchedule(idOrName: string): Promise<ScheduleWireView> {
    return this.#json('DELETE', `/schedules/${segment(idOrName)}`, ScheduleWire);
  }

  async pauseSchedule(idOrName: string): Promise<ScheduleWireView> {
    return this.#json('POST', `/schedules/${segment(idOrName)}/pause`, ScheduleWire);
  }

  async resumeSchedule(idOrName: string): Promise<ScheduleWireView> {
    return this.#json('POST', `/schedules/${segment(idOrName)}/resume`, ScheduleWire);
  }

  async triggerSchedule(
    idOrName: string,
  ): Promise<{ scheduleId: string; sessionId: string; runId: string; slotAt: string }> {
    return this.#json('POST', `/schedules/${segment(idOrName)}/trigger`, TriggeredWire);
  }

  async previewSchedule(
    idOrName: string,
    count: number,
  ): Promise<{ scheduleId: string; name: string; times: string[] }> {
    return this.#json('GET', `/schedules/${segment(idOrName)}/preview`, PreviewWire, {
      query: { count },
    });
  }

  /** Removes the token from text that came from elsewhere (a server may echo a header). */
  redact(text: string): string {
    return this.#token === null ? text : text.split(this.#token).join('[token]');
  }

  #redactDetails(details: Record<string, unknown>): ErrorDetails {
    const clean = (value: unknown): unknown => {
      if (typeof value === 'string') return this.redact(value);
      if (Array.isArray(value)) return value.map(clean);
      if (typeof value === 'object' && value !== null) {
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, clean(v)]));
      }
      return value;
    };
    return clean(details) as ErrorDetails;
  }

  async #json<S extends z.ZodType>(
    method: string,
    path: string,
    schema: S,
    options: RequestOptions = {},
  ): Promise<z.infer<S>> {
    const response = await this.#send(method, path, options);
    const text = await this.#text(response);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new AasError('INTERNAL', `the server at ${this.url} sent an answer that is not JSON`, {
        route: `${method} ${API_PREFIX}${path}`,
        hint: 'is this URL an AAS server?',
      });
    }
    return this.#check(schema, body, `${method} ${API_PREFIX}${path}`);
  }

  #check<S extends z.ZodType>(schema: S, body: unknown, route: string): z.infer<S> {
    const parsed = schema.safeParse(body);
    if (parsed.success) return parsed.data;
    const issue = parsed.error.issues[0];
    throw new AasError(
      'INTERNAL',
      `the server at ${this.url} sent an answer this client does not understand: ${issue?.path.join('.') || '(body)'}: ${issue?.message ?? 'invalid'}`,
      { route, hint: 'the client and the server may be different AAS versions' },
    );
  }

  async #text(response: Response): Promise<string> {
    try {
      return await response.text();
    } catch (thrown) {
      throw this.connectionLost(thrown);
    }
  }

  async #send(method: string, path: string, options: RequestOptions): Promise<Response> {
    const url = new URL(`${this.#api}${path}`);
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    for (const [key, values] of Object.entries(options.repeated ?? {})) {
      for (const value of values) url.searchParams.append(key, value);
    }
    const headers: Record<string, string> = {
      ...(this.#token === null ? {} : { authorization: `Bearer ${this.#token}` }),
      accept: options.accept ?? 'application/json',
      'user-agent': this.#userAgent,
      ...options.headers,
    };
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    if (options.bytes !== undefined) headers['content-type'] = options.bytes.contentType;
    let response: Response;
    const timeout =
      options.timeoutMs === undefined ? undefined : AbortSignal.timeout(options.timeoutMs);
    const signals = [options.signal, timeout].filter(
      (signal): signal is AbortSignal => signal !== undefined,
    );
    try {
      response = await this.#fetch(url, {
        method,
        headers,
        // A redirect could carry the bearer header to another host: never follow one.
        redirect: 'manual',
        ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
        ...(options.bytes === undefined ? {} : { body: options.bytes.content }),
        ...(signals.length > 0 ? { signal: AbortSignal.any(signals) } : {}),
      });
    } catch (thrown) {
      if (options.signal?.aborted) throw thrown;
      if (timeout?.aborted) {
        throw new AasError(
          'SERVER_UNAVAILABLE',
          `the AAS server at ${this.url} did not answer ${method} ${API_PREFIX}${path} within ${options.timeoutMs} ms`,
          { hint: 'check the server and the network between; the request may be retried' },
        );
      }
      throw this.#unreachable(thrown);
    }
    if (response.status >= 300 && response.status < 400) {
      await response.body?.cancel().catch(() => {});
      const location = response.headers.get('location');
      throw new AasError(
        'SERVER_UNAVAILABLE',
        `the server at ${this.url} redirected ${method} ${API_PREFIX}${path}${location ? ` to ${this.redact(location)}` : ''}; the token is not sent on`,
        {
          hint: 'give the final address with --server or AAS_SERVER (https:// if the server asks)',
        },
      );
    }
    if (!response.ok) {
      const error = await this.#errorFrom(response, `${method} ${API_PREFIX}${path}`);
      if (response.status >= 500) serverFailures.add(error);
      throw error;
    }
    return response;
  }

  /** A connection that broke while an answer (a stream, say) was being read. */
  connectionLost(thrown: unknown): AasError {
    return this.#unreachable(thrown, 'lost the connection to');
  }

  /** Connection refused, DNS, TLS, reset: the server was not reached or dropped us. */
  #unreachable(thrown: unknown, what = 'cannot reach'): AasError {
    const cause = networkCause(thrown);
    const tls = cause.code !== null && TLS_CODE.test(cause.code);
    const reason = tls
      ? `TLS failure (${cause.code}): ${cause.message}`
      : cause.code && NETWORK_REASONS[cause.code]
        ? `${NETWORK_REASONS[cause.code]} (${cause.code})`
        : cause.message;
    return new AasError(
      'SERVER_UNAVAILABLE',
      `${what} the AAS server at ${this.url}: ${this.redact(reason)}`,
      {
        hint: tls
          ? "check the server's certificate (NODE_EXTRA_CA_CERTS adds a private CA) and that the URL's scheme matches the server"
          : 'check --server / AAS_SERVER and that `aas start` is running there',
      },
    );
  }

  async #errorFrom(response: Response, route: string): Promise<AasError> {
    let text = '';
    try {
      text = await response.text();
    } catch {
      // The body is only the explanation; the status still says what happened.
    }
    let body: unknown = null;
    try {
      body = JSON.parse(text);
    } catch {
      // Not JSON: a proxy's page or an older server. Handled below.
    }
    const parsed = ErrorBodyWire.safeParse(body);
    if (parsed.success && isCode(parsed.data.code)) {
      const details = this.#redactDetails(parsed.data.details ?? {});
      const code = parsed.data.code;
      // A refused token is fixed on this side, whatever the server suggests to API callers.
      const ours = code === 'UNAUTHENTICATED' || details.hint === undefined;
      // How long the server asked to wait (429, 503), in whole seconds, for whoever retries.
      const retryAfterSec = Number(response.headers.get('retry-after') ?? Number.NaN);
      // An AAS server that has no such route: --server named a path below the server's root.
      const rootless =
        code === 'NOT_FOUND' &&
        parsed.data.message.startsWith('no route ') &&
        new URL(this.url).pathname.replace(/\/+$/, '') !== '';
      return new AasError(code, this.redact(parsed.data.message), {
        ...details,
        ...(ours ? this.#hintFor(code) : {}),
        ...(rootless
          ? {
              field: '--server',
              hint: `give --server (or AAS_SERVER) the server's root URL, without ${new URL(this.url).pathname}: its API is under /api/v1`,
            }
          : {}),
        ...(Number.isInteger(retryAfterSec) && retryAfterSec >= 0 ? { retryAfterSec } : {}),
      });
    }
    const snippet = this.redact(text.replace(/\s+/g, ' ').trim()).slice(0, 200);
    // No AAS error body, and neither a server error (a proxy's or a crash's page) nor what a
    // proxy in front of AAS says (its own login, size and rate limits): something else
    // answers at that URL.
    if (response.status < 500 && !PROXY_STATUSES.has(response.status)) {
      return new AasError(
        'INVALID_ARGUMENT',
        `the server at ${this.url} answered ${route} with HTTP ${response.status}${snippet ? `: ${snippet}` : ''}, not as an AAS server does`,
        {
          field: '--server',
          status: response.status,
          hint: 'check --server / AAS_SERVER: it must be the root URL of a running `aas start` (its API is under /api/v1)',
        },
      );
    }
    const code = codeForStatus(response.status);
    return new AasError(
      code,
      `the server at ${this.url} answered ${route} with HTTP ${response.status}${snippet ? `: ${snippet}` : ''}`,
      {
        status: response.status,
        ...this.#hintFor(code),
      },
    );
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function segment(id: string): string {
  return encodeURIComponent(id);
}

/** Statuses a reverse proxy answers itself for an AAS server behind it. */
const PROXY_STATUSES: ReadonlySet<number> = new Set([401, 403, 408, 413, 415, 429, 431]);

function codeForStatus(status: number): Code {
  if (status === 400 || status === 422) return 'REQUEST_INVALID';
  if (status === 401) return 'UNAUTHENTICATED';
  if (status === 403) return 'FORBIDDEN';
  if (status === 404) return 'NOT_FOUND';
  if (status === 405) return 'METHOD_NOT_ALLOWED';
  if (status === 408) return 'REQUEST_TIMEOUT';
  if (status === 409) return 'CONFLICT';
  if (status === 413) return 'PAYLOAD_TOO_LARGE';
  if (status === 415) return 'MEDIA_TYPE_UNSUPPORTED';
  if (status === 429) return 'TOO_MANY_STREAMS';
  if (status === 431) return 'HEADERS_TOO_LARGE';
  if (status === 502 || status === 503 || status === 504) return 'SERVER_UNAVAILABLE';
  return 'INTERNAL';
}

function hintFor(code: Code, url: string): { hint?: string } {
  switch (code) {
    case 'UNAUTHENTICATED':
      return {
        hint: `set AAS_TOKEN (or --token) to a valid token of ${url}; an admin creates one with \`aas token create\``,
      };
    case 'FORBIDDEN':
      return {
        hint: 'ask an admin for a token whose role allows this (see `aas token create --help`)',
      };
    case 'SERVER_UNAVAILABLE':
      return { hint: 'the server may be starting or shutting down; try again shortly' };
    default:
      return {};
  }
}
