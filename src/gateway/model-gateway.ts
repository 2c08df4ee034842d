import { chmodSync, lstatSync, rmSync } from 'node:fs';
import {
  type ClientRequest,
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Readable, Transform } from 'node:stream';
import {
  brotliDecompressSync,
  createBrotliDecompress,
  createGunzip,
  createInflate,
  gunzipSync,
  inflateSync,
} from 'node:zlib';
import {
  AasError,
  type Clock,
  type Logger,
  normaliseError,
  silentLogger,
} from '../kernel/index.js';
import {
  clientResponseHeaders,
  googleQuery,
  upstreamRequestHeaders,
  upstreamTarget,
} from './forward-headers.js';
import {
  type BudgetExceeded,
  budgetExceeded,
  hasLimit,
  leavesRoom,
  type ModelBudget,
  validateBudget,
} from './model-budget.js';
import {
  type CallRefusal,
  MODEL_PROVIDERS,
  type ModelApi,
  type ModelCallRecord,
  type ModelProvider,
  NO_USAGE,
  type SpentTotals,
  type TokenUsage,
} from './model-call-record.js';
import { guessProvider, pathnameOf, routeFor } from './model-routes.js';
import {
  type ModelUpstream,
  parseUpstream,
  type UpstreamConfig,
  upstreamPath,
} from './model-upstream.js';
import { isHeaderSafeKey, presentsPlaceholder } from './placeholder-key.js';
import { costOf, type PriceTable, priceFor, validatePriceTable } from './price-table.js';
import { type GatewayError, providerError, refusalOf } from './provider-error.js';
import { redactSecrets, SecretRedactor } from './secret-redactor.js';
import { isEventStream, usageParserFor } from './usage-parsers.js';

/**
 * The model gateway: the agent's only way to a model provider. It runs on the host, outside the
 * sandbox; the agent is given a per-run placeholder key and the gateway's address instead of the
 * provider's. Each call is authenticated with the placeholder, checked against the run's budget
 * before it is forwarded, sent upstream with the real key, and passed back as it arrives (event
 * streams chunk by chunk) while its usage is read on the side and priced.
 */

/** A Unix socket (what a sandbox gets, bind-mounted), or loopback TCP (tests, benchmarks). */
export type GatewayListen =
  | { readonly socketPath: string }
  | { readonly host: '127.0.0.1'; readonly port: number };

export interface ModelGatewayOptions {
  readonly listen: GatewayListen;
  /** A provider without an upstream answers every call with a 503. */
  readonly upstreams: {
    readonly anthropic?: UpstreamConfig;
    readonly openai?: UpstreamConfig;
    /** The Gemini API; `https://generativelanguage.googleapis.com` for Google's own. */
    readonly google?: UpstreamConfig;
  };
  /** The key the agent was given; every call must present exactly this. */
  readonly placeholderKey: string;
  readonly prices: PriceTable;
  /**
   * Checked as each call arrives, before anything is forwarded (count_tokens included). The call
   * that crosses a limit completes; calls already in flight at that moment complete too. Their
   * number is bounded: while any limit is set, at most `maxInFlightUnderBudget` costed calls are
   * forwarded at a time, and a call is let in beside others only while the totals plus, for
   * each call in flight, the most one call has counted so far stay under every limit. The
   * others wait their turn (in order of arrival; a call whose client leaves is dropped) and are
   * checked again when they get it. So concurrent calls overshoot a limit by at most what the
   * calls in flight cost, and there are at most `maxInFlightUnderBudget` of them. A forwarded
   * call answered 2xx without usage could not be counted; after one, every later call is
   * refused (fail closed).
   */
  readonly budget: ModelBudget;
  /**
   * How many costed calls (count_tokens is free and never waits) may be in flight at once while
   * the budget sets a limit; 4. Without a limit calls are never held back.
   */
  readonly maxInFlightUnderBudget?: number;
  /** Once per call, after it completed or failed. An exception it throws is logged and dropped. */
  readonly onCall: (record: ModelCallRecord) => void;
  /**
   * Once per gateway, when the totals first reach a limit, or a call is first refused for it (a
   * budget given up because an answer carried no usage is reported only then: an agent that
   * makes no further call has spent nothing more that could be refused).
   */
  readonly onBudgetExceeded: (reason: BudgetExceeded) => void;
  readonly clock: Clock;
  /** How long the upstream may stay silent (before its answer, or between chunks); 10 min. */
  readonly timeoutMs?: number;
  readonly logger?: Logger;
}

