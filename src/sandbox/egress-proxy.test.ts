import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import {
  createServer as createHttpServer,
  request as httpRequest,
  type IncomingMessage,
} from 'node:http';
import { type AddressInfo, connect, createServer as createNetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isAasError, ManualClock } from '../kernel/index.js';
import {
  type EgressDecision,
  type EgressProxy,
  type EgressProxyOptions,
  findSpecialAddress,
  startEgressProxy,
} from './egress-proxy.js';

interface Reply {
  readonly status: number;
  readonly head: string;
  /** Bytes that arrived behind the reply header. */
  readonly rest: Buffer;
}

function openSocket(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ path });
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Reads up to the end of the reply header, then pauses the socket with the rest buffered. */
function readReply(socket: Socket): Promise<Reply> {
  return new Promise((resolve, reject) => {
    let buffered = Buffer.alloc(0);
    const cleanup = (): void => {
      socket.removeListener('data', onData);
      socket.removeListener('end', onEnd);
      socket.removeListener('error', reject);
    };
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      const end = buffered.indexOf('\r\n\r\n');
      if (end === -1) return;
      socket.pause();
      cleanup();
      const head = buffered.subarray(0, end).toString('latin1');
      resolve({ status: Number(head.split(' ')[1]), head, rest: buffered.subarray(end + 4) });
    };
    const onEnd = (): void => {
      cleanup();
      reject(new Error(`the proxy closed before replying: ${JSON.stringify(String(buffered))}`));
    };
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('error', reject);
  });
}

/** Everything the socket delivers until the other side ends it. */
function readToEnd(socket: Socket, already: Buffer = Buffer.alloc(0)): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks = [already];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.once('error', reject);
    socket.resume();
  });
}

/** Reads until `expected` bytes have arrived (counting `already`). */
function readBytes(socket: Socket, expected: number, already: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = already;
    const check = (): boolean => {
      if (buffered.length < expected) return false;
      socket.removeListener('data', onData);
      socket.pause();
      resolve(buffered.toString('utf8'));
      return true;
    };
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      check();
    };
    if (check()) return;
    socket.on('data', onData);
    socket.once('error', reject);
    socket.resume();
  });
}

interface HttpReply {
  readonly status: number;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

function proxyRequest(
  socketPath: string,
  options: {
    path: string;
    method?: string;
    headers?: Record<string, string>;
    body?: string;
  },
): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      {
        socketPath,
        method: options.method ?? 'GET',
        path: options.path,
        headers: options.headers ?? {},
        agent: false,
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.once('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        response.once('error', reject);
      },
    );
    request.once('error', reject);
    request.end(options.body);
  });
}

