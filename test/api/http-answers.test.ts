import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StoreFixture, storeDialects } from '../store/dialects.js';
import {
  type ErrorBody,
  expectError,
  PROMOTABLE,
  postJson,
  type RunningApi,
  seedFinishedRun,
  startApi,
  submitQueued,
} from './api-fixture.js';

/**
 * What the API answers at its edges, against each real database: concurrent requests that must
 * not both succeed, and refusals that say what was wrong and what to do.
 */

const dialects = await storeDialects();
const V1 = '/api/v1';

/** Raw bytes to the server, in parts `pauseMs` apart; what it sent back once it closed. */
async function rawExchange(
  url: string,
  parts: readonly (string | Buffer)[],
  pauseMs = 0,
): Promise<{ status: number; body: ErrorBody | null; text: string }> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  socket.on('error', () => {});
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  for (const part of parts) {
    if (socket.destroyed) break;
    socket.write(part);
    if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
  await closed;
  const text = Buffer.concat(chunks).toString('utf8');
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
  const json = text.slice(text.indexOf('\r\n\r\n') + 4);
  let body: ErrorBody | null = null;
  try {
    body = JSON.parse(json) as ErrorBody;
  } catch {}
  return { status, body, text };
}

for (const dialect of dialects) {
  describe.skipIf(!dialect.available)(`API answers: ${dialect.name}`, () => {
    let fixture: StoreFixture;
    let api: RunningApi;

    beforeAll(async () => {
      fixture = await dialect.open();
      api = await startApi(fixture);
    });
    afterAll(async () => {
      await api?.close();
      await fixture?.cleanup();
    });

    describe('requests the HTTP parser refuses', () => {
      const host = 'Host: localhost\r\n';

      it('headers over the limit: 431 naming the limit', async () => {
        const { status, body, text } = await rawExchange(api.url, [
          `GET ${V1}/sessions HTTP/1.1\r\n${host}X-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
        ]);
        expect(status).toBe(431);
        expect(text).toMatch(/^HTTP\/1\.1 431 Request Header Fields Too Large/);
        expect(body?.code).toBe('HEADERS_TOO_LARGE');
        expect(body?.message).toMatch(/16384 bytes/);
        expect(body?.details.hint).toMatch(/shorten the URL/);
      });

      it('a control character in a header value: 400 saying so', async () => {
        const { status, body } = await rawExchange(api.url, [
          `GET ${V1}/sessions HTTP/1.1\r\n${host}X-Bad: a\x01b\r\n\r\n`,
        ]);
        expect(status).toBe(400);
        expect(body?.message).toMatch(/header/);
        expect(body?.details.hint).toMatch(/ASCII/);
      });

      it('a space in the URL: 400 with a hint to percent-encode', async () => {
        const { status, body } = await rawExchange(api.url, [
          `GET ${V1}/sessions/a\x7fb HTTP/1.1\r\n${host}\r\n`,
        ]);
        expect(status).toBe(400);
        expect(body?.message).toMatch(/URL/);
        expect(body?.details.hint).toMatch(/percent-encode/);
      });

      it('a bad Content-Length or chunk size: 400 naming it', async () => {
        const length = await rawExchange(api.url, [
          `POST ${V1}/sessions HTTP/1.1\r\n${host}Content-Length: 12x\r\n\r\n{}`,
        ]);
        expect(length.status).toBe(400);
        expect(length.body?.details.field).toBe('content-length');
        expect(length.body?.message).toMatch(/Content-Length/);
        const chunk = await rawExchange(api.url, [
          `POST ${V1}/sessions HTTP/1.1\r\n${host}Transfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`,
        ]);
        expect(chunk.status).toBe(400);
        expect(chunk.body?.message).toMatch(/chunked/);
      });
    });

    describe('a request that does not arrive in time', () => {
      let slow: RunningApi;
      beforeAll(async () => {
        slow = await startApi(fixture, { requestTimeoutMs: 1_500, streamKeepAliveMs: 500 });
      });
      afterAll(async () => {
        await slow?.close();
      });

      it('a body that stops half way: 408 in the error model, then closed', async () => {
        const started = Date.now();
        const { status, body } = await rawExchange(slow.url, [
          `POST ${V1}/sessions HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${slow.secrets.admin}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"task":`,
        ]);
        expect(status).toBe(408);
        expect(body?.code).toBe('REQUEST_TIMEOUT');
        expect(body?.message).toMatch(/not received in full within 2 s/);
        expect(body?.details.hint).toMatch(/whole body/);
        expect(Date.now() - started).toBeLessThan(5_000);
      });

      it('an event stream and a long-poll claim outlast the request timeout', async () => {
        const { sessionId } = await submitQueued(slow);
        const stream = await slow.request(`${V1}/sessions/${sessionId}/events/stream`);
        expect(stream.status).toBe(200);
        const claim = slow.request(
          `${V1}/workers/claim`,
          postJson({ waitSec: 3 }, { secret: slow.secrets.worker }),
        );
        const reader = stream.body?.getReader();
        if (reader === undefined) throw new Error('no stream body');
        // Keep-alive comments still arrive well past the 1.5 s limit.
        const until = Date.now() + 3_000;
        let last = '';
        while (Date.now() < until) {
          const { value, done } = await reader.read();
          expect(done).toBe(false);
          last = new TextDecoder().decode(value);
        }
        expect(last.length).toBeGreaterThan(0);
        await reader.cancel();
        expect((await claim).status).toBe(204);
      });
    });

    describe('refusals that say what was wrong and what to do', () => {
      const answer = async (path: string, init?: Parameters<RunningApi['request']>[1]) => {
        const response = await api.request(path, init);
        return { status: response.status, body: (await response.json()) as ErrorBody };
      };

      it('a body over the limit: 413 stating the limit in bytes', async () => {
        const { status, body } = await answer(
          `${V1}/sessions`,
          postJson({ task: 'x'.repeat(70_000), repo: '/repos/demo', agent: 'mock' }),
        );
        expect(status).toBe(413);
        expect(body.message).toBe(
          'the request body is larger than the 65536 bytes this endpoint accepts',
        );
        expect(body.details).toMatchObject({ limitBytes: 65_536 });
        expect(body.details.hint).toMatch(/repository/);
      });

      it('invalid JSON: where the parser stopped, as line and column', async () => {
        const json = { method: 'POST', headers: { 'content-type': 'application/json' } };
        const trailing = await answer(`${V1}/sessions`, { ...json, body: '{\n  "task": "x",\n}' });
        expect(trailing.status).toBe(400);
        expect(trailing.body.message).toMatch(
          /^the body is not valid JSON: .+ at line 3, column 1$/,
        );
        expect(trailing.body.details).toMatchObject({ field: '(body)', line: 3, column: 1 });
        const token = await answer(`${V1}/sessions`, { ...json, body: '{"task": x}' });
        expect(token.body.message).toBe("the body is not valid JSON: unexpected token 'x'");
      });

      it('an over-long path parameter is named with its limit', async () => {
        const { status, body } = await answer(`${V1}/sessions/${'a'.repeat(150)}`);
        expect(status).toBe(400);
        expect(body.message).toBe('path parameter id is 150 characters long; the limit is 100');
        expect(body.details).toMatchObject({ field: 'id', in: 'path', limit: 100 });
      });

      it('a malformed percent-escape: says so, with a hint', async () => {
        const { status, body } = await answer(`${V1}/sessions/%C0%AF`);
        expect(status).toBe(400);
        expect(body.message).toMatch(/URL is malformed: a percent-escape/);
        expect(body.details.hint).toMatch(/encodeURIComponent/);
      });

      it('a bad log name lists the accepted forms', async () => {
        const run = await seedFinishedRun(api);
        const { status, body } = await answer(`${V1}/runs/${run.runId}/logs/agent.log`);
        expect(status).toBe(400);
        expect(body.message).toMatch(
          /<attempt>\.stdout\.log, <attempt>\.stderr\.log, <attempt>\.validator-<n>\.stdout\.log/,
        );
      });

      it('a bad Last-Event-ID states the range', async () => {
        const run = await seedFinishedRun(api);
        for (const value of ['2147483648', 'x']) {
          const { body } = await answer(`${V1}/sessions/${run.sessionId}/events/stream`, {
            headers: { 'last-event-id': value },
          });
          expect(body.message).toMatch(/a whole number from 0 to 2147483647/);
          expect(body.details.field).toBe('last-event-id');
        }
      });

      it('403 names the roles the route needs and who to ask', async () => {
        const { status, body } = await answer(`${V1}/tokens`, { secret: api.secrets.viewer });
        expect(status).toBe(403);
        expect(body.message).toMatch(/role "admin"/);
        expect(body.details).toMatchObject({ roles: ['admin'] });
        expect(body.details.hint).toMatch(/^ask an admin for a token of role "admin"/);
        const run = await seedFinishedRun(api, '/repos/demo', PROMOTABLE);
        const approve = await answer(
          `${V1}/runs/${run.runId}/approvals`,
          postJson({ decision: 'approved' }, { secret: api.secrets.viewer }),
        );
        expect(approve.body.message).toMatch(/role "approver" or "admin"/);
      });

      it('a bad artifact name lists the accepted names', async () => {
        const run = await seedFinishedRun(api);
        const { status, body } = await answer(`${V1}/workers/runs/${run.runId}/artifacts/Bad`, {
          method: 'PUT',
          headers: { 'content-type': 'application/octet-stream' },
          body: 'x',
          secret: api.secrets.worker,
        });
        expect(status).toBe(400);
        expect(body.message).toMatch(/^not an artifact name: give patch, or <attempt>\.<file>/);
      });

      it('revoking an unknown token or worker: 404 naming the parameter and how to list them', async () => {
        const token = await answer(`${V1}/tokens/nosuch`, { method: 'DELETE' });
        expect(token.status).toBe(404);
        expect(token.body.details).toMatchObject({ field: 'idOrName', in: 'path' });
        expect(token.body.details.hint).toMatch(/GET \/api\/v1\/tokens/);
        const worker = await answer(`${V1}/workers/nosuch`, { method: 'DELETE' });
        expect(worker.status).toBe(404);
        expect(worker.body.details).toMatchObject({ field: 'idOrName', in: 'path' });
        expect(worker.body.details.hint).toMatch(/GET \/api\/v1\/workers/);
      });
    });

    describe('a query parameter given twice', () => {
      it('one that takes one value: 400 naming it', async () => {
        for (const [query, name] of [
          ['limit=1&limit=2', 'limit'],
          ['status=queued&status=running', 'status'],
        ] as const) {
          const response = await api.request(`${V1}/sessions?${query}`);
          const body = await expectError(response, 'REQUEST_INVALID', name);
          expect(body.message).toBe(`give \`${name}\` once`);
          expect(body.details.in).toBe('query');
        }
      });

      it('one documented to take several values is still accepted', async () => {
        const run = await seedFinishedRun(api);
        const response = await api.request(`${V1}/runs/${run.runId}/policy?path=a.md&path=b.md`);
        const body = (await response.json()) as { message?: string };
        expect(body.message ?? '').not.toMatch(/once/);
        expect(response.status).not.toBe(400);
      });
    });

    it('a compressed body: 415 saying only uncompressed bodies are accepted', async () => {
      const response = await api.request(`${V1}/sessions`, {
        ...postJson({ task: 'x', repo: '/repos/demo', agent: 'mock' }),
        headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      });
      const body = await expectError(response, 'MEDIA_TYPE_UNSUPPORTED', 'content-encoding');
      expect(body.message).toBe(
        'this API accepts only uncompressed bodies, not Content-Encoding gzip',
      );
      const identity = await api.request(`${V1}/sessions`, {
        ...postJson({ task: 'x', repo: '/repos/demo', agent: 'mock' }),
        headers: { 'content-type': 'application/json', 'content-encoding': 'identity' },
      });
      expect(identity.status).toBe(201);
    });

    describe('schedules', () => {
      it('changing a schedule that does not exist is 404, whatever the body', async () => {
        const response = await api.request(`${V1}/schedules/doesnotexist`, {
          ...postJson({}),
          method: 'PATCH',
        });
        const body = await expectError(response, 'NOT_FOUND');
        expect(body.message).toMatch(/no schedule with id or name "doesnotexist"/);
      });

      it('previews end at the last slot before year 10000, all of them RFC 3339', async () => {
        const created = await api.json<{ id: string }>(
          `${V1}/schedules`,
          postJson({
            name: 'end-of-time',
            timing: { kind: 'interval', everySec: 86_400, startAt: '9999-12-30T00:00:00Z' },
            job: { task: 'x', repo: '/repos/demo', agent: 'mock' },
          }),
        );
        const preview = await api.json<{ times: string[] }>(
          `${V1}/schedules/${created.id}/preview?count=5`,
        );
        expect(preview.times).toEqual(['9999-12-30T00:00:00.000Z', '9999-12-31T00:00:00.000Z']);
        const refused = await api.request(
          `${V1}/schedules`,
          postJson({
            name: 'past-end-of-time',
            timing: { kind: 'interval', everySec: 86_400, startAt: '9999-12-31T23:00:00-05:00' },
            job: { task: 'x', repo: '/repos/demo', agent: 'mock' },
          }),
        );
        const body = await expectError(refused, 'REQUEST_INVALID', 'timing.startAt');
        expect(body.message).toMatch(/9999/);
      });
    });

    describe('concurrent decisions of one approver', () => {
      async function decideAtOnce(decisions: readonly string[]) {
        const run = await seedFinishedRun(api, '/repos/demo', PROMOTABLE);
        const responses = await Promise.all(
          decisions.map((decision) =>
            api.request(
              `${V1}/runs/${run.runId}/approvals`,
              postJson({ decision }, { secret: api.secrets.approver }),
            ),
          ),
        );
        const statuses = responses.map((response) => response.status);
        const bodies = await Promise.all(responses.map((response) => response.json()));
        const recorded = await api.store.listApprovals({ runId: run.runId });
        return { statuses, bodies: bodies as ErrorBody[], recorded };
      }

      it('eight identical approvals at once: one is recorded, the others are 409', async () => {
        const { statuses, bodies, recorded } = await decideAtOnce(Array(8).fill('approved'));
        expect(statuses.filter((status) => status === 201)).toHaveLength(1);
        expect(statuses.filter((status) => status === 409)).toHaveLength(7);
        expect(recorded).toHaveLength(1);
        const refused = bodies.filter((body) => body.code === 'CONFLICT');
        for (const body of refused) {
          expect(body.message).toMatch(/^approver-\w+ already approved this patch \(apr_/);
        }
      });

      it('an approval and a rejection at once: only one of them stands', async () => {
        const { statuses, recorded } = await decideAtOnce(['approved', 'rejected']);
        expect(statuses.filter((status) => status === 201)).toHaveLength(1);
        expect(statuses.filter((status) => status === 409)).toHaveLength(1);
        expect(recorded).toHaveLength(1);
      });
    });
  });
}