export interface ModelGateway {
  /** `http://127.0.0.1:PORT` on TCP; the socket path on a Unix socket. */
  readonly url: string;
  /** Totals over every call forwarded so far. */
  spent(): SpentTotals;
  /** Stops listening, cuts calls in flight (they are still recorded) and removes the socket. */
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 32 * 1024 * 1024;
const DEFAULT_TIMEOUT_MS = 10 * 60 * 1000;
const DEFAULT_MAX_IN_FLIGHT_UNDER_BUDGET = 4;
/** setTimeout silently turns larger delays into 1 ms. */
const MAX_TIMER_MS = 2_147_483_647;
/** sun_path holds 108 bytes on Linux, including the terminating NUL. */
const MAX_SOCKET_PATH_BYTES = 107;
/** Long enough that it cannot be guessed; `newPlaceholderKey` makes 40 characters. */
const MIN_PLACEHOLDER_LENGTH = 16;
/** The status a call is recorded with when the client left before it was sent one (nginx's). */
const CLIENT_CLOSED_REQUEST = 499;

const ignore = (): void => {};

interface GatewayConfig {
  readonly listen: GatewayListen;
  readonly upstreams: Partial<Record<ModelProvider, ModelUpstream>>;
  readonly placeholderKey: string;
  readonly prices: PriceTable;
  readonly budget: ModelBudget;
  /** Infinity when the budget sets no limit. */
  readonly maxInFlight: number;
  readonly onCall: (record: ModelCallRecord) => void;
  readonly onBudgetExceeded: (reason: BudgetExceeded) => void;
  readonly clock: Clock;
  readonly timeoutMs: number;
  readonly logger: Logger;
  /** Every upstream's secrets: scrubbed from anything the gateway says or logs. */
  readonly secrets: readonly string[];
}

/** One call while it is under way; turned into its record exactly once. */
interface Call {
  readonly provider: ModelProvider;
  readonly api: ModelApi | null;
  readonly startedMs: number;
  model: string | null;
  stream: boolean;
  status: number;
  usage: TokenUsage | null;
  refused: CallRefusal | null;
  forwarded: boolean;
  /** Holds one of the in-flight places a budget allows; given back when the call finishes. */
  holdsPlace: boolean;
  done: boolean;
}

/** A call waiting for an in-flight place. */
interface Waiter {
  /** Gives the waiter a place (already counted as taken). */
  admit(): void;
  /** The gateway is closing: the call is dropped. */
  drop(): void;
}

type BodyRead =
  | { readonly kind: 'ok'; readonly body: Buffer }
  | { readonly kind: 'too_large' }
  | { readonly kind: 'gone' };

/** Reads the request body up to `limit` bytes; past it the rest is drained and discarded. */
function readBody(request: IncomingMessage, limit: number): Promise<BodyRead> {
  const declared = Number(request.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    return Promise.resolve({ kind: 'too_large' });
  }
  return new Promise<BodyRead>((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = (): void => {
      request.removeListener('data', onData);
      request.removeListener('end', onEnd);
      request.removeListener('close', onClose);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size <= limit) {
        chunks.push(chunk);
        return;
      }
      cleanup();
      // Still flowing with no listener: the rest is read and dropped, so the answer gets out.
      request.resume();
      resolve({ kind: 'too_large' });
    };
    const onEnd = (): void => {
      cleanup();
      resolve({ kind: 'ok', body: Buffer.concat(chunks, size) });
    };
    const onClose = (): void => {
      cleanup();
      resolve({ kind: 'gone' });
    };
    request.on('data', onData);
    request.once('end', onEnd);
    request.once('close', onClose);
  });
}

/** The body without its Content-Encoding; null for an encoding the gateway cannot read. */
/**
 * A stream that decompresses an upstream answer in `encoding`; null for an uncompressed one,
 * `unreadable` for an encoding zlib does not know (the answer cannot be inspected, so it is not
 * passed on).
 */
