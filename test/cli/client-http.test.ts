import { afterEach, describe, expect, it } from 'vitest';
import { followSessionEvents } from '../../src/cli/client/follow-events.js';
import { normaliseServerUrl, ServerClient } from '../../src/cli/client/server-client.js';
import { SseParser } from '../../src/cli/client/sse-parser.js';
import { type AasError, isAasError } from '../../src/kernel/index.js';
import type { StoredEvent } from '../../src/sessions/index.js';
import {
  type FakeServer,
  frame,
  openSse,
  RUN_ID,
  runEvents,
  runRecord,
  SESSION_ID,
  sendJson,
  sessionRecord,
  startFakeServer,
  storedEvent,
  write,
} from './client-fake-server.js';

const TOKEN = 'aas_SECRET0123456789abcdefghijklmnopqrstuv';

const servers: FakeServer[] = [];
afterEach(async () => {
  while (servers.length > 0) await servers.pop()?.close();
});

async function serve(handler: Parameters<typeof startFakeServer>[0]): Promise<FakeServer> {
  const server = await startFakeServer(handler);
  servers.push(server);
  return server;
}

async function failure(promise: Promise<unknown>): Promise<AasError> {
  try {
    await promise;
  } catch (thrown) {
    if (isAasError(thrown)) return thrown;
    throw thrown;
  }
  throw new Error('expected a failure');
}

/** Everything an error would show a person or a script. */
const shown = (error: AasError) => `${error.describe()} ${JSON.stringify(error.toJSON())}`;

const noWait = () => Promise.resolve();

describe('SseParser', () => {
  it('parses ids, types, multi-line data and comments, with any line ending, across chunks', () => {
    const parser = new SseParser();
    const text =
      ': stream open\r\n\r\nid: 1\r\nevent: a\r\ndata: {"x":\r\ndata:  1}\r\n\r\n' +
      'id: 2\rdata: two\r\rdata\n\nretry: 1500\nid: 3\n\n: keep-alive\n\n';
    const messages = [];
    // Every split point, including between a CR and its LF.
    for (let i = 0; i < text.length; i += 3) messages.push(...parser.push(text.slice(i, i + 3)));
    expect(messages).toEqual([
      { id: '1', event: 'a', data: '{"x":\n 1}' },
      { id: '2', event: 'message', data: 'two' },
      { id: '2', event: 'message', data: '' },
    ]);
    // An id with no data is not an event, but it is where a reconnect resumes.
    expect(parser.lastEventId).toBe('3');
    expect(parser.retryMs).toBe(1500);
  });

  it('drops an event the stream ended in the middle of', () => {
    const parser = new SseParser();
    expect(parser.push('id: 1\ndata: whole\n\nid: 2\ndata: cut')).toEqual([
      { id: '1', event: 'message', data: 'whole' },
    ]);
  });
});

