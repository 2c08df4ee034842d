import { lookup } from 'node:dns/promises';
import { chmodSync, lstatSync, rmSync } from 'node:fs';
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type Server,
  type ServerResponse,
  STATUS_CODES,
} from 'node:http';
import { BlockList, isIP, connect as netConnect, type Socket } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { Duplex } from 'node:stream';
import { AasError, type Clock, normaliseError } from '../kernel/index.js';

/**
 * The only way out of a sandbox whose network policy is an allow-list. The sandbox has an empty
 * network namespace; this proxy runs on the host, listens on a Unix socket that is bind-mounted
 * into the sandbox, and lets each request through only if the policy admits its host and port.
 * It speaks the two forms ordinary clients use with HTTP_PROXY / HTTPS_PROXY: `CONNECT host:port`
 * tunnels (https and anything else over TCP) and absolute-form plain http requests.
 */

/** One attempt to reach the outside, allowed or refused; every attempt produces exactly one. */
export interface EgressDecision {
  readonly kind: 'allowed' | 'refused';
  /** 'CONNECT', 'GET', ...; '' when the request could not be parsed. */
  readonly method: string;
  /** As requested (trimmed, lower case, IPv6 without brackets); '' when unparsable. */
  readonly host: string;
  readonly port: number | null;
  /** `<machine-readable phrase>: <detail>` when refused, null when allowed. */
  readonly reason: string | null;
  readonly atMs: number;
}

export interface EgressProxyOptions {
  /** Unix socket to listen on. A stale socket there is replaced; any other file is an error. */
  readonly socketPath: string;
  /**
   * The policy's allowsHost. It receives the canonical host (WHATWG URL form: lower case,
   * punycode, normal IPv4 form, IPv6 without brackets, no trailing dot) and the port.
   */
  readonly decide: (host: string, port: number) => boolean;
  /** Called once per attempt. An exception it throws is swallowed, never seen by the proxy. */
  readonly onDecision: (decision: EgressDecision) => void;
  readonly clock: Clock;
  /** Budget for resolving the name and connecting upstream; default 10 000 ms. */
  readonly connectTimeoutMs?: number;
  /** Attempts in progress at once (open tunnels, requests in flight); default 64. */
  readonly maxConcurrentConnections?: number;
  /** Name to addresses; default `dns.lookup` with all addresses. Tests fake DNS with it. */
  readonly resolve?: (host: string) => Promise<string[]>;
}

export interface EgressProxy {
  readonly socketPath: string;
  /** Stops listening, cuts every open connection and removes the socket file. Idempotent. */
  close(): Promise<void>;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_CONCURRENT = 64;
/** setTimeout silently turns larger delays into 1 ms. */
const MAX_TIMER_MS = 2_147_483_647;
/** sun_path holds 108 bytes on Linux, including the terminating NUL. */
const MAX_SOCKET_PATH_BYTES = 107;
/** How long a refused client may keep its end open after the answer before it is cut. */
const LINGER_MS = 5_000;

/**
 * Hop-by-hop headers describe one connection, not the message, so they are never forwarded.
 * Every `Proxy-*` header goes too: credentials meant for a proxy must not reach the origin.
 */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'te',
  'trailer',
  'trailers',
  'transfer-encoding',
  'upgrade',
]);

/**
 * Addresses a NAME must never resolve to. A policy that admits `api.example.com` admits a
 * service on the internet; if the name resolves to the host itself, to a link-local address
 * (169.254.169.254 is the cloud metadata service) or to a multicast group, DNS has been turned
 * against the policy. An IP literal is not checked: the policy named that address explicitly.
 */
const SPECIAL_RANGES: ReadonlyArray<
  readonly [label: string, network: string, prefix: number, family: 'ipv4' | 'ipv6']