function decoderFor(encoding: string | string[] | undefined): Transform | null | 'unreadable' {
  const name = (Array.isArray(encoding) ? encoding.join(',') : (encoding ?? 'identity'))
    .trim()
    .toLowerCase();
  switch (name) {
    case '':
    case 'identity':
      return null;
    case 'gzip':
    case 'x-gzip':
      return createGunzip();
    case 'deflate':
      return createInflate();
    case 'br':
      return createBrotliDecompress();
    default:
      return 'unreadable';
  }
}

function decodeBody(body: Buffer, encoding: string | undefined): Buffer | null {
  const name = (encoding ?? 'identity').trim().toLowerCase();
  const options = { maxOutputLength: MAX_BODY_BYTES };
  try {
    switch (name) {
      case '':
      case 'identity':
        return body;
      case 'gzip':
      case 'x-gzip':
        return gunzipSync(body, options);
      case 'deflate':
        return inflateSync(body, options);
      case 'br':
        return brotliDecompressSync(body, options);
      default:
        return null;
    }
  } catch {
    return null;
  }
}

type JsonObject = Record<string, unknown>;

function parseJsonObject(body: Buffer): JsonObject | null {
  try {
    const value: unknown = JSON.parse(body.toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as JsonObject)
      : null;
  } catch {
    return null;
  }
}

/**
 * A streamed chat completion reports usage only when asked to; the gateway asks, because a
 * call it cannot count is a call the budget cannot see. Null when the request already asks.
 */
function withStreamUsage(body: JsonObject): JsonObject | null {
  if (body.stream !== true) return null;
  const current = body.stream_options;
  const options =
    typeof current === 'object' && current !== null && !Array.isArray(current)
      ? (current as JsonObject)
      : {};
  if (options.include_usage === true) return null;
  return { ...body, stream_options: { ...options, include_usage: true } };
}

/** A value from the agent, shown in a message: quoted, one line, bounded. */
function shown(text: string): string {
  return JSON.stringify(text.length > 200 ? `${text.slice(0, 200)}…` : text);
}

class UpstreamTimeout extends Error {
  constructor(readonly timeoutMs: number) {
    super(`no answer from the upstream within ${timeoutMs} ms`);
  }
}

function headerNames(rawHeaders: readonly string[]): string[] {
  return rawHeaders.filter((_, index) => index % 2 === 0);
}

class GatewayServer {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly inFlight = new Set<ClientRequest>();
  private readonly totals = {
    calls: 0,
    inputTokens: 0,
    outputTokens: 0,
    cachedInputTokens: 0,
    costUsd: 0,
    unmeteredCalls: 0,
  };
  private budgetReported = false;
  private closing: Promise<void> | null = null;
  /** Costed calls forwarded and not yet finished, while a budget limits them. */
  private placesTaken = 0;
  /** Calls waiting for a place, first come first served. */
  private readonly waiting: Waiter[] = [];
  /** The most one forwarded call has counted so far, limit by limit: a call in flight's reserve. */
  private readonly largestCall = { costUsd: 0, inputTokens: 0, outputTokens: 0 };

  constructor(private readonly config: GatewayConfig) {
    // Nagle off: a streamed event is a few hundred bytes that must go out at once.
    this.server = createServer({ noDelay: true });
    this.server.on('connection', (socket: Socket) => {
      socket.setNoDelay(true);
      this.sockets.add(socket);
      socket.on('error', ignore);
      socket.once('close', () => this.sockets.delete(socket));
    });
    this.server.on('request', (request: IncomingMessage, response: ServerResponse) => {
      this.handle(request, response).catch((error: unknown) => {
        this.config.logger.error(
          { error: this.scrub(normaliseError(error).message) },
          'model gateway: a call failed unexpectedly',
        );
        response.destroy();
      });
    });
  }

  listen(): Promise<string> {
    const listen = this.config.listen;
    return new Promise<string>((resolve, reject) => {
      const onError = (error: Error): void => {
        const where = 'socketPath' in listen ? listen.socketPath : `${listen.host}:${listen.port}`;
        reject(
          new AasError(
            'INTERNAL',
            `the model gateway cannot listen on ${where}: ${error.message}`,
            {},
            { cause: error },
          ),
        );
      };
      this.server.once('error', onError);
      const onListening = (): void => {
        this.server.removeListener('error', onError);
        this.server.on('error', ignore);
        if (!('socketPath' in listen)) {
          const address = this.server.address() as AddressInfo;
          resolve(`http://127.0.0.1:${address.port}`);
          return;
        }
        try {
          // The sandboxed agent runs as the same host user, so owner-only access is enough.
          chmodSync(listen.socketPath, 0o600);
          resolve(listen.socketPath);
        } catch (error) {
          this.close().then(() => reject(normaliseError(error)), reject);
        }
      };
      if ('socketPath' in listen) this.server.listen(listen.socketPath, onListening);
      else this.server.listen(listen.port, listen.host, onListening);
    });
  }

