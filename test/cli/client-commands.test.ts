import type { ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/program.js';
import { progressPrinter } from '../../src/cli/progress-printer.js';
import type { StoredEvent } from '../../src/sessions/index.js';
import {
  attemptRecord,
  type FakeServer,
  frame,
  memoryIo,
  openSse,
  type RecordedRequest,
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

/**
 * The commands as clients, run in this process against a real HTTP server with canned answers:
 * what they send, what they print, and which exit code they end with.
 */

const TOKEN = 'aas_SECRET0123456789abcdefghijklmnopqrstuv';

const servers: FakeServer[] = [];
afterEach(async () => {
  while (servers.length > 0) await servers.pop()?.close();
});

interface FakeAas {
  readonly server: FakeServer;
  readonly cancels: () => number;
}

/**
 * Answers like an AAS server holding one session whose run goes through `events`. With
 * `waitForCancel`, the stream stops after `stopAfter` events until the run is cancelled.
 */
async function fakeAas(
  options: {
    events?: StoredEvent[];
    run?: Record<string, unknown>;
    onStreamOpen?: (sent: number) => void;
    waitForCancel?: { stopAfter: number; onPaused: () => void };
    /** The first cancels are answered 503, as by a server that is away. */
    cancelsUnavailable?: number;
  } = {},
): Promise<FakeAas> {
  let events = options.events ?? runEvents();
  let run = options.run ?? runRecord();
  let cancels = 0;
  let unavailable = options.cancelsUnavailable ?? 0;
  const streams = new Set<{ res: ServerResponse; sent: number }>();
  const flush = async () => {
    for (const stream of streams) {
      const limit = options.waitForCancel && cancels === 0 ? options.waitForCancel.stopAfter : 1e9;
      for (const event of events.filter((e) => e.seq > stream.sent && e.seq <= limit)) {
        await write(stream.res, frame(event));
        stream.sent = event.seq;
      }
      if (options.waitForCancel && cancels === 0 && stream.sent >= limit) {
        options.waitForCancel.onPaused();
      }
    }
  };
  const server = await startFakeServer(async (request: RecordedRequest, res) => {
    if (request.headers.authorization !== `Bearer ${TOKEN}`) {
      return sendJson(res, 401, {
        code: 'UNAUTHENTICATED',
        message: 'a valid bearer token is required',
        details: { hint: 'send "Authorization: Bearer aas_…"' },
      });
    }
    const path = request.url.pathname;
    const route = `${request.method} ${path}`;
    if (route === 'POST /api/v1/sessions') {
      return sendJson(res, 201, { sessionId: SESSION_ID, runId: RUN_ID });
    }
    if (route === `GET /api/v1/sessions/${SESSION_ID}/events/stream`) {
      openSse(res);
      const stream = {
        res,
        sent: Number(request.headers['last-event-id'] ?? request.url.searchParams.get('after')),
      };
      streams.add(stream);
      res.on('close', () => streams.delete(stream));
      await flush();
      return;
    }
    if (route === `POST /api/v1/runs/${RUN_ID}/cancel`) {
      if (unavailable > 0) {
        unavailable -= 1;
        return sendJson(res, 503, {
          code: 'SERVER_UNAVAILABLE',
          message: 'the server is shutting down',
          details: {},
        });
      }
      cancels += 1;
      sendJson(res, 202, { runId: RUN_ID, outcome: 'cancel_requested', status: 'running' });
      const last = events.at(-1)?.seq ?? 0;
      events = [
        ...events.filter((e) => e.type !== 'run.completed'),
        storedEvent(last, 'run.cancel.requested', {
          runId: RUN_ID,
          by: 'ci-bot',
          statusAtRequest: 'running',
        }),
        storedEvent(last + 1, 'run.completed', {
          runId: RUN_ID,
          status: 'cancelled',
          reasonCode: 'CANCELLED',
          detail: 'cancelled by ci-bot',
          patchSha256: null,
        }),
      ];
      run = runRecord({
        status: 'cancelled',
        reasonCode: 'CANCELLED',
        reasonDetail: 'cancelled by ci-bot',
        patchSha256: null,
        summary: null,
      });
      await flush();
      return;
    }
    if (route === `GET /api/v1/runs/${RUN_ID}`) {
      return sendJson(res, 200, { run, attempts: [attemptRecord()], logs: [] });
    }
    if (route === '/api/v1/sessions' || route === 'GET /api/v1/sessions') {
      const cursor = request.url.searchParams.get('cursor');
      return sendJson(res, 200, {
        items: cursor ? [] : [sessionRecord()],
        nextCursor: cursor ? null : 'c2VzX25leHQ',
      });
    }
    if (route === `GET /api/v1/sessions/${SESSION_ID}`) {
      const spend = {
        calls: 2,
        inputTokens: 300,
        outputTokens: 100,
        cachedInputTokens: 60,
        costUsd: 0.002238,
      };
      return sendJson(res, 200, {
        session: sessionRecord(),
        runs: [run],
        spend: { total: spend, runs: [{ runId: RUN_ID, spend }] },
      });
    }
    if (route === `GET /api/v1/sessions/${SESSION_ID}/events`) {
      const after = Number(request.url.searchParams.get('after') ?? 0);
      const limit = Number(request.url.searchParams.get('limit') ?? 200);
      const items = events.filter((e) => e.seq > after).slice(0, limit);
      const more = events.filter((e) => e.seq > after).length > limit;
      return sendJson(res, 200, { items, nextAfter: more ? (items.at(-1)?.seq ?? null) : null });
    }
    return sendJson(res, 404, { code: 'NOT_FOUND', message: `no route ${route}`, details: {} });
  });
  servers.push(server);
  return { server, cancels: () => cancels };
}

const RUN_ARGS = ['run', '--repo', 'app', '--task', 'x', '--agent-cmd', 'true'];

describe('aas run --server', () => {
  it('submits the job, prints the live progress and the recorded outcome, exits 0', async () => {
    const { server } = await fakeAas();
    const io = memoryIo({ AAS_TOKEN: TOKEN });
    const code = await runCli(['--server', server.url, ...RUN_ARGS], io);
    expect(code, io.err()).toBe(0);
    const submitted = server.requests.find((r) => r.method === 'POST');
    const job = JSON.parse(submitted?.body ?? '{}') as Record<string, unknown>;
    expect(job).toMatchObject({ repo: '/tmp/app', task: 'x', agent: 'command' });
    expect(job).not.toHaveProperty('requestedBy');
    const out = io.out();
    expect(out).toContain(`session ${SESSION_ID} (requested by ci-bot)\n`);
    expect(out).toContain(`queued on ${server.url}\n`);
    expect(out).toContain(`run ${RUN_ID} started\n`);
    expect(out).toContain('attempt 1 · agent command\n');
    expect(out).toMatch(/ {2}agent {5}succeeded +12 ms\n/);
    expect(out).toMatch(/ {2}gate {6}policy +pass {2}all paths allowed/);
    expect(out).toContain('decision  ready_for_promotion (GATES_PASSED) every gate passed\n');
    expect(out).toContain(`patch     ${server.url}/api/v1/runs/${RUN_ID}/patch\n`);
    expect(out).toContain(' README.md | 2 +-\n');
    expect(out).toContain(`details   aas sessions show ${SESSION_ID} --server ${server.url}\n`);
    expect(io.err()).toBe('');
  });

  it('--json prints the local result shape, with the patch URL instead of a path', async () => {
    const { server } = await fakeAas();
    const io = memoryIo({ AAS_SERVER: `${server.url}/`, AAS_TOKEN: TOKEN });
    const code = await runCli([...RUN_ARGS, '--json'], io);
    expect(code, io.err()).toBe(0);
    const lines = io.out().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] ?? '')).toEqual({
      ok: true,
      sessionId: SESSION_ID,
      runId: RUN_ID,
      status: 'ready_for_promotion',
      reasonCode: 'GATES_PASSED',
      detail: 'every gate passed',
      baseCommit: 'c'.repeat(40),
      patch: {
        sha256: 'd'.repeat(64),
        // On the disk of the host that ran it, not this one's.
        path: null,
        stats: { filesChanged: 1, insertions: 1, deletions: 1, patchLines: 2 },
        files: [
          { path: 'README.md', status: 'modified', insertions: 1, deletions: 1, binary: false },
        ],
        url: `${server.url}/api/v1/runs/${RUN_ID}/patch`,
      },
      attempts: 1,
      summaryPath: null,
      server: server.url,
      exitCode: 0,
    });
  });

  it('--detach submits with where the run may go, prints its ids and leaves it there: exit 0', async () => {
    const { server } = await fakeAas();
    const io = memoryIo({ AAS_TOKEN: TOKEN });
    const code = await runCli(
      [
        '--server',
        server.url,
        ...RUN_ARGS,
        '--require-label',
        'gpu',
        '--require-label',
        'linux',
        '--worker',
        'box-1',
        '--priority',
        '-5',
        '--detach',
      ],
      io,
    );
    expect(code, io.err()).toBe(0);
    const submitted = server.requests.find((r) => r.method === 'POST');
    expect(JSON.parse(submitted?.body ?? '{}')).toMatchObject({
      requireLabels: ['gpu', 'linux'],
      worker: 'box-1',
      priority: -5,
    });
    // Nothing followed: no stream, no run read.
    expect(server.requests.map((r) => `${r.method} ${r.url.pathname}`)).toEqual([
      'POST /api/v1/sessions',
    ]);
    expect(io.out()).toContain(`session ${SESSION_ID}\n`);
    expect(io.out()).toContain(`run     ${RUN_ID} queued on ${server.url}\n`);
  });

  it('refuses a bad --priority, and --detach without a server (exit 2, nothing sent)', async () => {
    const { server } = await fakeAas();
    const bad = memoryIo({ AAS_TOKEN: TOKEN });
    expect(await runCli(['--server', server.url, ...RUN_ARGS, '--priority', 'high'], bad)).toBe(2);
    expect(bad.err()).toContain(
      'error [INVALID_ARGUMENT]: --priority: --priority must be a whole number from -1000 to 1000, got "high"',
    );
    const local = memoryIo({});
    expect(await runCli([...RUN_ARGS, '--detach'], local)).toBe(2);
    expect(local.err()).toContain('--detach submits to a server');
    const placed = memoryIo({});
    expect(await runCli([...RUN_ARGS, '--worker', 'box-1'], placed)).toBe(2);
    expect(placed.err()).toContain(
      'error [INVALID_ARGUMENT]: --worker: --worker place a run on a server',
    );
    expect(server.requests).toHaveLength(0);
  });

  it('exits with the code of the recorded reason', async () => {
    const { server } = await fakeAas({
      events: runEvents({ status: 'blocked', reasonCode: 'GATE_FAILED', detail: 'tests fail' }),
      run: runRecord({
        status: 'blocked',
        reasonCode: 'GATE_FAILED',
        reasonDetail: 'tests fail\nexpected 42',
        patchSha256: null,
        summary: null,
      }),
    });
    const io = memoryIo({ AAS_TOKEN: TOKEN });
    const code = await runCli(['--server', server.url, ...RUN_ARGS], io);
    expect(code).toBe(3);
    expect(io.out()).toContain(
      'decision  blocked (GATE_FAILED) tests fail\n          expected 42\n',
    );
    expect(io.out()).not.toContain('patch ');
  });

  it('Ctrl-C asks the server once to cancel, then follows the run to its end: exit 130', async () => {
    const controller = new AbortController();
    const { server, cancels } = await fakeAas({
      waitForCancel: { stopAfter: 4, onPaused: () => controller.abort() },
    });
    const io = memoryIo({ AAS_TOKEN: TOKEN }, controller.signal);
    const code = await runCli(['--server', server.url, ...RUN_ARGS], io);
    expect(code, io.err()).toBe(130);
    expect(cancels()).toBe(1);
    expect(io.err()).toContain(`cancelling run ${RUN_ID} on ${server.url}`);
    expect(io.err()).not.toContain('warning');
    expect(io.out()).toContain('cancel requested by ci-bot\n');
    expect(io.out()).toContain('decision  cancelled (CANCELLED) cancelled by ci-bot\n');
  });

  it('Ctrl-C while the server does not answer: the cancel is asked again until it is delivered', async () => {
    const controller = new AbortController();
    const { server, cancels } = await fakeAas({
      waitForCancel: { stopAfter: 4, onPaused: () => controller.abort() },
      cancelsUnavailable: 1,
    });
    const io = memoryIo({ AAS_TOKEN: TOKEN }, controller.signal);
    const code = await runCli(['--server', server.url, ...RUN_ARGS], io);
    expect(code, io.err()).toBe(130);
    expect(cancels()).toBe(1);
    expect(
      server.requests.filter((request) => request.url.pathname.endsWith('/cancel')),
    ).toHaveLength(2);
    expect(io.err()).toContain(`cannot cancel run ${RUN_ID} yet`);
    expect(io.err(), io.err()).toContain(`cancel of run ${RUN_ID} delivered`);
    expect(io.out()).toContain('decision  cancelled (CANCELLED) cancelled by ci-bot\n');
  });

  it('without a token: UNAUTHENTICATED, telling to set AAS_TOKEN, nothing sent (exit 2)', async () => {
    const { server } = await fakeAas();
    const io = memoryIo({});
    const code = await runCli(['--server', server.url, ...RUN_ARGS], io);
    expect(code).toBe(2);
    expect(io.err()).toMatch(/error \[UNAUTHENTICATED\]: .*no token for the AAS server at http/);
    expect(io.err()).toMatch(/hint: export AAS_TOKEN=<token> \(or pass --token\)/);
    expect(server.requests).toHaveLength(0);
  });

  it('a wrong token: the server refuses it, the message says what to do, the token is not shown', async () => {
    const { server } = await fakeAas();
    const wrong = 'aas_WRONG0123456789abcdefghijklmnopqrstuvw';
    const io = memoryIo({});
    const code = await runCli(['--server', server.url, '--token', wrong, ...RUN_ARGS], io);
    expect(code).toBe(2);
    expect(io.err()).toMatch(/error \[UNAUTHENTICATED\]: a valid bearer token is required/);
    expect(io.err()).toContain(
      `hint: set AAS_TOKEN (or --token) to a valid token of ${server.url}; an admin creates one with \`aas token create\``,
    );
    expect(io.err() + io.out()).not.toContain(wrong);
    const json = memoryIo({ AAS_TOKEN: wrong });
    expect(await runCli(['--server', server.url, ...RUN_ARGS, '--json'], json)).toBe(2);
    expect(JSON.parse(json.out())).toMatchObject({ ok: false, error: { code: 'UNAUTHENTICATED' } });
    expect(json.out()).not.toContain(wrong);
  });

  it('an unreachable server: SERVER_UNAVAILABLE, exit 1', async () => {
    const { server } = await fakeAas();
    const url = server.url;
    await server.close();
    servers.pop();
    const io = memoryIo({ AAS_TOKEN: TOKEN });
    const code = await runCli(['--server', url, ...RUN_ARGS], io);
    expect(code).toBe(1);
    expect(io.err()).toContain(
      `error [SERVER_UNAVAILABLE]: cannot reach the AAS server at ${url}: connection refused`,
    );
    expect(io.err()).not.toContain(TOKEN);
  });

  it('a malformed server URL is bad configuration (exit 2)', async () => {
    const io = memoryIo({ AAS_TOKEN: TOKEN });
    expect(await runCli(['--server', 'localhost:8001', ...RUN_ARGS], io)).toBe(2);
    expect(io.err()).toMatch(/CONFIG_INVALID.*--server/);
  });
});

