import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StoreFixture, storeDialects } from '../store/dialects.js';
import { type RunningApi, startApi, submitQueued } from './api-fixture.js';
import { openSse, type SseConnection } from './sse-client.js';

/**
 * The SSE streams a server holds are capped per token and in all, both kinds counted together;
 * a stream's slot comes back when its client goes. The limits touch no table: SQLite only.
 */

const [sqlite] = await storeDialects();

describe('stream limits', () => {
  let fixture: StoreFixture;
  let api: RunningApi;
  const open: SseConnection[] = [];

  beforeAll(async () => {
    if (sqlite === undefined) throw new Error('no SQLite dialect');
    fixture = await sqlite.open();
    api = await startApi(fixture, { streamLimits: { maxStreams: 3, maxStreamsPerToken: 2 } });
  });
  afterAll(async () => {
    for (const connection of open) connection.close();
    await api?.close();
    await fixture?.cleanup();
  });

  const as = (secret: string) => ({ authorization: `Bearer ${secret}` });

  async function stream(path: string, secret: string): Promise<SseConnection> {
    const connection = await openSse(`${api.url}${path}`, as(secret));
    open.push(connection);
    expect(connection.status).toBe(200);
    return connection;
  }

  async function refused(path: string, secret: string): Promise<{ code: string; message: string }> {
    const response = await api.request(path, { secret });
    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after')).toBe('5');
    const body = (await response.json()) as { code: string; message: string };
    expect(body.code).toBe('TOO_MANY_STREAMS');
    return body;
  }

  /** Opens a stream once the server has noticed a closed one (its 'close' comes a moment later). */
  async function streamOnceFreed(path: string, secret: string): Promise<SseConnection> {
    for (let attempt = 0; attempt < 400; attempt += 1) {
      const connection = await openSse(`${api.url}${path}`, as(secret));
      if (connection.status === 200) {
        open.push(connection);
        return connection;
      }
      connection.close();
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error(`${path} stayed refused`);
  }

  it('refuses a token past its streams, then the server past all; a closed stream frees its slot', async () => {
    const { sessionId } = await submitQueued(api);
    const events = `/api/v1/sessions/${sessionId}/events/stream`;
    const viewer = api.secrets.viewer;
    const operator = api.secrets.operator;

    const viewerEvents = await stream(events, viewer);
    await stream('/api/v1/stream', viewer);
    const perToken = await refused(events, viewer);
    expect(perToken.message).toContain('this token has 2 event streams open');
    // Another token still gets one: the server holds 3, its limit.
    await stream('/api/v1/stream', operator);
    const perServer = await refused('/api/v1/stream', api.secrets.admin);
    expect(perServer.message).toContain('this server has 3 event streams open');
    const metrics = await (await api.request('/api/v1/metrics')).text();
    expect(metrics).toMatch(/^aas_event_streams 3$/m);
    expect(metrics).toMatch(/^aas_event_streams_refused_total\{limit="token"\} 1$/m);
    expect(metrics).toMatch(/^aas_event_streams_refused_total\{limit="server"\} 1$/m);

    // A refused request took no slot, and a closed stream gives its slot back.
    viewerEvents.close();
    await streamOnceFreed(events, api.secrets.admin);
    await refused(events, viewer);
  });
});