> = [
  // 0.0.0.0/8 is "this network"; connecting to 0.0.0.0 reaches the local host on Linux.
  ['unspecified', '0.0.0.0', 8, 'ipv4'],
  ['loopback', '127.0.0.0', 8, 'ipv4'],
  ['link-local', '169.254.0.0', 16, 'ipv4'],
  ['multicast', '224.0.0.0', 4, 'ipv4'],
  ['broadcast', '255.255.255.255', 32, 'ipv4'],
  ['unspecified', '::', 128, 'ipv6'],
  ['loopback', '::1', 128, 'ipv6'],
  ['link-local', 'fe80::', 10, 'ipv6'],
  ['multicast', 'ff00::', 8, 'ipv6'],
  // The IPv6 address of one cloud's metadata service sits in the unique-local range.
  ['metadata', 'fd00:ec2::254', 128, 'ipv6'],
  // Shared address space (RFC 6598): another cloud's metadata service is 100.100.100.200.
  ['shared-address-space', '100.64.0.0', 10, 'ipv4'],
  ['benchmarking', '198.18.0.0', 15, 'ipv4'],
  // This host's own interface addresses reach services listening on 0.0.0.0 (a database,
  // the AAS server itself) from outside the sandbox's network namespace.
  ...hostInterfaceRanges(),
];

function hostInterfaceRanges(): [string, string, number, 'ipv4' | 'ipv6'][] {
  return Object.values(networkInterfaces())
    .flat()
    .filter((entry) => entry !== undefined)
    .map((entry) =>
      entry.family === 'IPv6'
        ? ['host-address', entry.address.split('%')[0] ?? entry.address, 128, 'ipv6']
        : ['host-address', entry.address, 32, 'ipv4'],
    );
}

// BlockList also matches IPv4-mapped IPv6 addresses (::ffff:127.0.0.1) against IPv4 rules.
const SPECIAL_LISTS: ReadonlyArray<readonly [label: string, list: BlockList]> = SPECIAL_RANGES.map(
  ([label, network, prefix, family]) => {
    const list = new BlockList();
    list.addSubnet(network, prefix, family);
    return [label, list] as const;
  },
);

/**
 * The first address a NAME must not be connected to, with what kind of address it is, or null.
 * Every address counts, not just the one that would be used: the connection falls back to
 * later addresses when earlier ones fail.
 */
export function findSpecialAddress(
  addresses: readonly string[],
): { readonly address: string; readonly kind: string } | null {
  for (const address of addresses) {
    const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    for (const [kind, list] of SPECIAL_LISTS)
      if (list.check(address, family)) return { address, kind };
  }
  return null;
}

interface Target {
  /** As requested: trimmed, lower case, IPv6 without brackets. What decisions report. */
  readonly requested: string;
  /** Canonical form: what the policy judges and what is resolved or connected to. */
  readonly host: string;
  readonly port: number;
}

type ParsedTarget =
  | { readonly ok: true; readonly target: Target }
  | {
      readonly ok: false;
      readonly host: string;
      readonly port: number | null;
      readonly code: string;
      readonly detail: string;
    };

/** A request target or header value shown in a message: quoted, one line, bounded. */
function shown(text: string): string {
  return JSON.stringify(text.length > 200 ? `${text.slice(0, 200)}…` : text);
}