describe('progress printer', () => {
  it('says which budget stopped the agent, or kept an attempt from starting', () => {
    const io = memoryIo({});
    const print = progressPrinter(io.stdout);
    const detail = 'session budget (AAS_SESSION_MAX_COST_USD): spent $2.1 of the $2 cost limit';
    const budget = { runId: RUN_ID, limit: 'maxCostUsd', limitValue: 2, spentValue: 2.1, detail };
    print(storedEvent(8, 'budget.exceeded', { ...budget, attempt: 1, stage: 'during_attempt' }));
    print(storedEvent(9, 'budget.exceeded', { ...budget, attempt: 2, stage: 'before_attempt' }));
    expect(io.out()).toBe(
      `  budget    ${detail}; agent stopped\n  budget    ${detail}; attempt 2 not started\n`,
    );
  });

  it('prints what only a queued run on a server goes through: requeue and cancel request', () => {
    const io = memoryIo({});
    const print = progressPrinter(io.stdout);
    print(
      storedEvent(8, 'run.requeued', {
        runId: RUN_ID,
        reason: 'lease expired',
        notBefore: '2026-01-01T00:01:00.000Z',
        claimsUsed: 1,
        maxClaims: 2,
      }),
    );
    print(
      storedEvent(9, 'run.cancel.requested', {
        runId: RUN_ID,
        by: 'ops',
        statusAtRequest: 'queued',
      }),
    );
    expect(io.out()).toBe(
      'requeued: lease expired; claimable from 2026-01-01T00:01:00.000Z\ncancel requested by ops\n',
    );
  });
});

