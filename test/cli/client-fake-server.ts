import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import type { CliIo } from '../../src/cli/cli-io.js';
import type { StoredEvent } from '../../src/sessions/index.js';

/**
 * A real HTTP server with canned answers, for the client's wire-level tests: what the client
 * sent is recorded, what it gets back is whatever the test's handler writes.
 */

export interface RecordedRequest {
  readonly method: string;
  readonly url: URL;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

export type Handler = (
  request: RecordedRequest,
  res: ServerResponse,
  raw: IncomingMessage,
) => unknown;

export interface FakeServer {
  readonly url: string;
  readonly requests: RecordedRequest[];
  close(): Promise<void>;
}

export async function startFakeServer(handler: Handler): Promise<FakeServer> {
  const requests: RecordedRequest[] = [];
  const server = createServer((raw, res) => {
    const chunks: Buffer[] = [];
    raw.on('data', (chunk: Buffer) => chunks.push(chunk));
    raw.on('end', () => {
      const request: RecordedRequest = {
        method: raw.method ?? 'GET',
        url: new URL(raw.url ?? '/', 'http://fake'),
        headers: raw.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(request);
      Promise.resolve(handler(request, res, raw)).catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(String(error));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(JSON.stringify(body));
}

export function openSse(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' });
  res.write(': stream open\n\n');
}

/** Writes and resolves once the bytes are handed to the socket. */
export function write(res: ServerResponse, text: string): Promise<void> {
  return new Promise((resolve) => res.write(text, () => resolve()));
}

export function frame(event: StoredEvent): string {
  return `id: ${event.seq}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

export const SESSION_ID = 'ses_0193aaaaaaaaaaaaaaaaaaaa';
export const RUN_ID = 'run_0193bbbbbbbbbbbbbbbbbbbb';

export function storedEvent(seq: number, type: string, data: unknown): StoredEvent {
  return {
    sessionId: SESSION_ID,
    seq,
    type,
    at: `2026-01-01T00:00:${String(seq).padStart(2, '0')}.000Z`,
    actor: 'worker:test',
    data,
    prevHash: `${seq - 1}`.padStart(64, '0'),
    hash: `${seq}`.padStart(64, '0'),
  };
}

/** A whole run as a server records it: queued, claimed, one attempt, a patch, completed. */
export function runEvents(
  final: { status: string; reasonCode: string; detail: string } = {
    status: 'ready_for_promotion',
    reasonCode: 'GATES_PASSED',
    detail: 'every gate passed',
  },
): StoredEvent[] {
  const runId = RUN_ID;
  return [
    storedEvent(1, 'session.created', {
      task: 'x',
      repo: '/srv/repo',
      agent: 'command',
      requestedBy: 'ci-bot',
      labels: [],
    }),
    storedEvent(2, 'run.queued', { runId, jobSpec: {} }),
    storedEvent(3, 'run.started', { runId, owner: 'worker:1', leaseExpiresAt: 'later' }),
    storedEvent(4, 'run.attempt.started', {
      runId,
      attemptId: 'att_1',
      attempt: 1,
      agentId: 'command',
      feedback: [],
    }),
    storedEvent(5, 'agent.finished', {
      runId,
      attempt: 1,
      agentId: 'command',
      ok: true,
      code: 'GATES_PASSED',
      detail: '',
      exitCode: 0,
      signal: null,
      durationMs: 12,
      result: null,
      rejectedEvents: 0,
    }),
    storedEvent(6, 'gate.passed', {
      runId,
      attempt: 1,
      gate: 'policy',
      code: 'GATES_PASSED',
      detail: 'all paths allowed',
      durationMs: 1,
    }),
    storedEvent(7, 'run.completed', { runId, ...final, patchSha256: null }),
  ];
}

export function sessionRecord(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: SESSION_ID,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:07.000Z',
    task: 'x',
    repo: '/srv/repo',
    agent: 'command',
    requestedBy: 'ci-bot',
    labels: [],
    status: 'ready_for_promotion',
    reasonCode: 'GATES_PASSED',
    lastSeq: 7,
    lastHash: '7'.padStart(64, '0'),
    ...overrides,
  };
}

export function runRecord(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: RUN_ID,
    sessionId: SESSION_ID,
    status: 'ready_for_promotion',
    reasonCode: 'GATES_PASSED',
    reasonDetail: 'every gate passed',
    jobSpec: {},
    baseRef: 'HEAD',
    baseCommit: 'c'.repeat(40),
    patchSha256: 'd'.repeat(64),
    summary: {
      sessionId: SESSION_ID,
      runId: RUN_ID,
      status: 'ready_for_promotion',
      reasonCode: 'GATES_PASSED',
      detail: 'every gate passed',
      baseCommit: 'c'.repeat(40),
      attempts: 1,
      patch: {
        sha256: 'd'.repeat(64),
        path: '/srv/aas/artifacts/dd.patch',
        stats: { filesChanged: 1, insertions: 1, deletions: 1, patchLines: 2 },
        files: [
          { path: 'README.md', status: 'modified', insertions: 1, deletions: 1, binary: false },
        ],
      },
    },
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:07.000Z',
    startedAt: '2026-01-01T00:00:03.000Z',
    finishedAt: '2026-01-01T00:00:07.000Z',
    leaseOwner: null,
    leaseExpiresAt: null,
    version: 5,
    ...overrides,
  };
}

export function attemptRecord(): Record<string, unknown> {
  return {
    id: 'att_1',
    runId: RUN_ID,
    number: 1,
    agentId: 'command',
    status: 'succeeded',
    reasonCode: 'GATES_PASSED',
    startedAt: '2026-01-01T00:00:04.000Z',
    finishedAt: '2026-01-01T00:00:06.000Z',
    detail: null,
  };
}

/** A CliIo whose output is collected, for running commands in this process. */
export function memoryIo(
  env: Record<string, string | undefined>,
  signal: AbortSignal = new AbortController().signal,
): CliIo & { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  const sink = (append: (text: string) => void) =>
    new Writable({
      write(chunk: Buffer | string, _encoding, callback) {
        append(String(chunk));
        callback();
      },
    });
  return {
    stdout: sink((text) => {
      out += text;
    }),
    stderr: sink((text) => {
      err += text;
    }),
    env,
    cwd: '/tmp',
    nodePath: process.execPath,
    user: 'user:test',
    signal,
    out: () => out,
    err: () => err,
  };
}