  spent(): SpentTotals {
    return { ...this.totals };
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const stopped = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const waiter of this.waiting.splice(0)) waiter.drop();
    for (const outgoing of this.inFlight) outgoing.destroy();
    for (const socket of this.sockets) socket.destroy();
    await stopped;
    for (const upstream of Object.values(this.config.upstreams)) upstream.agent.destroy();
    if ('socketPath' in this.config.listen) removeSocketFile(this.config.listen.socketPath);
  }

  private scrub(text: string): string {
    return redactSecrets(text, this.config.secrets);
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const startedMs = this.config.clock.nowMs();
    request.on('error', ignore);
    response.on('error', ignore);
    const target = request.url ?? '/';
    const method = request.method ?? '';
    const route = routeFor(method, target);
    const call: Call = {
      provider: route?.provider ?? guessProvider(target, headerNames(request.rawHeaders)),
      api: route?.api ?? null,
      startedMs,
      model: route?.model ?? null,
      stream: route?.stream ?? false,
      status: 0,
      usage: null,
      refused: null,
      forwarded: false,
      holdsPlace: false,
      done: false,
    };
    if (route === null) {
      this.refuse(
        request,
        response,
        call,
        'unknown_route',
        `AAS: ${method} ${shown(pathnameOf(target))} is not a model API this gateway forwards`,
      );
      return;
    }
    const presented = { rawHeaders: request.rawHeaders, target };
    if (!presentsPlaceholder(presented, call.provider, this.config.placeholderKey)) {
      this.refuse(
        request,
        response,
        call,
        'auth',
        'AAS: invalid API key; present the key this run was given',
      );
      return;
    }
    const upstream = this.config.upstreams[call.provider];
    if (upstream === undefined) {
      this.refuse(
        request,
        response,
        call,
        'no_upstream',
        `AAS: no upstream is configured for ${call.provider} in this run`,
      );
      return;
    }
    if (call.provider === 'google') {
      const query = googleQuery(target);
      if (query.kind === 'bad') {
        this.refuse(request, response, call, 'bad_request', query.message);
        return;
      }
    }

    const read = await readBody(request, MAX_BODY_BYTES);
    // A gateway closed while the body arrived sends nothing more upstream.
    if (read.kind === 'gone' || this.closing !== null) {
      call.status = CLIENT_CLOSED_REQUEST;
      call.refused = 'bad_request';
      this.finish(call);
      return;
    }
    if (read.kind === 'too_large') {
      this.refuse(
        request,
        response,
        call,
        'too_large',
        `AAS: the request body is larger than ${MAX_BODY_BYTES} bytes`,
      );
      return;
    }
    const decoded = decodeBody(read.body, request.headers['content-encoding']);
    const body = decoded === null ? null : parseJsonObject(decoded);
    if (decoded === null || body === null) {
      this.refuse(
        request,
        response,
        call,
        'bad_request',
        decoded === null
          ? 'AAS: the request body has a content encoding the gateway cannot read'
          : 'AAS: the request body is not a JSON object',
      );
      return;
    }
    // Google names the model and the stream in the path; the others in the body.
    if (route.model === null) call.model = typeof body.model === 'string' ? body.model : null;
    if (route.stream === null) call.stream = body.stream === true;

    if (this.refuseOverBudget(request, response, call)) return;
    // Fail closed: under a cost budget, a call that could not be priced could not be counted.
    if (
      call.api !== 'count_tokens' &&
      this.config.budget.maxCostUsd !== undefined &&
      (call.model === null || priceFor(this.config.prices, call.model) === null)
    ) {
      const model = call.model === null ? 'the request names no model' : shown(call.model);
      this.refuse(
        request,
        response,
        call,
        'no_price',
        `AAS: no price is configured for ${model} and the run has a cost budget; add the model (or a prefix pattern ending in '*') to the price table`,
      );
      return;
    }

    if (call.api !== 'count_tokens' && Number.isFinite(this.config.maxInFlight)) {
      const admitted = await this.takePlace(call, response);
      if (!admitted || this.closing !== null || response.destroyed) {
        // The client left (or the gateway closed) while the call waited: nothing was forwarded.
        call.status = CLIENT_CLOSED_REQUEST;
        this.finish(call);
        return;
      }
      // The calls it waited for have finished, and may have spent the budget.
      if (this.refuseOverBudget(request, response, call)) return;
    }

    const changed = call.api === 'chat.completions' ? withStreamUsage(body) : null;
    const payload = changed === null ? decoded : Buffer.from(JSON.stringify(changed));
    this.forward(request, response, call, upstream, payload);
  }

  /** Refuses the call when the budget is spent (or can no longer be enforced); true if it did. */
  private refuseOverBudget(
    request: IncomingMessage,
    response: ServerResponse,
    call: Call,
  ): boolean {
    const exceeded = budgetExceeded(this.totals, this.config.budget);
    if (exceeded === null) return false;
    this.reportBudget(exceeded);
    this.refuse(
      request,
      response,
      call,
      'budget',
      exceeded.unmetered
        ? `AAS: ${exceeded.detail}; no further model calls are allowed`
        : `AAS: the run's model budget is spent (${exceeded.detail}); no further model calls are allowed`,
    );
    return true;
  }

  /**
   * Whether a call may take a place in flight now. A place must be free, and the calls already
   * in flight, each reserved at what the largest call so far cost, must leave room under every
   * limit: a call that would only find the budget spent by the time it is answered waits for
   * them to finish instead. With no call in flight there is always room, since the totals alone
   * decide; and once the budget is spent a call is let in only to be refused at once.
   */
  private mayTakePlace(): boolean {
    if (this.placesTaken >= this.config.maxInFlight) return false;
    if (this.placesTaken === 0) return true;
    if (budgetExceeded(this.totals, this.config.budget) !== null) return true;
    const reserved = {
      costUsd: this.largestCall.costUsd * this.placesTaken,
      inputTokens: this.largestCall.inputTokens * this.placesTaken,
      outputTokens: this.largestCall.outputTokens * this.placesTaken,
    };
    return leavesRoom(this.totals, reserved, this.config.budget);
  }

  /**
   * Resolves true once the call holds one of the places in flight a budget allows, at once if
   * it may take one and nobody waits before it; false if its client leaves (or the gateway
   * closes) while it waits, and then it no longer waits.
   */
  private takePlace(call: Call, response: ServerResponse): Promise<boolean> {
    if (response.destroyed) return Promise.resolve(false);
    if (this.waiting.length === 0 && this.mayTakePlace()) {
      this.placesTaken += 1;
      call.holdsPlace = true;
      return Promise.resolve(true);
    }
    return new Promise<boolean>((resolve) => {
      const onClose = (): void => {
        const index = this.waiting.indexOf(waiter);
        if (index !== -1) this.waiting.splice(index, 1);
        resolve(false);
        this.letWaitingIn();
      };
      const waiter: Waiter = {
        admit: () => {
          response.removeListener('close', onClose);
          call.holdsPlace = true;
          resolve(true);
        },
        drop: () => {
          response.removeListener('close', onClose);
          resolve(false);
        },
      };
      response.once('close', onClose);
      this.waiting.push(waiter);
    });
  }

  private givePlaceBack(call: Call): void {
    if (!call.holdsPlace) return;
    call.holdsPlace = false;
    this.placesTaken -= 1;
    this.letWaitingIn();
  }

  /** Lets waiting calls in, first come first served, while they may take a place. */
  private letWaitingIn(): void {
    while (this.waiting.length > 0 && this.mayTakePlace()) {
      const next = this.waiting.shift() as Waiter;
      this.placesTaken += 1;
      next.admit();
    }
  }

  /** Answers a call the gateway will not forward, in the provider's error shape. */
  private refuse(
    /** The agent's request, drained unread; null once its body was read (an answer refused). */
    request: IncomingMessage | null,
    response: ServerResponse,
    call: Call,
    kind: GatewayError,
    message: string,
  ): void {
    // A refused body is drained unread, so the answer goes out on a connection still usable.
    request?.resume();
    const answer = providerError(call.provider, kind, this.scrub(message));
    call.status = answer.status;
    call.refused = refusalOf(kind);
    if (!response.headersSent && !response.destroyed) {
      response.writeHead(answer.status, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(answer.body),
        'x-aas-refused': call.refused,
      });
      response.end(answer.body);
    }
    this.finish(call);
  }

  private forward(
    request: IncomingMessage,
    response: ServerResponse,
    call: Call,
    upstream: ModelUpstream,
    payload: Buffer,
  ): void {
    call.forwarded = true;
    const send = upstream.secure ? httpsRequest : httpRequest;
    const target = upstreamTarget(request.url ?? '/', call.provider, this.config.placeholderKey);
    const outgoing = send({
      method: 'POST',
      hostname: upstream.hostname,
      port: upstream.port,
      path: upstreamPath(upstream, target),
      auth: upstream.auth,
      agent: upstream.agent,
      headers: upstreamRequestHeaders(request.rawHeaders, call.provider, {
        apiKey: upstream.apiKey,
        placeholder: this.config.placeholderKey,
        bodyBytes: payload.length,
      }),
    });
    this.inFlight.add(outgoing);
    outgoing.once('close', () => this.inFlight.delete(outgoing));
    outgoing.on('socket', (socket: Socket) => socket.setNoDelay(true));
    outgoing.setTimeout(this.config.timeoutMs, () => {
      outgoing.destroy(new UpstreamTimeout(this.config.timeoutMs));
    });

    let clientGone = false;
    // The agent hung up: the upstream call is cut too, so it stops generating (and costing).
    response.once('close', () => {
      if (response.writableFinished) return;
      clientGone = true;
      outgoing.destroy();
    });

    outgoing.once('response', (incoming: IncomingMessage) => {
      this.relay(incoming, response, call, upstream, () => clientGone);
    });
    outgoing.on('error', (error: Error) => {
      if (call.done) return;
      if (clientGone) {
        if (call.status === 0) call.status = CLIENT_CLOSED_REQUEST;
        this.finish(call);
        return;
      }
      this.config.logger.warn(
        {
          provider: call.provider,
          api: call.api,
          model: call.model,
          upstream: upstream.origin,
          error: this.scrub(error.message),
        },
        'model gateway: the upstream call failed',
      );
      if (response.headersSent) {
        // Mid-answer: the relay sees its end cut and records the call.
        response.destroy();
        return;
      }
      const why =
        error instanceof UpstreamTimeout
          ? `did not answer within ${error.timeoutMs} ms`
          : `could not be reached (${errorCode(error)})`;
      this.refuse(
        request,
        response,
        call,
        'upstream_error',
        `AAS: the ${call.provider} upstream ${why}`,
      );
    });
    outgoing.end(payload);
  }

  /** Passes the upstream's answer through as it arrives, reading its usage on the side. */
  private relay(
    incoming: IncomingMessage,
    response: ServerResponse,
    call: Call,
    upstream: ModelUpstream,
    clientGone: () => boolean,
  ): void {
    call.status = incoming.statusCode ?? 502;
    const contentType = String(incoming.headers['content-type'] ?? '');
    const parser = call.api === null ? null : usageParserFor(call.api, contentType, call.stream);
    const redactor = new SecretRedactor(upstream.secrets);
    let ended = false;
    incoming.on('error', ignore);

    // The request asked for `identity`, but an upstream may compress all the same: its bytes
    // would pass the redactor and the usage parser unread (a gzipped echo of the key reached
    // the agent whole). Such a body is decompressed on its way through; one in an encoding
    // the gateway cannot read is not passed on at all.
    const decoding = decoderFor(incoming.headers['content-encoding']);
    if (decoding === 'unreadable') {
      incoming.destroy();
      this.refuse(
        null,
        response,
        call,
        'upstream_error',
        `AAS: the ${call.provider} upstream answered in an encoding the gateway cannot read (${String(incoming.headers['content-encoding'])})`,
      );
      return;
    }
    const source: Readable = decoding === null ? incoming : incoming.pipe(decoding);
    if (decoding !== null) {
      // A corrupt compressed body ends the answer as a cut-off one does (below), and so does
      // an upstream that hangs up mid-answer (a pipe does not pass that on).
      decoding.on('error', () => {
        incoming.destroy();
        decoding.destroy();
      });
      incoming.once('close', () => {
        if (!incoming.readableEnded) decoding.destroy();
      });
    }

    if (!response.destroyed) {
      response.writeHead(
        call.status,
        clientResponseHeaders(incoming.rawHeaders, upstream.secrets, {
          decoded: decoding !== null,
        }),
      );
      // The client learns at once that a stream has started, before its first event (or, for
      // Google's stream without `?alt=sse`, before the first element of its JSON array).
      if (isEventStream(contentType) || call.stream) response.flushHeaders();
    }
    source.on('data', (chunk: Buffer) => {
      parser?.push(chunk);
      const out = redactor.push(chunk);
      if (out.length > 0 && !response.write(out)) source.pause();
    });
    response.on('drain', () => source.resume());
    source.once('end', () => {
      ended = true;
      response.end(redactor.end());
      call.usage = parser?.finish() ?? null;
      this.finish(call);
    });
    source.once('close', () => {
      if (ended) return;
      // Cut off: what was counted so far was still generated, and is still charged.
      call.usage = parser?.finish() ?? null;
      if (!clientGone()) {
        call.refused = 'upstream_error';
        response.destroy();
      }
      this.finish(call);
    });
  }

  private finish(call: Call): void {
    if (call.done) return;
    call.done = true;
    const counted = call.api === 'count_tokens' ? NO_USAGE : (call.usage ?? NO_USAGE);
    // Answered 2xx, so the upstream did the work (and charges for it), yet said nothing about
    // how much: a field mask, a format the gateway cannot read, or a stream cut before its first
    // report. Counted as nothing, which a budget must not take on trust.
    const unmetered =
      call.forwarded &&
      call.api !== null &&
      call.api !== 'count_tokens' &&
      call.usage === null &&
      call.status >= 200 &&
      call.status < 300;
    const price =
      call.api === null || call.api === 'count_tokens' || call.model === null
        ? null
        : priceFor(this.config.prices, call.model);
    const costUsd = price === null ? 0 : costOf(counted, price);
    if (call.forwarded) {
      this.totals.calls += 1;
      this.totals.inputTokens += counted.inputTokens;
      this.totals.outputTokens += counted.outputTokens;
      this.totals.cachedInputTokens += counted.cachedInputTokens;
      this.totals.costUsd += costUsd;
      if (unmetered) this.totals.unmeteredCalls += 1;
      this.largestCall.costUsd = Math.max(this.largestCall.costUsd, costUsd);
      this.largestCall.inputTokens = Math.max(this.largestCall.inputTokens, counted.inputTokens);
      this.largestCall.outputTokens = Math.max(this.largestCall.outputTokens, counted.outputTokens);
    }
    if (unmetered) {
      this.config.logger.warn(
        { provider: call.provider, api: call.api, model: call.model, status: call.status },
        'model gateway: a model answer carried no usage; the call is counted as 0',
      );
    }
    const record: ModelCallRecord = {
      provider: call.provider,
      api: call.api,
      model: call.model,
      status: call.status,
      stream: call.stream,
      inputTokens: counted.inputTokens,
      outputTokens: counted.outputTokens,
      cachedInputTokens: counted.cachedInputTokens,
      costUsd,
      latencyMs: Math.max(0, this.config.clock.nowMs() - call.startedMs),
      refused: call.refused,
      unmetered,
    };
    try {
      this.config.onCall(record);
    } catch (error) {
      // An observer that throws must not take the gateway, or the run, down with it.
      this.config.logger.error(
        { error: this.scrub(normaliseError(error).message) },
        'model gateway: onCall threw',
      );
    }
    if (call.forwarded) {
      const exceeded = budgetExceeded(this.totals, this.config.budget);
      // A budget given up for an unmetered call is reported when a call is refused for it.
      if (exceeded !== null && exceeded.unmetered !== true) this.reportBudget(exceeded);
    }
    // Last, so a call let in now is checked against totals that include this one.
    this.givePlaceBack(call);
  }

  private reportBudget(reason: BudgetExceeded): void {
    if (this.budgetReported) return;
    this.budgetReported = true;
    try {
      this.config.onBudgetExceeded(reason);
    } catch (error) {
      this.config.logger.error(
        { error: this.scrub(normaliseError(error).message) },
        'model gateway: onBudgetExceeded threw',
      );
    }
  }
}