describe('egress proxy', () => {
  let dir: string;
  let socketPath: string;
  let decisions: EgressDecision[];
  let proxy: EgressProxy | null;
  let cleanups: Array<() => Promise<void> | void>;
  const clock = new ManualClock();

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'aas-egress-'));
    socketPath = join(dir, 'proxy.sock');
    decisions = [];
    proxy = null;
    cleanups = [];
  });
  afterEach(async () => {
    await proxy?.close();
    for (const cleanup of cleanups.reverse()) await cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  /** `allow` entries are `host` (every port) or `host:port`, checked on the canonical host. */
  const start = async (
    allow: readonly string[],
    overrides: Partial<EgressProxyOptions> = {},
  ): Promise<EgressProxy> => {
    proxy = await startEgressProxy({
      socketPath,
      decide: (host, port) => allow.includes(host) || allow.includes(`${host}:${port}`),
      onDecision: (decision) => decisions.push(decision),
      clock,
      // No test reaches real DNS: a name that gets this far is a test bug.
      resolve: (host) => Promise.reject(new Error(`unexpected lookup of ${host}`)),
      ...overrides,
    });
    return proxy;
  };

  /** A TCP echo server on loopback; `closed` counts server-side sockets that have closed. */
  const echoServer = async (): Promise<{ port: number; closed: () => number }> => {
    let closed = 0;
    const sockets = new Set<Socket>();
    const server = createNetServer({ allowHalfOpen: true }, (socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
      socket.once('close', () => {
        sockets.delete(socket);
        closed += 1;
      });
      socket.pipe(socket);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    cleanups.push(() => {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    });
    return { port: (server.address() as AddressInfo).port, closed: () => closed };
  };

  interface Seen {
    readonly method: string;
    readonly url: string;
    readonly headers: IncomingMessage['headers'];
    readonly body: string;
  }

  /** An HTTP origin on loopback that records what reached it and answers 201. */
  const httpOrigin = async (): Promise<{ port: number; seen: Seen[] }> => {
    const seen: Seen[] = [];
    const server = createHttpServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.once('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        seen.push({
          method: request.method ?? '',
          url: request.url ?? '',
          headers: request.headers,
          body,
        });
        response.writeHead(201, { 'x-origin': 'yes', connection: 'keep-alive' });
        response.end(`origin saw ${request.method} ${request.url} ${body}`);
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    cleanups.push(() => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    });
    return { port: (server.address() as AddressInfo).port, seen };
  };

  /** A loopback port with nothing listening on it. */
  const closedPort = async (): Promise<number> => {
    const server = createNetServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as AddressInfo).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    return port;
  };

  const connectTo = async (authority: string, extra = ''): Promise<{ socket: Socket } & Reply> => {
    const socket = await openSocket(socketPath);
    socket.on('error', () => {});
    cleanups.push(() => void socket.destroy());
    socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n${extra}`);
    return { socket, ...(await readReply(socket)) };
  };

  const refused = (fields: Omit<Partial<EgressDecision>, 'reason'> & { reason: RegExp }) => ({
    kind: 'refused',
    atMs: clock.nowMs(),
    ...fields,
    reason: expect.stringMatching(fields.reason),
  });

  it('tunnels an allowed CONNECT both ways and records one allowed decision', async () => {
    const echo = await echoServer();
    await start([`127.0.0.1:${echo.port}`]);
    const { socket, status, head, rest } = await connectTo(`127.0.0.1:${echo.port}`);
    expect(status).toBe(200);
    expect(head).toBe('HTTP/1.1 200 Connection Established');
    socket.write('hello through the tunnel');
    expect(await readBytes(socket, 24, rest)).toBe('hello through the tunnel');
    // Half-close travels through: the echo server ends when we end, and so does the tunnel.
    socket.end();
    expect(await readToEnd(socket)).toBe('');
    expect(decisions).toEqual([
      {
        kind: 'allowed',
        method: 'CONNECT',
        host: '127.0.0.1',
        port: echo.port,
        reason: null,
        atMs: clock.nowMs(),
      },
    ]);
  });

  it('forwards bytes the client sent right behind the CONNECT header', async () => {
    const echo = await echoServer();
    await start([`127.0.0.1:${echo.port}`]);
    const { socket, status, rest } = await connectTo(`127.0.0.1:${echo.port}`, 'early bytes');
    expect(status).toBe(200);
    expect(await readBytes(socket, 11, rest)).toBe('early bytes');
  });

  it('refuses a host outside the allow-list with 403 naming it, without resolving it', async () => {
    const lookups: string[] = [];
    await start(['allowed.example'], {
      resolve: (host) => {
        lookups.push(host);
        return Promise.resolve(['192.0.2.1']);
      },
    });
    const { socket, status, rest } = await connectTo('Blocked.Example:443');
    expect(status).toBe(403);
    const body = await readToEnd(socket, rest);
    expect(body).toContain('blocked.example:443');
    expect(body).toContain("the policy's network allow-list does not include");
    expect(body.trim().split('\n')).toHaveLength(1);
    expect(lookups).toEqual([]);
    expect(decisions).toEqual([
      refused({
        method: 'CONNECT',
        host: 'blocked.example',
        port: 443,
        reason: /^not-in-allow-list: /,
      }),
    ]);
  });

  it('refuses a port the allow-list does not admit and ports outside 1..65535', async () => {
    const echo = await echoServer();
    await start([`127.0.0.1:${echo.port}`]);
    expect((await connectTo('127.0.0.1:1')).status).toBe(403);
    expect((await connectTo('127.0.0.1:0')).status).toBe(400);
    expect((await connectTo('127.0.0.1:70000')).status).toBe(400);
    expect((await connectTo('127.0.0.1:http')).status).toBe(400);
    expect((await connectTo('127.0.0.1')).status).toBe(400);
    expect(decisions).toEqual([
      refused({ method: 'CONNECT', host: '127.0.0.1', port: 1, reason: /^not-in-allow-list: / }),
      refused({ method: 'CONNECT', host: '127.0.0.1', port: null, reason: /^invalid-port: / }),
      refused({ method: 'CONNECT', host: '127.0.0.1', port: null, reason: /^invalid-port: / }),
      refused({ method: 'CONNECT', host: '127.0.0.1', port: null, reason: /^invalid-port: / }),
      refused({ method: 'CONNECT', host: '127.0.0.1', port: null, reason: /^missing-port: / }),
    ]);
  });

  it('refuses empty hosts, userinfo, bare IPv6 and requests that are not HTTP', async () => {
    const echo = await echoServer();
    await start(['127.0.0.1', '::1']);
    expect((await connectTo(`:${echo.port}`)).status).toBe(400);
    expect((await connectTo(`user@127.0.0.1:${echo.port}`)).status).toBe(400);
    expect((await connectTo('::1:443')).status).toBe(400);

    const socket = await openSocket(socketPath);
    socket.on('error', () => {});
    socket.write('\u0016\u0003\u0001 this is not an HTTP request\r\n\r\n');
    expect((await readReply(socket)).status).toBe(400);
    socket.destroy();

    expect(decisions).toEqual([
      refused({ method: 'CONNECT', host: '', port: null, reason: /^empty-host: / }),
      refused({ method: 'CONNECT', host: '', port: null, reason: /^userinfo-not-allowed: / }),
      refused({ method: 'CONNECT', host: '', port: null, reason: /^unparsable-target: / }),
      refused({ method: '', host: '', port: null, reason: /^unparsable-request: / }),
    ]);
  });

  it('refuses a name that resolves to the local host, however it is spelled', async () => {
    // Only local answers here: were the guard broken, the proxy would connect to them.
    const fakeDns: Record<string, string[]> = {
      'rebind.example': ['127.0.0.1'],
      'loopback-range.example': ['127.45.6.7'],
      'mapped.example': ['::ffff:127.0.0.1'],
      'v6.example': ['::1'],
      'zero.example': ['0.0.0.0'],
    };
    await start(Object.keys(fakeDns), {
      resolve: (host) => Promise.resolve(fakeDns[host] ?? []),
    });
    for (const name of Object.keys(fakeDns)) {
      const { socket, status, rest } = await connectTo(`${name}:443`);
      expect(status, name).toBe(403);
      expect(await readToEnd(socket, rest)).toContain(name);
    }
    const absolute = await proxyRequest(socketPath, {
      path: 'http://rebind.example/',
      headers: { host: 'rebind.example' },
    });
    expect(absolute.status).toBe(403);
    const reason = /^resolves-to-special-address: /;
    expect(decisions).toEqual([
      ...Object.keys(fakeDns).map((name) =>
        refused({ method: 'CONNECT', host: name, port: 443, reason }),
      ),
      refused({ method: 'GET', host: 'rebind.example', port: 80, reason }),
    ]);
  });

  it('classifies every answer of a lookup, not just the first', () => {
    expect(findSpecialAddress(['192.0.2.10', '169.254.169.254'])).toEqual({
      address: '169.254.169.254',
      kind: 'link-local',
    });
    const kindOf = (address: string) => findSpecialAddress([address])?.kind ?? null;
    expect(kindOf('127.0.0.1')).toBe('loopback');
    expect(kindOf('::1')).toBe('loopback');
    expect(kindOf('::ffff:127.0.0.1')).toBe('loopback');
    expect(kindOf('0.0.0.0')).toBe('unspecified');
    expect(kindOf('::')).toBe('unspecified');
    expect(kindOf('fe80::1')).toBe('link-local');
    expect(kindOf('::ffff:169.254.169.254')).toBe('link-local');
    expect(kindOf('fd00:ec2::254')).toBe('metadata');
    expect(kindOf('224.0.0.251')).toBe('multicast');
    expect(kindOf('ff02::1')).toBe('multicast');
    expect(kindOf('255.255.255.255')).toBe('broadcast');
    expect(findSpecialAddress(['192.0.2.10', '2001:db8::1', '198.51.100.7'])).toBeNull();
  });

  it('lets an admitted IP literal through even when it is loopback, without a lookup', async () => {
    const echo = await echoServer();
    const lookups: string[] = [];
    await start(['127.0.0.1'], {
      resolve: (host) => {
        lookups.push(host);
        return Promise.resolve(['127.0.0.1']);
      },
    });
    const { status } = await connectTo(`127.0.0.1:${echo.port}`);
    expect(status).toBe(200);
    expect(lookups).toEqual([]);
    expect(decisions.map((decision) => decision.kind)).toEqual(['allowed']);
  });

  it('forwards an absolute-form request with the URL host and no proxy or hop-by-hop headers', async () => {
    const origin = await httpOrigin();
    await start([`127.0.0.1:${origin.port}`]);
    const reply = await proxyRequest(socketPath, {
      path: `http://127.0.0.1:${origin.port}/files?name=a#fragment`,
      headers: {
        host: `127.0.0.1:${origin.port}`,
        'proxy-authorization': 'Basic c2VjcmV0',
        'proxy-connection': 'keep-alive',
        connection: 'keep-alive, x-hop',
        'x-hop': 'connection-scoped',
        'x-end-to-end': 'kept',
      },
    });
    expect(reply.status).toBe(201);
    expect(reply.headers['x-origin']).toBe('yes');
    expect(reply.body).toBe('origin saw GET /files?name=a ');
    expect(origin.seen).toHaveLength(1);
    const seen = origin.seen[0];
    expect(seen?.url).toBe('/files?name=a');
    expect(seen?.headers.host).toBe(`127.0.0.1:${origin.port}`);
    expect(seen?.headers['x-end-to-end']).toBe('kept');
    expect(seen?.headers['proxy-authorization']).toBeUndefined();
    expect(seen?.headers['proxy-connection']).toBeUndefined();
    expect(seen?.headers['x-hop']).toBeUndefined();
    expect(decisions).toEqual([
      {
        kind: 'allowed',
        method: 'GET',
        host: '127.0.0.1',
        port: origin.port,
        reason: null,
        atMs: clock.nowMs(),
      },
    ]);
  });

  it('forwards a request body, chunked or with a length', async () => {
    const origin = await httpOrigin();
    await start([`127.0.0.1:${origin.port}`]);
    const url = `http://127.0.0.1:${origin.port}/upload`;
    const host = `127.0.0.1:${origin.port}`;
    const chunked = await proxyRequest(socketPath, {
      method: 'POST',
      path: url,
      headers: { host, 'transfer-encoding': 'chunked' },
      body: 'chunked payload',
    });
    expect(chunked.body).toBe('origin saw POST /upload chunked payload');
    const sized = await proxyRequest(socketPath, {
      method: 'PUT',
      path: url,
      headers: { host, 'content-length': '13' },
      body: 'sized payload',
    });
    expect(sized.body).toBe('origin saw PUT /upload sized payload');
    expect(decisions.map((decision) => decision.kind)).toEqual(['allowed', 'allowed']);
  });

  it('refuses a Host header naming another host than the URL', async () => {
    const origin = await httpOrigin();
    await start([`127.0.0.1:${origin.port}`, 'internal.example']);
    const reply = await proxyRequest(socketPath, {
      path: `http://127.0.0.1:${origin.port}/`,
      headers: { host: 'internal.example' },
    });
    expect(reply.status).toBe(400);
    expect(origin.seen).toEqual([]);
    expect(decisions).toEqual([
      refused({
        method: 'GET',
        host: '127.0.0.1',
        port: origin.port,
        reason: /^host-header-mismatch: /,
      }),
    ]);
  });

  it('refuses origin-form requests and schemes other than http', async () => {
    const origin = await httpOrigin();
    await start([`127.0.0.1:${origin.port}`]);
    const host = `127.0.0.1:${origin.port}`;
    const originForm = await proxyRequest(socketPath, { path: '/files', headers: { host } });
    expect(originForm.status).toBe(400);
    const https = await proxyRequest(socketPath, {
      path: `https://127.0.0.1:${origin.port}/`,
      headers: { host },
    });
    expect(https.status).toBe(400);
    expect(https.body).toContain('CONNECT');
    const userinfo = await proxyRequest(socketPath, {
      path: `http://user:pw@127.0.0.1:${origin.port}/`,
      headers: { host },
    });
    expect(userinfo.status).toBe(400);
    expect(origin.seen).toEqual([]);
    expect(decisions).toEqual([
      refused({ method: 'GET', host: '', port: null, reason: /^origin-form-request: / }),
      refused({ method: 'GET', host: '', port: null, reason: /^unsupported-scheme: / }),
      refused({ method: 'GET', host: '', port: null, reason: /^userinfo-not-allowed: / }),
    ]);
  });

  it('answers 502 and records a refusal when the upstream cannot be reached', async () => {
    const port = await closedPort();
    await start([`127.0.0.1:${port}`]);
    expect((await connectTo(`127.0.0.1:${port}`)).status).toBe(502);
    const reply = await proxyRequest(socketPath, {
      path: `http://127.0.0.1:${port}/`,
      headers: { host: `127.0.0.1:${port}` },
    });
    expect(reply.status).toBe(502);
    expect(decisions).toEqual([
      refused({ method: 'CONNECT', host: '127.0.0.1', port, reason: /^upstream-connect-failed: / }),
      refused({ method: 'GET', host: '127.0.0.1', port, reason: /^upstream-connect-failed: / }),
    ]);
  });

  it('answers 502 when name resolution fails or does not finish in time', async () => {
    await start(['nxdomain.example', 'slow.example'], {
      connectTimeoutMs: 50,
      resolve: (host) =>
        host === 'slow.example'
          ? new Promise<string[]>(() => {})
          : Promise.reject(new Error('ENOTFOUND')),
    });
    expect((await connectTo('nxdomain.example:443')).status).toBe(502);
    expect((await connectTo('slow.example:443')).status).toBe(502);
    expect(decisions).toEqual([
      refused({
        method: 'CONNECT',
        host: 'nxdomain.example',
        port: 443,
        reason: /^dns-lookup-failed: /,
      }),
      refused({
        method: 'CONNECT',
        host: 'slow.example',
        port: 443,
        reason: /^upstream-connect-timeout: /,
      }),
    ]);
  });

  it('answers 503 over capacity and frees the slot when a tunnel ends', async () => {
    const echo = await echoServer();
    await start([`127.0.0.1:${echo.port}`], { maxConcurrentConnections: 1 });
    const first = await connectTo(`127.0.0.1:${echo.port}`);
    expect(first.status).toBe(200);
    const second = await connectTo(`127.0.0.1:${echo.port}`);
    expect(second.status).toBe(503);

    // The proxy cuts the upstream only after it saw the client go, so once the echo server
    // sees its socket close the slot is free again.
    first.socket.destroy();
    while (echo.closed() < 1) await new Promise((resolve) => setTimeout(resolve, 10));
    expect((await connectTo(`127.0.0.1:${echo.port}`)).status).toBe(200);
    expect(decisions.map((decision) => decision.kind)).toEqual(['allowed', 'refused', 'allowed']);
    expect(decisions[1]?.reason).toMatch(/^over-capacity: /);
  });

  it('close() cuts open tunnels, removes the socket file and can be called twice', async () => {
    const echo = await echoServer();
    const started = await start([`127.0.0.1:${echo.port}`]);
    expect(statSync(socketPath).mode & 0o777).toBe(0o600);
    const { socket, status } = await connectTo(`127.0.0.1:${echo.port}`);
    expect(status).toBe(200);
    const closed = once(socket, 'close');
    socket.resume();
    await started.close();
    await closed;
    expect(existsSync(socketPath)).toBe(false);
    await started.close();
    await expect(openSocket(socketPath)).rejects.toThrow();
  });

  it('keeps working when onDecision throws', async () => {
    const echo = await echoServer();
    await start([`127.0.0.1:${echo.port}`], {
      onDecision: () => {
        throw new Error('observer failure');
      },
    });
    const { socket, status, rest } = await connectTo(`127.0.0.1:${echo.port}`);
    expect(status).toBe(200);
    socket.write('still fine');
    expect(await readBytes(socket, 10, rest)).toBe('still fine');
  });

  it('replaces a stale socket but refuses to replace any other file', async () => {
    const first = await start(['127.0.0.1']);
    const second = await start(['127.0.0.1']);
    await first.close();
    await second.close();

    writeFileSync(socketPath, 'not a socket');
    const error: unknown = await start(['127.0.0.1']).catch((thrown: unknown) => thrown);
    expect(isAasError(error) && error.code).toBe('INTERNAL');
    expect(existsSync(socketPath)).toBe(true);
  });
});