describe('aas sessions --server', () => {
  it('list: the table, the filters sent, and the cursor of the next page', async () => {
    const { server } = await fakeAas();
    const io = memoryIo({ AAS_TOKEN: TOKEN });
    const code = await runCli(
      [
        'sessions',
        'list',
        '--server',
        server.url,
        '--status',
        'blocked',
        '--label',
        'nightly',
        '--limit',
        '1',
      ],
      io,
    );
    expect(code, io.err()).toBe(0);
    expect(io.out()).toMatch(new RegExp(`^SESSION .*TASK\\n${SESSION_ID} +ready_for_promotion`));
    expect(io.out()).toContain('more: --before c2VzX25leHQ\n');
    expect(server.requests[0]?.url.search).toBe('?status=blocked&label=nightly&limit=1');

    const json = memoryIo({ AAS_TOKEN: TOKEN, AAS_SERVER: server.url });
    expect(await runCli(['sessions', 'list', '--json', '--before', 'c2VzX25leHQ'], json)).toBe(0);
    expect(JSON.parse(json.out())).toEqual([]);
    expect(server.requests[1]?.url.searchParams.get('cursor')).toBe('c2VzX25leHQ');
  });

  it('list: reads page after page of at most 200 until --limit is reached or none is left', async () => {
    const { server } = await fakeAas();
    const io = memoryIo({ AAS_TOKEN: TOKEN, AAS_SERVER: server.url });
    expect(await runCli(['sessions', 'list', '--limit', '250', '--json'], io)).toBe(0);
    expect(JSON.parse(io.out())).toHaveLength(1);
    expect(server.requests.map((r) => r.url.search)).toEqual([
      '?limit=200',
      '?cursor=c2VzX25leHQ&limit=200',
    ]);
  });

  it('show: the session, its run, attempts and gates replayed from the events', async () => {
    const { server } = await fakeAas();
    const io = memoryIo({ AAS_TOKEN: TOKEN, AAS_SERVER: server.url });
    const code = await runCli(['sessions', 'show', SESSION_ID], io);
    expect(code, io.err()).toBe(0);
    const out = io.out();
    expect(out).toContain(`session   ${SESSION_ID}\n`);
    expect(out).toContain('requested by ci-bot');
    expect(out).toContain(`run       ${RUN_ID}  ready_for_promotion (GATES_PASSED)\n`);
    expect(out).toContain(
      'spend     2 model calls, 300 input tokens (60 cached), 100 output tokens, $0.002238\n',
    );
    expect(out).toContain(
      `patch     sha256 ${'d'.repeat(64)}\n          ${server.url}/api/v1/runs/`,
    );
    expect(out).toContain('attempt 1 · command');
    expect(out).toContain('  pass  policy');
    expect(out).toContain(
      `events    7 (aas sessions events ${SESSION_ID} --server ${server.url})\n`,
    );

    const json = memoryIo({ AAS_TOKEN: TOKEN, AAS_SERVER: server.url });
    expect(await runCli(['sessions', 'show', SESSION_ID, '--json'], json)).toBe(0);
    const view = JSON.parse(json.out()) as Record<string, { [key: string]: unknown }>;
    expect(Object.keys(view)).toEqual(['session', 'runs', 'attempts', 'spend', 'projection']);
    expect(view.spend?.total).toMatchObject({ calls: 2, costUsd: 0.002238 });
    expect(view.projection?.eventCount).toBe(7);
  });

  it('show of an unknown session is NOT_FOUND from the server (exit 2)', async () => {
    const { server } = await fakeAas();
    const io = memoryIo({ AAS_TOKEN: TOKEN, AAS_SERVER: server.url });
    expect(await runCli(['sessions', 'show', 'ses_0193ffffffffffffffffffff'], io)).toBe(2);
    expect(io.err()).toMatch(/NOT_FOUND/);
  });

  it('events: pages through the log from --after, up to --limit', async () => {
    const { server } = await fakeAas();
    const io = memoryIo({ AAS_TOKEN: TOKEN, AAS_SERVER: server.url });
    const code = await runCli(
      ['sessions', 'events', SESSION_ID, '--after', '2', '--limit', '3', '--json'],
      io,
    );
    expect(code, io.err()).toBe(0);
    const seqs = io
      .out()
      .trim()
      .split('\n')
      .map((line) => (JSON.parse(line) as StoredEvent).seq);
    expect(seqs).toEqual([3, 4, 5]);
  });

  it('events --follow streams until interrupted; without a server it is bad input', async () => {
    const controller = new AbortController();
    const { server } = await fakeAas();
    const io = memoryIo({ AAS_TOKEN: TOKEN, AAS_SERVER: server.url }, controller.signal);
    const following = runCli(['sessions', 'events', SESSION_ID, '--follow'], io);
    while (!io.out().includes('run.completed')) await new Promise((r) => setTimeout(r, 10));
    controller.abort();
    expect(await following).toBe(0);
    expect(io.out().trim().split('\n')).toHaveLength(7);

    const local = memoryIo({});
    expect(await runCli(['sessions', 'events', SESSION_ID, '--follow'], local)).toBe(2);
    expect(local.err()).toMatch(/--follow reads a server's live stream/);
  });
});