/** `ECONNREFUSED`, `ENOTFOUND`, …: enough to act on, and never a URL or a key. */
function errorCode(error: Error): string {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : 'connection failed';
}

function removeSocketFile(path: string): void {
  try {
    if (lstatSync(path).isSocket()) rmSync(path, { force: true });
  } catch {
    // Already gone.
  }
}

/** A stale socket from an earlier run is replaced; anything else at the path is a mistake. */
function clearSocketPath(path: string): void {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return;
  }
  if (!isSocket) {
    throw new AasError('INTERNAL', 'the model gateway socket path exists and is not a socket', {
      file: path,
    });
  }
  rmSync(path, { force: true });
}

function validateOptions(options: ModelGatewayOptions): GatewayConfig {
  const problems: string[] = [];
  const listen = options.listen;
  if ('socketPath' in listen) {
    if (listen.socketPath.length === 0) problems.push('listen.socketPath is empty');
    if (Buffer.byteLength(listen.socketPath) > MAX_SOCKET_PATH_BYTES) {
      problems.push(`listen.socketPath is longer than ${MAX_SOCKET_PATH_BYTES} bytes`);
    }
  } else {
    // Loopback only: anything wider would hand the placeholder-guarded keys to the network.
    if (listen.host !== '127.0.0.1') problems.push('listen.host must be 127.0.0.1');
    if (!Number.isSafeInteger(listen.port) || listen.port < 0 || listen.port > 65_535) {
      problems.push(`listen.port must be in 0..65535, got ${listen.port}`);
    }
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0 || timeoutMs > MAX_TIMER_MS) {
    problems.push(`timeoutMs must be in (0, ${MAX_TIMER_MS}], got ${timeoutMs}`);
  }
  const maxInFlight = options.maxInFlightUnderBudget ?? DEFAULT_MAX_IN_FLIGHT_UNDER_BUDGET;
  if (!Number.isSafeInteger(maxInFlight) || maxInFlight < 1) {
    problems.push(`maxInFlightUnderBudget must be a whole number >= 1, got ${maxInFlight}`);
  }
  const placeholder = options.placeholderKey;
  if (!isHeaderSafeKey(placeholder) || placeholder.length < MIN_PLACEHOLDER_LENGTH) {
    problems.push(
      `placeholderKey must be at least ${MIN_PLACEHOLDER_LENGTH} printable ASCII characters without spaces`,
    );
  }
  const upstreams: Partial<Record<ModelProvider, ModelUpstream>> = {};
  for (const provider of MODEL_PROVIDERS) {
    const config = options.upstreams[provider];
    if (config === undefined) continue;
    if (config.apiKey === placeholder) {
      problems.push(`placeholderKey is the real ${provider} key; the agent must never hold it`);
    }
    try {
      upstreams[provider] = parseUpstream(provider, config);
    } catch (error) {
      problems.push(normaliseError(error).message);
    }
  }
  for (const check of [
    () => validatePriceTable(options.prices),
    () => validateBudget(options.budget),
  ]) {
    try {
      check();
    } catch (error) {
      problems.push(normaliseError(error).message);
    }
  }
  if (problems.length > 0) {
    for (const upstream of Object.values(upstreams)) upstream.agent.destroy();
    throw new AasError('INVALID_ARGUMENT', `invalid model gateway options: ${problems.join('; ')}`);
  }
  return {
    listen,
    upstreams,
    placeholderKey: placeholder,
    prices: options.prices,
    budget: options.budget,
    maxInFlight: hasLimit(options.budget) ? maxInFlight : Number.POSITIVE_INFINITY,
    onCall: options.onCall,
    onBudgetExceeded: options.onBudgetExceeded,
    clock: options.clock,
    timeoutMs,
    logger: options.logger ?? silentLogger,
    secrets: Object.values(upstreams).flatMap((upstream) => upstream.secrets),
  };
}

/** Starts the gateway; resolves once it is listening. */
export async function startModelGateway(options: ModelGatewayOptions): Promise<ModelGateway> {
  const config = validateOptions(options);
  if ('socketPath' in config.listen) clearSocketPath(config.listen.socketPath);
  const server = new GatewayServer(config);
  let url: string;
  try {
    url = await server.listen();
  } catch (error) {
    await server.close().catch(ignore);
    throw error;
  }
  return { url, spent: () => server.spent(), close: () => server.close() };
}