function hostPort(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * Parses `host`, `host:port`, `[v6]` or `[v6]:port`. With `defaultPort` null a port is required
 * (CONNECT). Anything that could mean two different hosts to two different parsers (userinfo,
 * backslashes, percent-encoding, whitespace, a bare IPv6 address) is refused outright.
 */
function parseAuthority(raw: string, defaultPort: number | null): ParsedTarget {
  const fail = (code: string, detail: string, host = '', port: number | null = null) =>
    ({ ok: false, host, port, code, detail }) as const;
  const text = raw.trim().toLowerCase();
  if (text === '') return fail('empty-host', 'the request names no host');
  if (text.includes('@')) {
    return fail('userinfo-not-allowed', `${shown(raw)} carries user information (user@host)`);
  }
  if (/[\s/\\?#%]/.test(text)) return fail('unparsable-target', `${shown(raw)} is not host:port`);

  let hostText: string;
  let portText: string | undefined;
  if (text.startsWith('[')) {
    const match = /^\[([0-9a-f:.]+)\](?::(.*))?$/.exec(text);
    if (match === null || isIP(match[1] ?? '') !== 6) {
      return fail('unparsable-target', `${shown(raw)} is not a valid bracketed IPv6 address`);
    }
    hostText = match[1] ?? '';
    portText = match[2];
  } else {
    const colon = text.indexOf(':');
    if (colon !== text.lastIndexOf(':')) {
      return fail('unparsable-target', `${shown(raw)} is ambiguous; put IPv6 in brackets`);
    }
    hostText = colon === -1 ? text : text.slice(0, colon);
    portText = colon === -1 ? undefined : text.slice(colon + 1);
  }
  if (hostText === '') return fail('empty-host', `${shown(raw)} names no host`);

  let port: number;
  if (portText === undefined) {
    if (defaultPort === null) {
      return fail('missing-port', `${shown(raw)} has no port; CONNECT needs host:port`, hostText);
    }
    port = defaultPort;
  } else {
    port = /^[0-9]{1,5}$/.test(portText) ? Number(portText) : 0;
    if (port < 1 || port > 65_535) {
      return fail('invalid-port', `${shown(raw)} has no port in 1..65535`, hostText);
    }
  }

  let host: string;
  try {
    host = new URL(`http://${isIP(hostText) === 6 ? `[${hostText}]` : hostText}/`).hostname;
  } catch {
    return fail('unparsable-target', `${shown(raw)} is not a valid host`, hostText, port);
  }
  if (host.startsWith('[')) host = host.slice(1, -1);
  // The same spelling the policy's canonical hosts use, so the two never disagree.
  if (host.endsWith('.')) host = host.slice(0, -1);
  if (host === '') return fail('empty-host', `${shown(raw)} names no host`, hostText, port);
  return { ok: true, target: { requested: hostText, host, port } };
}

type RequestTarget =
  | { readonly ok: true; readonly target: Target; readonly path: string; readonly host: string }
  | Extract<ParsedTarget, { ok: false }>;

/** An absolute-form `http://` request target; origin-form and other schemes are refused. */
function parseRequestTarget(raw: string): RequestTarget {
  const fail = (code: string, detail: string) =>
    ({ ok: false, host: '', port: null, code, detail }) as const;
  if (raw.startsWith('/') || raw === '*') {
    return fail(
      'origin-form-request',
      `${shown(raw)} is not an absolute URL; a proxy request names http://host/path`,
    );
  }
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(raw);
  if (scheme === null) return fail('unparsable-target', `${shown(raw)} is not an absolute URL`);
  const name = (scheme[1] ?? '').toLowerCase();
  if (name !== 'http') {
    return fail(
      'unsupported-scheme',
      `${name}:// requests are not forwarded; use CONNECT (HTTPS_PROXY) for https`,
    );
  }
  const rest = raw.slice(scheme[0].length);
  const end = rest.search(/[/?#]/);
  const parsed = parseAuthority(end === -1 ? rest : rest.slice(0, end), 80);
  if (!parsed.ok) return parsed;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return fail('unparsable-target', `${shown(raw)} is not a valid URL`);
  }
  return { ok: true, target: parsed.target, path: `${url.pathname}${url.search}`, host: url.host };
}

/** Every value of `name` in raw header pairs (node folds duplicates in `headers`). */
function headerValues(rawHeaders: readonly string[], name: string): string[] {
  const values: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if (rawHeaders[i]?.toLowerCase() === name) values.push(rawHeaders[i + 1] ?? '');
  }
  return values;
}

/** Headers safe to pass on: no hop-by-hop, none the Connection header names, no Proxy-*. */
function forwardableHeaders(
  rawHeaders: readonly string[],
  drop: readonly string[],
): OutgoingHttpHeaders {
  const named = headerValues(rawHeaders, 'connection')
    .flatMap((value) => value.split(','))
    .map((token) => token.trim().toLowerCase());
  const skip = new Set([...HOP_BY_HOP, ...named, ...drop]);
  const headers: Record<string, string[]> = {};
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = (rawHeaders[i] ?? '').toLowerCase();
    if (skip.has(name) || name.startsWith('proxy-')) continue;
    const existing = headers[name];
    const value = rawHeaders[i + 1] ?? '';
    if (existing === undefined) headers[name] = [value];
    else existing.push(value);
  }
  return headers;
}

type Responder = (status: number, body: string) => void;

/** Cuts a socket that has had its answer but does not close its end. */
function lingerThenDestroy(socket: Duplex): void {
  const timer = setTimeout(() => socket.destroy(), LINGER_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}

/** Answers on a raw socket: a CONNECT, or a request node could not parse. */
function rawResponder(socket: Duplex): Responder {
  return (status, body) => {
    if (socket.destroyed || socket.writableEnded) return;
    // Whatever the client sent after the request is discarded, so it cannot fill buffers.
    socket.resume();
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
        'Content-Type: text/plain; charset=utf-8\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        'Connection: close\r\n\r\n' +
        body,
    );
    lingerThenDestroy(socket);
  };
}

function responseResponder(response: ServerResponse): Responder {
  return (status, body) => {
    if (response.destroyed || response.headersSent) {
      response.destroy();
      return;
    }
    response.writeHead(status, {
      'content-type': 'text/plain; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      connection: 'close',
    });
    response.end(body);
  };
}

/** One attempt's bookkeeping: it decides exactly once, whatever happens afterwards. */
class Attempt {
  host = '';
  port: number | null = null;
  private decided = false;

  constructor(
    readonly method: string,
    private readonly record: (decision: Omit<EgressDecision, 'atMs'>) => void,
    private readonly respond: Responder,
  ) {}

  target(): string {
    if (this.host === '') return 'the request';
    return this.port === null ? this.host : hostPort(this.host, this.port);
  }

  allow(): void {
    if (this.decided) return;
    this.decided = true;
    this.record({
      kind: 'allowed',
      method: this.method,
      host: this.host,
      port: this.port,
      reason: null,
    });
  }

  refuse(status: number, code: string, detail: string): void {
    if (!this.decided) {
      this.decided = true;
      this.record({
        kind: 'refused',
        method: this.method,
        host: this.host,
        port: this.port,
        reason: `${code}: ${detail}`,
      });
    }
    this.respond(status, `aas egress proxy refused ${this.target()}: ${detail}\n`);
  }
}

/** A refusal found while opening the upstream connection. */
class Refusal {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
  ) {}
}

type AbortWhy = 'timeout' | 'client-gone' | 'closing';

function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

const ignore = (): void => {};

async function lookupAll(host: string): Promise<string[]> {
  const addresses = await lookup(host, { all: true, verbatim: true });
  return addresses.map((entry) => entry.address);
}

interface ProxyConfig {
  readonly socketPath: string;
  readonly decide: (host: string, port: number) => boolean;
  readonly onDecision: (decision: EgressDecision) => void;
  readonly clock: Clock;
  readonly connectTimeoutMs: number;
  readonly maxConcurrent: number;
  readonly resolve: (host: string) => Promise<string[]>;
}

class ProxyServer {
  private readonly server: Server;
  private readonly clients = new Set<Duplex>();
  private readonly upstreams = new Set<Socket>();
  private readonly pending = new Set<AbortController>();
  private active = 0;
  private closing: Promise<void> | null = null;

  constructor(private readonly config: ProxyConfig) {
    // No Host header is required: an absolute-form request gets its Host from the URL.
    this.server = createServer({ requireHostHeader: false });
    // Idle keep-alive sockets cost only a descriptor, but an agent must not pin unboundedly many.
    this.server.maxConnections = config.maxConcurrent * 2 + 16;
    this.server.on('connection', (socket: Socket) => {
      this.clients.add(socket);
      socket.on('error', ignore);
      socket.once('close', () => this.clients.delete(socket));
    });
    this.server.on('connect', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      this.handleConnect(request, socket, head).catch(() => socket.destroy());
    });
    this.server.on('request', (request: IncomingMessage, response: ServerResponse) => {
      this.handleRequest(request, response).catch(() => response.destroy());
    });
    this.server.on('clientError', (error: Error, socket: Duplex) => {
      this.handleClientError(error, socket);
    });
  }

  listen(): Promise<void> {
    const path = this.config.socketPath;
    return new Promise<void>((resolve, reject) => {
      const onError = (error: Error): void => {
        reject(
          new AasError(
            'SANDBOX_UNAVAILABLE',
            `the egress proxy cannot listen on ${path}: ${error.message}`,
            { file: path },
            { cause: error },
          ),
        );
      };
      this.server.once('error', onError);
      this.server.listen(path, () => {
        this.server.removeListener('error', onError);
        this.server.on('error', ignore);
        try {
          // The sandboxed agent runs as the same host user, so owner-only access is enough.
          chmodSync(path, 0o600);
          resolve();
        } catch (error) {
          this.close().then(() => reject(normaliseError(error)), reject);
        }
      });
    });
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    for (const controller of this.pending) controller.abort('closing' satisfies AbortWhy);
    const stopped = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.clients) socket.destroy();
    for (const socket of this.upstreams) socket.destroy();
    await stopped;
    removeSocketFile(this.config.socketPath);
  }

  private record = (decision: Omit<EgressDecision, 'atMs'>): void => {
    try {
      this.config.onDecision({ ...decision, atMs: this.config.clock.nowMs() });
    } catch {
      // An observer that throws must not take the proxy, or the host, down with it.
    }
  };

  /** A slot among the concurrent attempts, or null when full; the release is idempotent. */
  private acquire(): (() => void) | null {
    if (this.active >= this.config.maxConcurrent) return null;
    this.active += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active -= 1;
    };
  }

  /** Refusals every attempt goes through before any upstream work: shutdown and capacity. */
  private admitSlot(attempt: Attempt): (() => void) | null {
    if (this.closing !== null) {
      attempt.refuse(503, 'proxy-closed', 'the egress proxy is shutting down');
      return null;
    }
    const release = this.acquire();
    if (release === null) {
      attempt.refuse(
        503,
        'over-capacity',
        `all ${this.config.maxConcurrent} connection slots are in use`,
      );
    }
    return release;
  }

  private async handleConnect(request: IncomingMessage, client: Duplex, head: Buffer) {
    client.on('error', ignore);
    const attempt = new Attempt('CONNECT', this.record, rawResponder(client));
    const parsed = parseAuthority(request.url ?? '', null);
    if (!parsed.ok) {
      attempt.host = parsed.host;
      attempt.port = parsed.port;
      attempt.refuse(400, parsed.code, parsed.detail);
      return;
    }
    attempt.host = parsed.target.requested;
    attempt.port = parsed.target.port;
    const release = this.admitSlot(attempt);
    if (release === null) return;
    client.once('close', release);
    const upstream = await this.open(attempt, parsed.target, client);
    if (upstream === null) {
      release();
      return;
    }
    if (client.destroyed) {
      upstream.destroy();
      return;
    }
    client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    // Bytes the client sent right behind the CONNECT header (a TLS ClientHello, say).
    if (head.length > 0) upstream.write(head);
    splice(client, upstream);
  }

  private async handleRequest(request: IncomingMessage, response: ServerResponse) {
    response.on('error', ignore);
    const attempt = new Attempt(request.method ?? '', this.record, responseResponder(response));
    // A refused request's body is never read; draining it lets the answer go out cleanly.
    const refuse = (status: number, code: string, detail: string): void => {
      request.resume();
      attempt.refuse(status, code, detail);
    };
    const parsed = parseRequestTarget(request.url ?? '');
    if (!parsed.ok) {
      attempt.host = parsed.host;
      attempt.port = parsed.port;
      refuse(400, parsed.code, parsed.detail);
      return;
    }
    const target = parsed.target;
    attempt.host = target.requested;
    attempt.port = target.port;
    // A Host header naming another host than the URL is how a request gets one origin past
    // the check and delivered to another behind a shared front end.
    for (const value of headerValues(request.rawHeaders, 'host')) {
      const named = parseAuthority(value, 80);
      if (!named.ok || named.target.host !== target.host) {
        refuse(
          400,
          'host-header-mismatch',
          `the Host header ${shown(value)} does not name ${target.requested}`,
        );
        return;
      }
    }
    const release = this.admitSlot(attempt);
    if (release === null) {
      request.resume();
      return;
    }
    response.once('close', release);
    const upstream = await this.open(attempt, target, request.socket);
    if (upstream === null) {
      request.resume();
      release();
      return;
    }
    response.once('close', () => upstream.destroy());
    this.forward(request, response, parsed.path, parsed.host, upstream);
  }

  private forward(
    request: IncomingMessage,
    response: ServerResponse,
    path: string,
    host: string,
    upstream: Socket,
  ): void {
    // The client's Expect: 100-continue was already answered by this server.
    const headers = forwardableHeaders(request.rawHeaders, ['host', 'expect']);
    headers.host = host;
    // node already removed the client's chunked framing; the body is re-framed the same way.
    if (request.headers['transfer-encoding'] !== undefined)
      headers['transfer-encoding'] = 'chunked';
    const outgoing = httpRequest({
      method: request.method ?? 'GET',
      path,
      headers,
      setHost: false,
      // The connection to the address that was checked; no second lookup, no pooling.
      createConnection: () => upstream,
    });
    outgoing.on('response', (incoming) => {
      incoming.on('error', () => response.destroy());
      response.writeHead(
        incoming.statusCode ?? 502,
        incoming.statusMessage ?? '',
        forwardableHeaders(incoming.rawHeaders, []),
      );
      incoming.pipe(response);
    });
    outgoing.on('error', (error) => {
      if (response.headersSent || response.destroyed) {
        response.destroy();
        return;
      }
      const body = `aas egress proxy: the upstream request failed: ${error.message}\n`;
      response.writeHead(502, {
        'content-type': 'text/plain; charset=utf-8',
        'content-length': Buffer.byteLength(body),
        connection: 'close',
      });
      response.end(body);
    });
    response.once('close', () => {
      if (!response.writableFinished) outgoing.destroy();
    });
    request.on('error', () => outgoing.destroy());
    request.pipe(outgoing);
  }

  private handleClientError(error: Error, socket: Duplex): void {
    socket.on('error', ignore);
    const code = (error as { code?: unknown }).code;
    // Only a request that could not be parsed is an attempt; resets and timeouts are not.
    if (typeof code !== 'string' || !code.startsWith('HPE_') || !socket.writable) {
      socket.destroy();
      return;
    }
    const attempt = new Attempt('', this.record, rawResponder(socket));
    attempt.refuse(
      code === 'HPE_HEADER_OVERFLOW' ? 431 : 400,
      'unparsable-request',
      `the request is not valid HTTP (${code})`,
    );
  }

  /**
   * Policy decision, DNS, the special-address guard and the upstream connection, all within
   * one deadline. Returns the connected socket after recording the attempt as allowed, or
   * null after refusing it (recorded and answered).
   */
  private async open(attempt: Attempt, target: Target, client: Duplex): Promise<Socket | null> {
    const where = hostPort(target.host, target.port);
    let admitted: boolean;
    try {
      admitted = this.config.decide(target.host, target.port) === true;
    } catch (error) {
      // Fail closed: a policy that cannot answer admits nothing.
      attempt.refuse(
        403,
        'policy-error',
        `the policy check failed: ${normaliseError(error).message}`,
      );
      return null;
    }
    if (!admitted) {
      attempt.refuse(
        403,
        'not-in-allow-list',
        `the policy's network allow-list does not include ${where}`,
      );
      return null;
    }

    const controller = new AbortController();
    const abort = (why: AbortWhy): void => controller.abort(why);
    const timer = setTimeout(() => abort('timeout'), this.config.connectTimeoutMs);
    const onClientClose = (): void => abort('client-gone');
    client.once('close', onClientClose);
    if (client.destroyed) abort('client-gone');
    this.pending.add(controller);
    try {
      const addresses = await this.addressesOf(target, controller.signal);
      const upstream = await this.connectAny(addresses, target.port, controller.signal);
      if (controller.signal.aborted) {
        upstream.destroy();
        throw controller.signal.reason;
      }
      attempt.allow();
      return upstream;
    } catch (error) {
      if (error instanceof Refusal) {
        attempt.refuse(error.status, error.code, error.detail);
      } else if (controller.signal.aborted) {
        const why: unknown = controller.signal.reason;
        if (why === 'closing') {
          attempt.refuse(503, 'proxy-closed', 'the egress proxy is shutting down');
        } else if (why === 'client-gone') {
          attempt.refuse(502, 'client-disconnected', `the client left before ${where} answered`);
        } else {
          attempt.refuse(
            502,
            'upstream-connect-timeout',
            `no connection to ${where} within ${this.config.connectTimeoutMs} ms`,
          );
        }
      } else {
        attempt.refuse(
          502,
          'upstream-connect-failed',
          `cannot connect to ${where}: ${normaliseError(error).message}`,
        );
      }
      return null;
    } finally {
      clearTimeout(timer);
      client.removeListener('close', onClientClose);
      this.pending.delete(controller);
    }
  }

  private async addressesOf(target: Target, signal: AbortSignal): Promise<string[]> {
    if (isIP(target.host) !== 0) return [target.host];
    let addresses: string[];
    try {
      addresses = await untilAborted(this.config.resolve(target.host), signal);
    } catch (error) {
      if (signal.aborted) throw error;
      throw new Refusal(
        502,
        'dns-lookup-failed',
        `cannot resolve ${target.host}: ${normaliseError(error).message}`,
      );
    }
    if (addresses.length === 0 || addresses.some((address) => isIP(address) === 0)) {
      throw new Refusal(502, 'dns-lookup-failed', `${target.host} resolved to no usable address`);
    }
    const special = findSpecialAddress(addresses);
    if (special !== null) {
      throw new Refusal(
        403,
        'resolves-to-special-address',
        `${target.host} resolves to ${special.address} (${special.kind}), which a name may not reach`,
      );
    }
    return addresses;
  }

  /** Tries the checked addresses in resolver order until one connects. */
  private async connectAny(
    addresses: readonly string[],
    port: number,
    signal: AbortSignal,
  ): Promise<Socket> {
    let lastError: unknown = new Error('no address to connect to');
    for (const address of addresses) {
      if (signal.aborted) throw signal.reason;
      try {
        return await this.connectOne(address, port, signal);
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        lastError = error;
      }
    }
    throw lastError;
  }

  private connectOne(address: string, port: number, signal: AbortSignal): Promise<Socket> {
    return new Promise<Socket>((resolve, reject) => {
      // Both directions close independently, exactly as if the client held the connection.
      const socket = netConnect({ host: address, port, allowHalfOpen: true });
      this.upstreams.add(socket);
      socket.on('error', ignore);
      socket.once('close', () => this.upstreams.delete(socket));
      const onAbort = (): void => {
        socket.destroy();
        reject(signal.reason);
      };
      const onError = (error: Error): void => {
        signal.removeEventListener('abort', onAbort);
        socket.destroy();
        reject(error);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      socket.once('error', onError);
      socket.once('connect', () => {
        signal.removeEventListener('abort', onAbort);
        socket.removeListener('error', onError);
        resolve(socket);
      });
    });
  }
}