describe('ServerClient', () => {
  it('normalises the base URL and refuses credentials, queries and other schemes', () => {
    expect(normaliseServerUrl('http://127.0.0.1:8001/')).toBe('http://127.0.0.1:8001');
    expect(normaliseServerUrl('https://aas.example.test/api/v1/')).toBe('https://aas.example.test');
    expect(normaliseServerUrl(' http://h:1/prefix//')).toBe('http://h:1/prefix');
    for (const bad of ['ftp://h', 'not a url', 'http://u:p@h:1', 'http://h:1/?a=b']) {
      expect(() => normaliseServerUrl(bad)).toThrowError(/server URL/);
    }
    expect(() => new ServerClient({ serverUrl: 'http://h', token: 'two words' })).toThrowError(
      /bearer token/,
    );
  });

  it('sends the bearer token and JSON under /api/v1, and never a requestedBy', async () => {
    const server = await serve((_request, res) =>
      sendJson(res, 201, { sessionId: SESSION_ID, runId: RUN_ID }),
    );
    const client = new ServerClient({ serverUrl: `${server.url}/api/v1/`, token: TOKEN });
    const job = { task: 't', repo: '/srv/repo', agent: 'command' };
    const ids = await client.submitJob(job as never);
    // This server's answer has no `warnings` (as servers before the field): none.
    expect(ids).toEqual({ sessionId: SESSION_ID, runId: RUN_ID, warnings: [] });
    const [request] = server.requests;
    expect(request?.method).toBe('POST');
    expect(request?.url.pathname).toBe('/api/v1/sessions');
    expect(request?.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(request?.headers['content-type']).toBe('application/json');
    expect(JSON.parse(request?.body ?? '')).toEqual(job);
    await expect(
      client.submitJob({ ...job, requestedBy: 'someone-else' } as never),
    ).rejects.toThrowError(/requestedBy/);
    expect(server.requests).toHaveLength(1);
  });

  it('turns a JSON error body into an AasError, removing an echoed token', async () => {
    const server = await serve((_request, res) =>
      sendJson(res, 400, {
        code: 'JOB_INVALID',
        message: `bad job from Bearer ${TOKEN}`,
        details: { field: 'task', echoed: [TOKEN], hint: 'describe the task' },
      }),
    );
    const client = new ServerClient({ serverUrl: server.url, token: TOKEN });
    const error = await failure(client.listSessions());
    expect(error.code).toBe('JOB_INVALID');
    expect(error.message).toBe('bad job from Bearer [token]');
    expect(error.details).toEqual({
      field: 'task',
      echoed: ['[token]'],
      hint: 'describe the task',
    });
    expect(shown(error)).not.toContain(TOKEN);
  });

  it('maps a refused token to UNAUTHENTICATED with a hint about AAS_TOKEN', async () => {
    const server = await serve((_request, res) =>
      sendJson(res, 401, {
        code: 'UNAUTHENTICATED',
        message: 'a valid bearer token is required',
        details: {},
      }),
    );
    const client = new ServerClient({ serverUrl: server.url, token: TOKEN });
    const error = await failure(client.getSession(SESSION_ID));
    expect(error.code).toBe('UNAUTHENTICATED');
    expect(error.details.hint).toMatch(/AAS_TOKEN/);
    expect(shown(error)).not.toContain(TOKEN);
  });

  it('handles error bodies that are not JSON by their HTTP status', async () => {
    const statuses = [502, 401, 404, 418, 500];
    const server = await serve((_request, res) => {
      const status = statuses.shift() ?? 500;
      res.writeHead(status, { 'content-type': 'text/html' });
      res.end(`<html><body>proxy says no ${TOKEN}</body></html>`);
    });
    const client = new ServerClient({ serverUrl: server.url, token: TOKEN });
    const codes: string[] = [];
    for (let i = 0; i < 5; i += 1) {
      const error = await failure(client.listSessions());
      codes.push(error.code);
      expect(error.message).toContain('HTTP');
      expect(shown(error)).not.toContain(TOKEN);
    }
    // A proxy's own answers and server errors keep their meaning; anything else is not an AAS
    // server at all.
    expect(codes).toEqual([
      'SERVER_UNAVAILABLE',
      'UNAUTHENTICATED',
      'INVALID_ARGUMENT',
      'INVALID_ARGUMENT',
      'INTERNAL',
    ]);
  });

  it('says when --server names a path below an AAS server rather than its root', async () => {
    const server = await serve((request, res) =>
      sendJson(res, 404, {
        code: 'NOT_FOUND',
        message: `no route GET ${request.url ?? ''}`,
        details: { hint: 'the routes are listed at /openapi.json' },
      }),
    );
    const client = new ServerClient({ serverUrl: `${server.url}/aas`, token: TOKEN });
    const error = await failure(client.listSessions());
    expect(error.code).toBe('NOT_FOUND');
    expect(error.details).toMatchObject({ field: '--server' });
    expect(error.details.hint).toContain("the server's root URL, without /aas");
  });

  it('reports an answer it cannot read, without following redirects', async () => {
    const answers: ((res: import('node:http').ServerResponse) => void)[] = [
      (res) => {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<html>not an API</html>');
      },
      (res) => sendJson(res, 200, { items: 'nope' }),
      (res) => {
        res.writeHead(302, { location: 'http://elsewhere.example.test/api/v1/sessions' });
        res.end();
      },
    ];
    const server = await serve((_request, res) => answers.shift()?.(res));
    const client = new ServerClient({ serverUrl: server.url, token: TOKEN });
    expect((await failure(client.listSessions())).message).toMatch(/not JSON/);
    expect((await failure(client.listSessions())).message).toMatch(/does not understand: items/);
    const redirected = await failure(client.listSessions());
    expect(redirected.message).toMatch(
      /redirected GET \/api\/v1\/sessions to http:\/\/elsewhere\.example\.test/,
    );
    expect(server.requests).toHaveLength(3);
  });

  it('reads a session with its runs, a run with its attempts, event pages and the patch', async () => {
    const server = await serve((request, res) => {
      const path = request.url.pathname;
      if (path.endsWith('/events')) {
        return sendJson(res, 200, { items: runEvents().slice(0, 2), nextAfter: 2 });
      }
      if (path.endsWith('/patch')) {
        res.writeHead(200, { 'content-type': 'text/x-diff' });
        return res.end('diff --git a/x b/x\n');
      }
      if (path.startsWith('/api/v1/runs/')) {
        return sendJson(res, 200, { run: runRecord(), attempts: [], logs: [] });
      }
      return sendJson(res, 200, { session: sessionRecord(), runs: [runRecord()] });
    });
    const client = new ServerClient({ serverUrl: server.url, token: TOKEN });
    const view = await client.getSession(SESSION_ID);
    expect(view.session.id).toBe(SESSION_ID);
    expect(view.runs.map((run) => run.id)).toEqual([RUN_ID]);
    expect((await client.getRun(RUN_ID)).run.reasonCode).toBe('GATES_PASSED');
    const page = await client.readEvents(SESSION_ID, { after: 0, limit: 2 });
    expect(page.items.map((event) => event.seq)).toEqual([1, 2]);
    expect(page.nextAfter).toBe(2);
    expect(await client.getPatch(RUN_ID)).toBe('diff --git a/x b/x\n');
    expect(server.requests.map((r) => `${r.method} ${r.url.pathname}${r.url.search}`)).toEqual([
      `GET /api/v1/sessions/${SESSION_ID}`,
      `GET /api/v1/runs/${RUN_ID}`,
      `GET /api/v1/sessions/${SESSION_ID}/events?after=0&limit=2`,
      `GET /api/v1/runs/${RUN_ID}/patch`,
    ]);
  });

  it('says SERVER_UNAVAILABLE, naming the URL and never the token, when nothing listens', async () => {
    const server = await serve(() => {});
    const url = server.url;
    await server.close();
    servers.pop();
    const client = new ServerClient({ serverUrl: url, token: TOKEN });
    const error = await failure(client.listSessions());
    expect(error.code).toBe('SERVER_UNAVAILABLE');
    expect(error.message).toBe(
      `cannot reach the AAS server at ${url}: connection refused (ECONNREFUSED)`,
    );
    expect(error.details.hint).toMatch(/aas start/);
    expect(shown(error)).not.toContain(TOKEN);
  });

  it('says SERVER_UNAVAILABLE for a name that does not resolve', async () => {
    const client = new ServerClient({
      serverUrl: 'http://no-such-host.invalid:8001',
      token: TOKEN,
    });
    const error = await failure(client.listSessions());
    expect(error.code).toBe('SERVER_UNAVAILABLE');
    expect(error.message).toMatch(
      /^cannot reach the AAS server at http:\/\/no-such-host\.invalid:8001: /,
    );
  });

  it('says SERVER_UNAVAILABLE with a TLS reason when https meets a plain HTTP server', async () => {
    const server = await serve((_request, res) => sendJson(res, 200, {}));
    const client = new ServerClient({
      serverUrl: server.url.replace('http://', 'https://'),
      token: TOKEN,
    });
    const error = await failure(client.listSessions());
    expect(error.code).toBe('SERVER_UNAVAILABLE');
    expect(error.message).toMatch(/TLS failure/);
    expect(error.details.hint).toMatch(/certificate/);
  });
});

describe('followSessionEvents', () => {
  it('resumes with Last-Event-ID after the server ends the stream, without a gap or a duplicate', async () => {
    const events = runEvents();
    const server = await serve(async (request, res) => {
      const after = Number(
        request.headers['last-event-id'] ?? request.url.searchParams.get('after'),
      );
      openSse(res);
      if (server.requests.length === 1) {
        for (const event of events.slice(0, 3)) await write(res, frame(event));
        res.end();
        return;
      }
      // A sloppy server that repeats the last event it sent: the client must not print it twice.
      await write(res, ': keep-alive\n\n');
      for (const event of events.slice(after - 1)) await write(res, frame(event));
    });
    const client = new ServerClient({ serverUrl: server.url, token: TOKEN });
    const seen: StoredEvent[] = [];
    const reconnects: string[] = [];
    const result = await followSessionEvents(client, SESSION_ID, {
      onEvent: (event) => seen.push(event),
      until: (event) => event.type === 'run.completed',
      onReconnect: ({ error }) => reconnects.push(error.message),
      sleep: noWait,
    });
    expect(seen.map((event) => event.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(seen[0]).toEqual(events[0]);
    expect(result).toEqual({ lastSeq: 7, stoppedBy: 'until' });
    expect(server.requests).toHaveLength(2);
    expect(server.requests[0]?.headers['last-event-id']).toBeUndefined();
    expect(server.requests[0]?.url.searchParams.get('after')).toBe('0');
    expect(server.requests[1]?.headers['last-event-id']).toBe('3');
    expect(server.requests[1]?.headers.accept).toBe('text/event-stream');
    expect(reconnects).toEqual([`the server at ${server.url} ended the stream`]);
  });

  it('survives a connection cut mid-event and backs off between failed reconnections', async () => {
    const events = runEvents();
    let connection = 0;
    const server = await serve(async (request, res, raw) => {
      connection += 1;
      if (connection === 2) {
        return sendJson(res, 503, {
          code: 'SERVER_UNAVAILABLE',
          message: 'starting',
          details: {},
        });
      }
      // A stream closes sooner or later: waiting for a slot is worth it.
      if (connection === 3) {
        return sendJson(res, 429, {
          code: 'TOO_MANY_STREAMS',
          message: 'this token has 50 event streams open',
          details: {},
        });
      }
      const after = Number(request.headers['last-event-id'] ?? 0);
      openSse(res);
      if (connection === 1) {
        await write(res, frame(events[0] as StoredEvent));
        await write(res, frame(events[1] as StoredEvent).slice(0, 30));
        raw.socket.destroy();
        return;
      }
      for (const event of events.filter((e) => e.seq > after)) await write(res, frame(event));
    });
    const client = new ServerClient({ serverUrl: server.url, token: TOKEN });
    const seen: number[] = [];
    const waits: number[] = [];
    await followSessionEvents(client, SESSION_ID, {
      onEvent: (event) => seen.push(event.seq),
      until: (event) => event.type === 'run.completed',
      onReconnect: ({ delayMs }) => waits.push(delayMs),
      reconnect: { initialDelayMs: 100, maxDelayMs: 300 },
      sleep: noWait,
    });
    expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(waits).toEqual([100, 200, 300]);
    expect(server.requests.map((r) => r.headers['last-event-id'])).toEqual([
      undefined,
      '1',
      '1',
      '1',
    ]);
  });

  it('fills a gap in seqs from the event pages before going on', async () => {
    const events = runEvents();
    const server = await serve(async (request, res) => {
      if (request.url.pathname.endsWith('/events')) {
        const after = Number(request.url.searchParams.get('after'));
        const limit = Number(request.url.searchParams.get('limit'));
        return sendJson(res, 200, {
          items: events.filter((e) => e.seq > after).slice(0, limit),
          nextAfter: null,
        });
      }
      openSse(res);
      for (const event of events.filter((e) => e.seq === 1 || e.seq >= 5)) {
        await write(res, frame(event));
      }
    });
    const client = new ServerClient({ serverUrl: server.url, token: TOKEN });
    const seen: number[] = [];
    await followSessionEvents(client, SESSION_ID, {
      onEvent: (event) => seen.push(event.seq),
      until: (event) => event.type === 'run.completed',
      sleep: noWait,
    });
    expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(server.requests[1]?.url.search).toBe('?after=1&limit=3');
  });

  it('does not retry what waiting cannot fix', async () => {
    const server = await serve((_request, res) =>
      sendJson(res, 401, { code: 'UNAUTHENTICATED', message: 'no', details: {} }),
    );
    const client = new ServerClient({ serverUrl: server.url, token: TOKEN });
    const error = await failure(
      followSessionEvents(client, SESSION_ID, { onEvent: () => {}, sleep: noWait }),
    );
    expect(error.code).toBe('UNAUTHENTICATED');
    expect(server.requests).toHaveLength(1);
  });

  it('tries a refused stream a few times, then reports the refusal (exit 2), not a lost server', async () => {
    const server = await serve((_request, res) =>
      sendJson(
        res,
        429,
        {
          code: 'TOO_MANY_STREAMS',
          message: 'this token has 50 event streams open',
          details: { hint: 'close streams no longer read' },
        },
        { 'retry-after': '3' },
      ),
    );
    const client = new ServerClient({ serverUrl: server.url, token: TOKEN });
    const waits: number[] = [];
    const error = await failure(
      followSessionEvents(client, SESSION_ID, {
        onEvent: () => {},
        onReconnect: ({ delayMs }) => waits.push(delayMs),
        sleep: noWait,
      }),
    );
    expect(error.code).toBe('TOO_MANY_STREAMS');
    expect(error.details.hint).toBe('close streams no longer read');
    expect(server.requests).toHaveLength(4);
    // The server's Retry-After, not the first quick steps of the backoff.
    expect(waits).toEqual([3_000, 3_000, 3_000]);
  });

  it('gives up with SERVER_UNAVAILABLE after too many failures in a row', async () => {
    const server = await serve(() => {});
    const url = server.url;
    await server.close();
    servers.pop();
    const client = new ServerClient({ serverUrl: url, token: TOKEN });
    let reconnects = 0;
    const error = await failure(
      followSessionEvents(client, SESSION_ID, {
        onEvent: () => {},
        onReconnect: () => {
          reconnects += 1;
        },
        reconnect: { maxFailures: 3 },
        sleep: noWait,
      }),
    );
    expect(error.code).toBe('SERVER_UNAVAILABLE');
    expect(error.message).toMatch(/4 connections in a row failed/);
    expect(reconnects).toBe(3);
  });

  it('stops when its signal aborts, and lets a callback failure through unretried', async () => {
    const server = await serve(async (_request, res) => {
      openSse(res);
      await write(res, frame(storedEvent(1, 'session.created', {})));
    });
    const client = new ServerClient({ serverUrl: server.url, token: TOKEN });
    const controller = new AbortController();
    const result = await followSessionEvents(client, SESSION_ID, {
      onEvent: () => controller.abort(),
      signal: controller.signal,
      sleep: noWait,
    });
    expect(result).toEqual({ lastSeq: 1, stoppedBy: 'signal' });
    await expect(
      followSessionEvents(client, SESSION_ID, {
        onEvent: () => {
          throw new Error('printer broke');
        },
        sleep: noWait,
      }),
    ).rejects.toThrowError('printer broke');
    expect(server.requests).toHaveLength(2);
  });
});