/**
 * Relays bytes both ways. Each side's end is passed on separately (half-close); an error on
 * either side, or the client going away entirely, cuts both.
 */
function splice(client: Duplex, upstream: Socket): void {
  client.on('error', () => upstream.destroy());
  upstream.on('error', () => client.destroy());
  client.once('close', () => upstream.destroy());
  upstream.once('close', () => {
    // After a clean end the pipe has already ended the client's side; anything else is a cut.
    if (!client.writableEnded) client.destroy();
  });
  upstream.pipe(client);
  client.pipe(upstream);
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
    throw new AasError('INTERNAL', `the egress proxy socket path exists and is not a socket`, {
      file: path,
    });
  }
  rmSync(path, { force: true });
}

function validateOptions(options: EgressProxyOptions): ProxyConfig {
  const problems: string[] = [];
  const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const maxConcurrent = options.maxConcurrentConnections ?? DEFAULT_MAX_CONCURRENT;
  if (options.socketPath.length === 0) problems.push('socketPath is empty');
  if (Buffer.byteLength(options.socketPath) > MAX_SOCKET_PATH_BYTES) {
    problems.push(`socketPath is longer than ${MAX_SOCKET_PATH_BYTES} bytes`);
  }
  if (
    !Number.isFinite(connectTimeoutMs) ||
    connectTimeoutMs <= 0 ||
    connectTimeoutMs > MAX_TIMER_MS
  ) {
    problems.push(`connectTimeoutMs must be in (0, ${MAX_TIMER_MS}], got ${connectTimeoutMs}`);
  }
  if (!Number.isSafeInteger(maxConcurrent) || maxConcurrent < 1) {
    problems.push(`maxConcurrentConnections must be a positive integer, got ${maxConcurrent}`);
  }
  if (problems.length > 0) {
    throw new AasError('INTERNAL', `invalid egress proxy options: ${problems.join('; ')}`);
  }
  return {
    socketPath: options.socketPath,
    decide: options.decide,
    onDecision: options.onDecision,
    clock: options.clock,
    connectTimeoutMs,
    maxConcurrent,
    resolve: options.resolve ?? lookupAll,
  };
}

/** Starts the proxy; resolves once it is listening on the socket. */
export async function startEgressProxy(options: EgressProxyOptions): Promise<EgressProxy> {
  const config = validateOptions(options);
  clearSocketPath(config.socketPath);
  const server = new ProxyServer(config);
  await server.listen();
  return { socketPath: config.socketPath, close: () => server.close() };
}
