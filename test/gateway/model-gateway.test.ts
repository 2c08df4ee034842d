import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, lstatSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import {
  type ClientRequest,
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type BudgetExceeded,
  budgetExceededError,
  type ModelCallRecord,
  type ModelGateway,
  type ModelGatewayOptions,
  newPlaceholderKey,
  type PriceTable,
  startModelGateway,
} from '../../src/gateway/index.js';
import { SseEventParser } from '../../src/gateway/sse-event-parser.js';
import { isAasError, type Logger, systemClock } from '../../src/kernel/index.js';
import {
  type ScriptedUpstream,
  startScriptedUpstream,
  UPSTREAM_USAGE,
} from './scripted-upstream.js';

const REAL_ANTHROPIC_KEY = 'sk-ant-api03-REAL-anthropic-0123456789abcdef';
const REAL_OPENAI_KEY = 'sk-proj-REAL-openai-fedcba9876543210';
const REAL_GOOGLE_KEY = 'AIzaSy-REAL-google-00112233445566778899';
const REAL_KEYS = [REAL_ANTHROPIC_KEY, REAL_OPENAI_KEY, REAL_GOOGLE_KEY];
const PLACEHOLDER = newPlaceholderKey();

const PRICES: PriceTable = {
  'claude-sonnet-4-5': { inputPerMTokUsd: 3, outputPerMTokUsd: 15, cachedInputPerMTokUsd: 0.3 },
  'claude-*': { inputPerMTokUsd: 1, outputPerMTokUsd: 5 },
  'gpt-5*': { inputPerMTokUsd: 1.25, outputPerMTokUsd: 10, cachedInputPerMTokUsd: 0.125 },
  'gpt-5-mini': { inputPerMTokUsd: 0.25, outputPerMTokUsd: 2, cachedInputPerMTokUsd: 0.025 },
  'gemini-2.5-pro*': { inputPerMTokUsd: 1.25, outputPerMTokUsd: 10, cachedInputPerMTokUsd: 0.125 },
  'gemini-2.5-flash*': { inputPerMTokUsd: 0.3, outputPerMTokUsd: 2.5, cachedInputPerMTokUsd: 0.03 },
};

/** What each API's call costs with the scripted usage and the prices above. */
const EXPECTED = {
  // 100 uncached + 20 written to the cache + 30 read from it; 50 out.
  messages: {
    inputTokens: 150,
    cachedInputTokens: 30,
    outputTokens: 50,
    costUsd: (120 * 3 + 30 * 0.3 + 50 * 15) / 1e6,
  },
  responses: {
    inputTokens: 200,
    cachedInputTokens: 50,
    outputTokens: 80,
    costUsd: (150 * 1.25 + 50 * 0.125 + 80 * 10) / 1e6,
  },
  chat: {
    inputTokens: 300,
    cachedInputTokens: 100,
    outputTokens: 60,
    costUsd: (200 * 0.25 + 100 * 0.025 + 60 * 2) / 1e6,
  },
  // 400 prompt tokens of which 100 cached; 70 candidates + 30 thoughts out, priced as output.
  gemini: {
    inputTokens: 400,
    cachedInputTokens: 100,
    outputTokens: 100,
    costUsd: (300 * 1.25 + 100 * 0.125 + 100 * 10) / 1e6,
  },
} as const;

interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly text: string;
}

interface SendOptions {
  readonly path: string;
  readonly method?: string;
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
  readonly socketPath?: string;
  /** Each chunk as it arrives, with the request (to hang up mid-answer). */
  readonly onChunk?: (chunk: string, request: ClientRequest) => void;
}

function anthropicHeaders(key: string = PLACEHOLDER): Record<string, string> {
  return {
    'content-type': 'application/json',
    'x-api-key': key,
    'anthropic-version': '2023-06-01',
    'anthropic-beta': 'prompt-caching-2024-07-31',
    'user-agent': 'claude-cli/test',
    cookie: 'session=from-the-agent',
  };
}

function openaiHeaders(key: string = PLACEHOLDER): Record<string, string> {
  return {
    'content-type': 'application/json',
    authorization: `Bearer ${key}`,
    'user-agent': 'codex_cli_rs/test',
  };
}

function geminiHeaders(key: string | null = PLACEHOLDER): Record<string, string> {
  return {
    'content-type': 'application/json',
    ...(key === null ? {} : { 'x-goog-api-key': key }),
    'x-goog-api-client': 'google-genai-sdk/1.30.0 gl-node/v22.0.0',
    'user-agent': 'GeminiCLI/0.61.0/gemini-2.5-pro (linux; x64; terminal)',
    cookie: 'session=from-the-agent',
  };
}

const geminiPath = (model: string, method: string, query = '') =>
  `/v1beta/models/${model}:${method}${query}`;

function sseEvents(text: string): { event: string; data: string }[] {
  const parser = new SseEventParser();
  return [...parser.push(text), ...parser.end()];
}

async function eventually(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

describe('model gateway', () => {
  let upstream: ScriptedUpstream;
  let gateway: ModelGateway | null;
  let records: ModelCallRecord[];
  let budgetReasons: BudgetExceeded[];
  let logLines: string[];
  /** Everything the gateway said to anyone: answers, records, logs, errors. */
  let seen: string[];

  const logger: Logger = {
    debug: (obj, msg) => logLines.push(`${msg ?? ''} ${JSON.stringify(obj)}`),
    info: (obj, msg) => logLines.push(`${msg ?? ''} ${JSON.stringify(obj)}`),
    warn: (obj, msg) => logLines.push(`${msg ?? ''} ${JSON.stringify(obj)}`),
    error: (obj, msg) => logLines.push(`${msg ?? ''} ${JSON.stringify(obj)}`),
    child: () => logger,
  };

  async function start(overrides: Partial<ModelGatewayOptions> = {}): Promise<ModelGateway> {
    await gateway?.close();
    gateway = await startModelGateway({
      listen: { host: '127.0.0.1', port: 0 },
      upstreams: {
        anthropic: { baseUrl: upstream.origin, apiKey: REAL_ANTHROPIC_KEY },
        openai: { baseUrl: `${upstream.origin}/openai`, apiKey: REAL_OPENAI_KEY },
        google: { baseUrl: `${upstream.origin}/google`, apiKey: REAL_GOOGLE_KEY },
      },
      placeholderKey: PLACEHOLDER,
      prices: PRICES,
      budget: {},
      onCall: (record) => records.push(record),
      onBudgetExceeded: (reason) => budgetReasons.push(reason),
      clock: systemClock,
      logger,
      ...overrides,
    });
    return gateway;
  }

  function send(options: SendOptions): Promise<Answer> {
    const body =
      options.body === undefined
        ? undefined
        : typeof options.body === 'string' || Buffer.isBuffer(options.body)
          ? options.body
          : JSON.stringify(options.body);
    const where =
      options.socketPath !== undefined
        ? { socketPath: options.socketPath }
        : { host: '127.0.0.1', port: Number(new URL(gateway?.url ?? '').port) };
    return new Promise<Answer>((resolve, reject) => {
      const request = httpRequest({
        ...where,
        method: options.method ?? 'POST',
        path: options.path,
        headers: options.headers ?? {},
      });
      request.on('response', (response) => {
        const chunks: string[] = [];
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          chunks.push(chunk);
          options.onChunk?.(chunk, request);
        });
        const done = (): void => {
          const answer = {
            status: response.statusCode ?? 0,
            headers: response.headers,
            text: chunks.join(''),
          };
          seen.push(JSON.stringify(answer));
          resolve(answer);
        };
        response.once('end', done);
        response.once('error', (error) => {
          seen.push(error.message, chunks.join(''));
          reject(error);
        });
      });
      request.on('error', (error) => {
        seen.push(error.message);
        reject(error);
      });
      request.end(body);
    });
  }

  const messagesBody = (extra: Record<string, unknown> = {}) => ({
    model: 'claude-sonnet-4-5',
    max_tokens: 1024,
    messages: [{ role: 'user', content: 'Say hello' }],
    ...extra,
  });
  const responsesBody = (extra: Record<string, unknown> = {}) => ({
    model: 'gpt-5',
    input: 'Say hello',
    ...extra,
  });
  const geminiBody = (extra: Record<string, unknown> = {}) => ({
    contents: [{ role: 'user', parts: [{ text: 'Say hello' }] }],
    generationConfig: { temperature: 0, thinkingConfig: { includeThoughts: true } },
    ...extra,
  });
  const chatBody = (extra: Record<string, unknown> = {}) => ({
    model: 'gpt-5-mini',
    messages: [{ role: 'user', content: 'Say hello' }],
    ...extra,
  });

  beforeEach(async () => {
    records = [];
    budgetReasons = [];
    logLines = [];
    seen = [];
    gateway = null;
    upstream = await startScriptedUpstream();
    await start();
  });

  afterEach(async () => {
    await gateway?.close();
    await upstream.close();
    // Invariants of every test: the real keys went only upstream, the placeholder never did.
    const said = [...seen, ...logLines, ...records.map((record) => JSON.stringify(record))].join(
      '\n',
    );
    for (const key of REAL_KEYS) expect(said).not.toContain(key);
    for (const request of upstream.requests) {
      expect(JSON.stringify(request.headers)).not.toContain(PLACEHOLDER);
      expect(request.url).not.toContain(PLACEHOLDER);
      expect(request.headers.cookie).toBeUndefined();
      const anthropic = request.url.includes('/v1/messages');
      if (request.url.startsWith('/google/')) {
        expect(request.headers['x-goog-api-key']).toBe(REAL_GOOGLE_KEY);
        expect(request.headers.authorization).toBeUndefined();
        expect(request.headers['x-api-key']).toBeUndefined();
        const query = new URLSearchParams(request.url.split('?')[1] ?? '');
        expect(query.has('key') || query.has('access_token')).toBe(false);
      } else if (anthropic) {
        expect(request.headers['x-api-key']).toBe(REAL_ANTHROPIC_KEY);
        expect(request.headers.authorization).toBeUndefined();
      } else {
        expect(request.headers.authorization).toBe(`Bearer ${REAL_OPENAI_KEY}`);
        expect(request.headers['x-api-key']).toBeUndefined();
        expect(request.headers['x-goog-api-key']).toBeUndefined();
      }
    }
  });

  describe('forwarding and accounting', () => {
    it('forwards an Anthropic message with the real key and records its usage and cost', async () => {
      const answer = await send({
        path: '/v1/messages',
        headers: anthropicHeaders(),
        body: messagesBody(),
      });
      expect(answer.status).toBe(200);
      expect(answer.headers['content-type']).toBe('application/json');
      expect(answer.headers['request-id']).toBe('req_01');
      expect(JSON.parse(answer.text)).toMatchObject({
        type: 'message',
        usage: UPSTREAM_USAGE.messages,
      });

      expect(upstream.requests).toHaveLength(1);
      const forwarded = upstream.requests[0];
      expect(forwarded?.url).toBe('/v1/messages');
      expect(forwarded?.headers['x-api-key']).toBe(REAL_ANTHROPIC_KEY);
      expect(forwarded?.headers['anthropic-version']).toBe('2023-06-01');
      expect(forwarded?.headers['anthropic-beta']).toBe('prompt-caching-2024-07-31');
      expect(forwarded?.headers['user-agent']).toBe('claude-cli/test');
      expect(forwarded?.json).toEqual(messagesBody());

      expect(records).toHaveLength(1);
      expect(records[0]).toMatchObject({
        provider: 'anthropic',
        api: 'messages',
        model: 'claude-sonnet-4-5',
        status: 200,
        stream: false,
        inputTokens: EXPECTED.messages.inputTokens,
        cachedInputTokens: EXPECTED.messages.cachedInputTokens,
        outputTokens: EXPECTED.messages.outputTokens,
        refused: null,
      });
      expect(records[0]?.costUsd).toBeCloseTo(EXPECTED.messages.costUsd, 12);
      expect(records[0]?.latencyMs).toBeGreaterThanOrEqual(0);
      const spent = gateway?.spent();
      expect(spent).toMatchObject({ calls: 1, inputTokens: 150, outputTokens: 50 });
      expect(spent?.costUsd).toBeCloseTo(EXPECTED.messages.costUsd, 12);
    });

    it('accepts the placeholder as a bearer token from an Anthropic client', async () => {
      const { 'x-api-key': _dropped, ...headers } = anthropicHeaders();
      const answer = await send({
        path: '/v1/messages',
        headers: { ...headers, authorization: `Bearer ${PLACEHOLDER}` },
        body: messagesBody(),
      });
      expect(answer.status).toBe(200);
      expect(upstream.requests[0]?.headers['x-api-key']).toBe(REAL_ANTHROPIC_KEY);
      expect(upstream.requests[0]?.headers.authorization).toBeUndefined();
    });

    it('streams an Anthropic message through unchanged and counts its usage', async () => {
      const answer = await send({
        path: '/v1/messages?beta=true',
        headers: anthropicHeaders(),
        body: messagesBody({ stream: true }),
      });
      expect(answer.status).toBe(200);
      expect(answer.headers['content-type']).toBe('text/event-stream; charset=utf-8');
      expect(upstream.requests[0]?.url).toBe('/v1/messages?beta=true');
      const events = sseEvents(answer.text);
      expect(events.map((event) => event.event)).toEqual([
        'message_start',
        'content_block_start',
        'ping',
        'content_block_delta',
        'content_block_delta',
        'content_block_delta',
        'content_block_delta',
        'content_block_delta',
        'content_block_stop',
        'message_delta',
        'message_delta',
        'message_stop',
      ]);
      expect(records).toHaveLength(1);
      expect(records[0]).toMatchObject({
        api: 'messages',
        stream: true,
        status: 200,
        inputTokens: 150,
        cachedInputTokens: 30,
        // The last cumulative message_delta, not the sum of both.
        outputTokens: 50,
        refused: null,
      });
      expect(records[0]?.costUsd).toBeCloseTo(EXPECTED.messages.costUsd, 12);
    });

    it('forwards count_tokens and never costs it', async () => {
      const answer = await send({
        path: '/v1/messages/count_tokens',
        headers: anthropicHeaders(),
        body: { model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'hi' }] },
      });
      expect(answer.status).toBe(200);
      expect(JSON.parse(answer.text)).toEqual({ input_tokens: 42 });
      expect(upstream.requests[0]?.url).toBe('/v1/messages/count_tokens');
      expect(records[0]).toMatchObject({
        api: 'count_tokens',
        inputTokens: 0,
        outputTokens: 0,
        costUsd: 0,
        refused: null,
      });
      expect(gateway?.spent()).toEqual({
        calls: 1,
        inputTokens: 0,
        outputTokens: 0,
        cachedInputTokens: 0,
        costUsd: 0,
        unmeteredCalls: 0,
      });
    });

    it('forwards Responses calls, plain and streamed, to a base URL with a path prefix', async () => {
      const plain = await send({
        path: '/v1/responses',
        headers: openaiHeaders(),
        body: responsesBody(),
      });
      expect(plain.status).toBe(200);
      expect(JSON.parse(plain.text)).toMatchObject({ object: 'response', status: 'completed' });
      const streamed = await send({
        path: '/v1/responses',
        headers: openaiHeaders(),
        body: responsesBody({ stream: true }),
      });
      expect(streamed.status).toBe(200);
      const events = sseEvents(streamed.text);
      expect(events[0]?.event).toBe('response.created');
      expect(events.at(-1)?.event).toBe('response.completed');

      expect(upstream.requests.map((request) => request.url)).toEqual([
        '/openai/v1/responses',
        '/openai/v1/responses',
      ]);
      expect(records.map((record) => record.stream)).toEqual([false, true]);
      for (const record of records) {
        expect(record).toMatchObject({
          provider: 'openai',
          api: 'responses',
          model: 'gpt-5',
          status: 200,
          inputTokens: EXPECTED.responses.inputTokens,
          cachedInputTokens: EXPECTED.responses.cachedInputTokens,
          outputTokens: EXPECTED.responses.outputTokens,
          refused: null,
        });
        expect(record.costUsd).toBeCloseTo(EXPECTED.responses.costUsd, 12);
      }
      expect(gateway?.spent().costUsd).toBeCloseTo(2 * EXPECTED.responses.costUsd, 12);
    });

    it('asks a streamed chat completion for its usage and counts it', async () => {
      const plain = await send({
        path: '/v1/chat/completions',
        headers: openaiHeaders(),
        body: chatBody(),
      });
      expect(plain.status).toBe(200);
      const streamed = await send({
        path: '/v1/chat/completions',
        headers: openaiHeaders(),
        body: chatBody({ stream: true }),
      });
      expect(streamed.status).toBe(200);
      // The gateway added the option, so the upstream sent the usage chunk.
      expect(upstream.requests[1]?.json?.stream_options).toEqual({ include_usage: true });
      const events = sseEvents(streamed.text);
      expect(events.at(-1)?.data).toBe('[DONE]');
      expect(JSON.parse(events.at(-2)?.data ?? '{}')).toMatchObject({ usage: UPSTREAM_USAGE.chat });

      // A request that already asks is forwarded byte for byte.
      const asked = JSON.stringify(
        chatBody({ stream: true, stream_options: { include_usage: true } }),
      );
      await send({ path: '/v1/chat/completions', headers: openaiHeaders(), body: asked });
      expect(upstream.requests[2]?.body).toBe(asked);

      expect(records).toHaveLength(3);
      expect(records.map((record) => record.stream)).toEqual([false, true, true]);
      for (const record of records) {
        expect(record).toMatchObject({
          api: 'chat.completions',
          model: 'gpt-5-mini',
          inputTokens: EXPECTED.chat.inputTokens,
          cachedInputTokens: EXPECTED.chat.cachedInputTokens,
          outputTokens: EXPECTED.chat.outputTokens,
        });
        // The exact id wins over the longer-matching 'gpt-5*' pattern.
        expect(record.costUsd).toBeCloseTo(EXPECTED.chat.costUsd, 12);
      }
    });

    it('passes a stream through as it arrives instead of buffering it', async () => {
      const release = upstream.holdStreams();
      let firstChunk: string | null = null;
      let finishedAtFirstChunk = -1;
      const answer = send({
        path: '/v1/messages',
        headers: anthropicHeaders(),
        body: messagesBody({ stream: true }),
        onChunk: (chunk) => {
          if (firstChunk !== null) return;
          firstChunk = chunk;
          finishedAtFirstChunk = upstream.streamsFinished;
          release();
        },
      });
      const text = (await answer).text;
      // The first event reached the client while the upstream was still holding the rest.
      expect(finishedAtFirstChunk).toBe(0);
      expect(firstChunk).not.toBeNull();
      expect(sseEvents(firstChunk ?? '').map((event) => event.event)).toEqual(['message_start']);
      expect(upstream.streamsFinished).toBe(1);
      expect(sseEvents(text)).toHaveLength(12);
    });

    it('passes an upstream error status through as it is', async () => {
      upstream.fail('status-500');
      const answer = await send({
        path: '/v1/messages',
        headers: anthropicHeaders(),
        body: messagesBody(),
      });
      expect(answer.status).toBe(500);
      expect(answer.headers['request-id']).toBe('req_500');
      expect(JSON.parse(answer.text)).toEqual({
        type: 'error',
        error: { type: 'api_error', message: 'Internal server error' },
      });
      // An error answer costs nothing, so its missing usage is no gap in the count.
      expect(records[0]).toMatchObject({
        status: 500,
        refused: null,
        costUsd: 0,
        unmetered: false,
      });
    });
  });

  describe('authentication', () => {
    it('answers a wrong or missing placeholder with a 401 and forwards nothing', async () => {
      const { 'x-api-key': _dropped, ...noKey } = anthropicHeaders();
      const cases: { path: string; headers: Record<string, string> }[] = [
        { path: '/v1/messages', headers: noKey },
        { path: '/v1/messages', headers: anthropicHeaders('aas-run-not-the-right-key') },
        { path: '/v1/messages', headers: anthropicHeaders(REAL_ANTHROPIC_KEY) },
        // One right key does not excuse a wrong one beside it.
        {
          path: '/v1/messages',
          headers: { ...anthropicHeaders(), authorization: 'Bearer aas-run-wrong' },
        },
        { path: '/v1/messages/count_tokens', headers: noKey },
        { path: '/v1/responses', headers: openaiHeaders('aas-run-not-the-right-key') },
        { path: '/v1/chat/completions', headers: { 'content-type': 'application/json' } },
        // OpenAI clients authenticate with a bearer token only.
        {
          path: '/v1/chat/completions',
          headers: { 'content-type': 'application/json', 'x-api-key': PLACEHOLDER },
        },
        { path: '/v1/responses', headers: { ...openaiHeaders(), authorization: PLACEHOLDER } },
      ];
      for (const { path, headers } of cases) {
        const answer = await send({ path, headers, body: messagesBody() });
        expect(answer.status, path).toBe(401);
        expect(answer.headers['x-aas-refused']).toBe('auth');
        const body: unknown = JSON.parse(answer.text);
        if (path.startsWith('/v1/messages')) {
          expect(body).toEqual({
            type: 'error',
            error: {
              type: 'authentication_error',
              message: 'AAS: invalid API key; present the key this run was given',
            },
          });
        } else {
          expect(body).toEqual({
            error: {
              message: 'AAS: invalid API key; present the key this run was given',
              type: 'invalid_request_error',
              code: 'invalid_api_key',
              param: null,
            },
          });
        }
      }
      expect(upstream.requests).toHaveLength(0);
      expect(records).toHaveLength(cases.length);
      expect(records.every((record) => record.refused === 'auth')).toBe(true);
      expect(gateway?.spent().calls).toBe(0);
    });
  });

  describe('budget', () => {
    it('refuses calls once the cost budget is spent, in each provider shape, and says so once', async () => {
      // One Anthropic call costs $0.001119: it is let through and crosses the limit.
      await start({ budget: { maxCostUsd: 0.001 } });
      const first = await send({
        path: '/v1/messages',
        headers: anthropicHeaders(),
        body: messagesBody(),
      });
      expect(first.status).toBe(200);
      expect(budgetReasons).toHaveLength(1);
      expect(budgetReasons[0]).toMatchObject({ limit: 'maxCostUsd', limitValue: 0.001 });

      const message =
        "AAS: the run's model budget is spent (spent $0.001119 of the $0.001 cost limit); no further model calls are allowed";
      for (const stream of [false, true]) {
        const refused = await send({
          path: '/v1/messages',
          headers: anthropicHeaders(),
          body: messagesBody({ stream }),
        });
        expect(refused.status).toBe(400);
        expect(refused.text).toBe(
          JSON.stringify({ type: 'error', error: { type: 'invalid_request_error', message } }),
        );
      }
      for (const path of ['/v1/responses', '/v1/chat/completions']) {
        const refused = await send({ path, headers: openaiHeaders(), body: responsesBody() });
        expect(refused.status).toBe(429);
        expect(JSON.parse(refused.text)).toEqual({
          error: { message, type: 'insufficient_quota', code: 'insufficient_quota', param: null },
        });
      }
      const counting = await send({
        path: '/v1/messages/count_tokens',
        headers: anthropicHeaders(),
        body: messagesBody(),
      });
      expect(counting.status).toBe(400);

      // The upstream saw the first call and nothing after it.
      expect(upstream.requests).toHaveLength(1);
      expect(budgetReasons).toHaveLength(1);
      expect(records.map((record) => record.refused)).toEqual([
        null,
        'budget',
        'budget',
        'budget',
        'budget',
        'budget',
      ]);
      expect(gateway?.spent().calls).toBe(1);
      const error = budgetExceededError(budgetReasons[0] as BudgetExceeded);
      expect(error.code).toBe('BUDGET_EXCEEDED');
      seen.push(error.message);
    });

    it('refuses calls once a token cap is reached', async () => {
      // A chat call reports 60 output tokens: the first stays under 100, the second crosses it.
      await start({ budget: { maxOutputTokens: 100, maxCostUsd: 10 } });
      for (let i = 0; i < 2; i += 1) {
        const answer = await send({
          path: '/v1/chat/completions',
          headers: openaiHeaders(),
          body: chatBody({ stream: i === 1 }),
        });
        expect(answer.status).toBe(200);
      }
      expect(budgetReasons).toEqual([
        {
          limit: 'maxOutputTokens',
          limitValue: 100,
          spentValue: 120,
          detail: 'spent 120 output tokens of the 100-token output limit',
        },
      ]);
      const refused = await send({
        path: '/v1/chat/completions',
        headers: openaiHeaders(),
        body: chatBody(),
      });
      expect(refused.status).toBe(429);
      expect(JSON.parse(refused.text)).toMatchObject({
        error: { type: 'insufficient_quota', code: 'insufficient_quota', param: null },
      });
      expect(upstream.requests).toHaveLength(2);
      expect(budgetReasons).toHaveLength(1);
    });

    it('refuses a model without a price under a cost budget, before forwarding', async () => {
      await start({ budget: { maxCostUsd: 5 } });
      const anthropic = await send({
        path: '/v1/messages',
        headers: anthropicHeaders(),
        body: messagesBody({ model: 'mystery-model' }),
      });
      expect(anthropic.status).toBe(400);
      const anthropicBody = JSON.parse(anthropic.text) as {
        type: string;
        error: { type: string; message: string };
      };
      expect(anthropicBody.type).toBe('error');
      expect(anthropicBody.error.type).toBe('invalid_request_error');
      expect(anthropicBody.error.message).toContain('"mystery-model"');
      expect(anthropicBody.error.message).toContain('price table');

      const openai = await send({
        path: '/v1/responses',
        headers: openaiHeaders(),
        body: { input: 'no model named' },
      });
      expect(openai.status).toBe(429);
      expect(JSON.parse(openai.text)).toMatchObject({
        error: { type: 'insufficient_quota', code: 'insufficient_quota', param: null },
      });
      // count_tokens is never costed, so it needs no price.
      const counting = await send({
        path: '/v1/messages/count_tokens',
        headers: anthropicHeaders(),
        body: messagesBody({ model: 'mystery-model' }),
      });
      expect(counting.status).toBe(200);

      expect(upstream.requests.map((request) => request.url)).toEqual([
        '/v1/messages/count_tokens',
      ]);
      expect(records.map((record) => record.refused)).toEqual(['no_price', 'no_price', null]);
      expect(budgetReasons).toHaveLength(0);

      // Without a cost budget the same call goes through, at no recorded cost.
      await start({ budget: {} });
      const free = await send({
        path: '/v1/messages',
        headers: anthropicHeaders(),
        body: messagesBody({ model: 'mystery-model' }),
      });
      expect(free.status).toBe(200);
      expect(records.at(-1)).toMatchObject({ refused: null, costUsd: 0, inputTokens: 150 });
    });

    const UNMETERED_MESSAGE =
      'AAS: a model answer carried no usage, so the budget can no longer be enforced; no further model calls are allowed';

    it('gives the budget up after an answer that carried no usage, and refuses every later call', async () => {
      await start({ budget: { maxCostUsd: 5 } });
      upstream.fail('no-usage');
      const unmetered = await send({
        path: '/v1/messages',
        headers: anthropicHeaders(),
        body: messagesBody(),
      });
      expect(unmetered.status).toBe(200);
      expect(records[0]).toMatchObject({
        status: 200,
        refused: null,
        unmetered: true,
        inputTokens: 0,
        outputTokens: 0,
        costUsd: 0,
      });
      // Reported when a call is refused for it: an agent that stops here spent nothing more.
      expect(budgetReasons).toHaveLength(0);
      expect(logLines.some((line) => line.includes('carried no usage'))).toBe(true);

      upstream.fail(null);
      const refused = await send({
        path: '/v1/messages',
        headers: anthropicHeaders(),
        body: messagesBody(),
      });
      expect(refused.status).toBe(400);
      expect(refused.headers['x-aas-refused']).toBe('budget');
      expect(JSON.parse(refused.text)).toEqual({
        type: 'error',
        error: { type: 'invalid_request_error', message: UNMETERED_MESSAGE },
      });
      const openai = await send({
        path: '/v1/responses',
        headers: openaiHeaders(),
        body: responsesBody(),
      });
      expect(openai.status).toBe(429);
      expect(JSON.parse(openai.text)).toMatchObject({
        error: { message: UNMETERED_MESSAGE, code: 'insufficient_quota' },
      });
      expect(upstream.requests).toHaveLength(1);
      expect(budgetReasons).toEqual([
        {
          limit: 'maxCostUsd',
          limitValue: 5,
          spentValue: 0,
          detail: 'a model answer carried no usage, so the budget can no longer be enforced',
          unmetered: true,
        },
      ]);
      expect(records.map((record) => [record.refused, record.unmetered])).toEqual([
        [null, true],
        ['budget', false],
        ['budget', false],
      ]);
      expect(gateway?.spent()).toMatchObject({ calls: 1, unmeteredCalls: 1, costUsd: 0 });
      seen.push(budgetExceededError(budgetReasons[0] as BudgetExceeded).message);
    });

    it('gives a token budget up the same way, but goes on recording without any budget', async () => {
      await start({ budget: { maxOutputTokens: 1000 } });
      upstream.fail('no-usage');
      await send({ path: '/v1/chat/completions', headers: openaiHeaders(), body: chatBody() });
      upstream.fail(null);
      const refused = await send({
        path: '/v1/chat/completions',
        headers: openaiHeaders(),
        body: chatBody(),
      });
      expect(refused.status).toBe(429);
      expect(budgetReasons).toMatchObject([{ limit: 'maxOutputTokens', unmetered: true }]);

      await start({ budget: {} });
      records = [];
      upstream.fail('no-usage');
      const free = await send({
        path: '/v1/messages',
        headers: anthropicHeaders(),
        body: messagesBody(),
      });
      expect(free.status).toBe(200);
      upstream.fail(null);
      const next = await send({
        path: '/v1/messages',
        headers: anthropicHeaders(),
        body: messagesBody(),
      });
      expect(next.status).toBe(200);
      expect(records.map((record) => [record.refused, record.unmetered])).toEqual([
        [null, true],
        [null, false],
      ]);
      expect(gateway?.spent()).toMatchObject({ calls: 2, unmeteredCalls: 1 });
      expect(budgetReasons).toHaveLength(1);
    });

    it('counts a stream its client cut before any usage arrived as unmetered', async () => {
      await start({ budget: { maxCostUsd: 5 } });
      const release = upstream.holdStreams();
      const error = await send({
        path: '/v1/responses',
        headers: openaiHeaders(),
        body: responsesBody({ stream: true }),
        onChunk: (_chunk, request) => request.destroy(),
      }).catch((thrown: unknown) => thrown);
      expect(error).toBeInstanceOf(Error);
      await eventually(() => upstream.cutByClient === 1, 'the upstream to be cut');
      release();
      await eventually(() => records.length === 1, 'the record');
      expect(records[0]).toMatchObject({ status: 200, refused: null, unmetered: true });

      const refused = await send({
        path: '/v1/messages',
        headers: anthropicHeaders(),
        body: messagesBody({ stream: true }),
      });
      expect(refused.status).toBe(400);
      expect(JSON.parse(refused.text).error.message).toBe(UNMETERED_MESSAGE);
      expect(upstream.requests).toHaveLength(1);
    });

    it('counts a cut stream from what it reported before the cut, not as unmetered', async () => {
      await start({ budget: { maxCostUsd: 5 } });
      const release = upstream.holdStreams();
      await send({
        path: '/v1/messages',
        headers: anthropicHeaders(),
        body: messagesBody({ stream: true }),
        onChunk: (_chunk, request) => request.destroy(),
      }).catch(() => {});
      await eventually(() => upstream.cutByClient === 1, 'the upstream to be cut');
      release();
      await eventually(() => records.length === 1, 'the record');
      // message_start carried the input and the first output token.
      expect(records[0]).toMatchObject({ unmetered: false, inputTokens: 150, outputTokens: 1 });
      const next = await send({
        path: '/v1/messages',
        headers: anthropicHeaders(),
        body: messagesBody(),
      });
      expect(next.status).toBe(200);
    });
  });

  describe('calls in flight under a budget', () => {
    /** An upstream that takes `delayMs` to begin each answer, in place of the quick one. */
    async function slowUpstream(delayMs: number): Promise<void> {
      await upstream.close();
      upstream = await startScriptedUpstream({ answerDelayMs: delayMs });
    }

    it('forwards at most four calls at once, so twenty sent together overshoot by at most four', async () => {
      await slowUpstream(150);
      // One Anthropic call costs $0.001119: two of them spend the $0.002 limit.
      await start({ budget: { maxCostUsd: 0.002 } });
      const answers = await Promise.all(
        Array.from({ length: 20 }, () =>
          send({ path: '/v1/messages', headers: anthropicHeaders(), body: messagesBody() }),
        ),
      );
      const forwarded = upstream.requests.length;
      expect(forwarded).toBeGreaterThanOrEqual(2);
      expect(forwarded).toBeLessThanOrEqual(4);
      expect(upstream.maxConcurrent).toBeLessThanOrEqual(4);
      expect(answers.filter((answer) => answer.status === 200)).toHaveLength(forwarded);
      const refused = answers.filter((answer) => answer.status !== 200);
      expect(refused).toHaveLength(20 - forwarded);
      for (const answer of refused) {
        expect(answer.status).toBe(400);
        expect(answer.headers['x-aas-refused']).toBe('budget');
      }
      expect(records.filter((record) => record.refused === 'budget')).toHaveLength(20 - forwarded);
      expect(budgetReasons).toHaveLength(1);
      expect(gateway?.spent().costUsd).toBeLessThanOrEqual(4 * EXPECTED.messages.costUsd + 1e-12);
    });

    it('lets a waiting call in when one in flight finishes, and checks it again then', async () => {
      await slowUpstream(100);
      await start({ budget: { maxCostUsd: 1 }, maxInFlightUnderBudget: 2 });
      const answers = await Promise.all(
        Array.from({ length: 6 }, () =>
          send({ path: '/v1/messages', headers: anthropicHeaders(), body: messagesBody() }),
        ),
      );
      // The budget is far from spent: every call goes through, never more than two at once.
      expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 200, 200, 200]);
      expect(upstream.requests).toHaveLength(6);
      expect(upstream.maxConcurrent).toBe(2);
      // count_tokens costs nothing and never waits.
      const pending = Array.from({ length: 2 }, () =>
        send({ path: '/v1/messages', headers: anthropicHeaders(), body: messagesBody() }),
      );
      await eventually(() => upstream.requests.length === 8, 'two calls in flight');
      const counted = await send({
        path: '/v1/messages/count_tokens',
        headers: anthropicHeaders(),
        body: messagesBody(),
      });
      expect(counted.status).toBe(200);
      expect(upstream.maxConcurrent).toBe(3);
      await Promise.all(pending);
    });

    it('serves waiting calls in the order they came', async () => {
      await slowUpstream(60);
      await start({ budget: { maxCostUsd: 1 }, maxInFlightUnderBudget: 1 });
      const sent: Promise<Answer>[] = [];
      for (const name of ['claude-a', 'claude-b', 'claude-c', 'claude-d']) {
        sent.push(
          send({
            path: '/v1/messages',
            headers: anthropicHeaders(),
            body: messagesBody({ model: name }),
          }),
        );
        await sleep(20);
      }
      await Promise.all(sent);
      expect(upstream.requests.map((request) => request.json?.model)).toEqual([
        'claude-a',
        'claude-b',
        'claude-c',
        'claude-d',
      ]);
      expect(upstream.maxConcurrent).toBe(1);
    });

    it('drops a waiting call whose client leaves, and forwards nothing for it', async () => {
      await start({ budget: { maxCostUsd: 1 }, maxInFlightUnderBudget: 1 });
      const release = upstream.holdStreams();
      const first = send({
        path: '/v1/messages',
        headers: anthropicHeaders(),
        body: messagesBody({ stream: true }),
      });
      await eventually(() => upstream.requests.length === 1, 'the first call upstream');
      let waiting: ClientRequest | null = null;
      const second = new Promise<void>((resolve) => {
        waiting = httpRequest({
          host: '127.0.0.1',
          port: Number(new URL(gateway?.url ?? '').port),
          method: 'POST',
          path: '/v1/messages',
          headers: anthropicHeaders(),
        });
        waiting.on('error', () => resolve());
        waiting.end(JSON.stringify(messagesBody()));
      });
      await sleep(50);
      (waiting as ClientRequest | null)?.destroy();
      await second;
      await eventually(() => records.length === 1, 'the dropped call to be recorded');
      expect(records[0]).toMatchObject({ status: 499, refused: null, unmetered: false });
      release();
      expect((await first).status).toBe(200);
      // The place went back: a later call goes through.
      const third = await send({
        path: '/v1/messages',
        headers: anthropicHeaders(),
        body: messagesBody(),
      });
      expect(third.status).toBe(200);
      expect(upstream.requests).toHaveLength(2);
      expect(gateway?.spent().calls).toBe(2);
    });

    it('never holds calls back without a budget', async () => {
      const release = upstream.holdStreams();
      const pending = Array.from({ length: 8 }, () =>
        send({
          path: '/v1/messages',
          headers: anthropicHeaders(),
          body: messagesBody({ stream: true }),
        }),
      );
      await eventually(() => upstream.requests.length === 8, 'all eight upstream at once');
      release();
      await Promise.all(pending);
    });
  });

  describe('refusals', () => {
    it('answers unknown routes, missing upstreams and bad bodies in the provider shape', async () => {
      const models = await send({ method: 'GET', path: '/v1/models', headers: openaiHeaders() });
      expect(models.status).toBe(404);
      expect(JSON.parse(models.text)).toMatchObject({
        error: { type: 'invalid_request_error', code: 'unknown_url', param: null },
      });
      const complete = await send({
        path: '/v1/complete',
        headers: anthropicHeaders(),
        body: messagesBody(),
      });
      expect(complete.status).toBe(404);
      expect(JSON.parse(complete.text)).toMatchObject({
        type: 'error',
        error: { type: 'not_found_error' },
      });
      const getMessages = await send({
        method: 'GET',
        path: '/v1/messages',
        headers: anthropicHeaders(),
      });
      expect(getMessages.status).toBe(404);

      const notJson = await send({
        path: '/v1/messages',
        headers: anthropicHeaders(),
        body: 'model=claude',
      });
      expect(notJson.status).toBe(400);
      expect(JSON.parse(notJson.text)).toMatchObject({
        type: 'error',
        error: { type: 'invalid_request_error' },
      });
      const array = await send({ path: '/v1/responses', headers: openaiHeaders(), body: [1] });
      expect(array.status).toBe(400);
      expect(JSON.parse(array.text)).toMatchObject({ error: { type: 'invalid_request_error' } });
      const huge = await send({
        path: '/v1/messages',
        headers: anthropicHeaders(),
        body: Buffer.alloc(33 * 1024 * 1024, 0x20),
      });
      expect(huge.status).toBe(413);
      expect(JSON.parse(huge.text)).toMatchObject({ error: { type: 'request_too_large' } });

      await start({ upstreams: { anthropic: { baseUrl: upstream.origin, apiKey: 'sk-ant-x' } } });
      const noUpstream = await send({
        path: '/v1/chat/completions',
        headers: openaiHeaders(),
        body: chatBody(),
      });
      expect(noUpstream.status).toBe(503);
      expect(JSON.parse(noUpstream.text)).toMatchObject({ error: { type: 'server_error' } });

      expect(upstream.requests).toHaveLength(0);
      expect(records.map((record) => [record.status, record.refused])).toEqual([
        [404, 'unknown_route'],
        [404, 'unknown_route'],
        [404, 'unknown_route'],
        [400, 'bad_request'],
        [400, 'bad_request'],
        [413, 'bad_request'],
        [503, 'no_upstream'],
      ]);
      expect(records[0]).toMatchObject({ provider: 'openai', api: null });
      expect(records[1]).toMatchObject({ provider: 'anthropic', api: null });
    });

    it('accepts a gzip-compressed request body', async () => {
      const { gzipSync } = await import('node:zlib');
      const answer = await send({
        path: '/v1/responses',
        headers: { ...openaiHeaders(), 'content-encoding': 'gzip' },
        body: gzipSync(JSON.stringify(responsesBody())),
      });
      expect(answer.status).toBe(200);
      expect(upstream.requests[0]?.json).toEqual(responsesBody());
      expect(upstream.requests[0]?.headers['content-encoding']).toBeUndefined();
    });
  });

  describe('Google Gemini API', () => {
    it('forwards generateContent with the real key in x-goog-api-key and records its usage and cost', async () => {
      const answer = await send({
        path: geminiPath('gemini-2.5-pro', 'generateContent'),
        headers: geminiHeaders(),
        body: geminiBody(),
      });
      expect(answer.status).toBe(200);
      expect(JSON.parse(answer.text)).toMatchObject({ usageMetadata: UPSTREAM_USAGE.gemini });

      expect(upstream.requests).toHaveLength(1);
      const forwarded = upstream.requests[0];
      expect(forwarded?.url).toBe('/google/v1beta/models/gemini-2.5-pro:generateContent');
      expect(forwarded?.headers['x-goog-api-key']).toBe(REAL_GOOGLE_KEY);
      expect(forwarded?.headers['x-goog-api-client']).toBe(
        'google-genai-sdk/1.30.0 gl-node/v22.0.0',
      );
      expect(forwarded?.headers['user-agent']).toContain('GeminiCLI/');
      expect(forwarded?.json).toEqual(geminiBody());

      expect(records).toHaveLength(1);
      expect(records[0]).toMatchObject({
        provider: 'google',
        api: 'generate_content',
        // From the path: a Gemini request body names no model.
        model: 'gemini-2.5-pro',
        status: 200,
        stream: false,
        inputTokens: EXPECTED.gemini.inputTokens,
        cachedInputTokens: EXPECTED.gemini.cachedInputTokens,
        outputTokens: EXPECTED.gemini.outputTokens,
        refused: null,
      });
      expect(records[0]?.costUsd).toBeCloseTo(EXPECTED.gemini.costUsd, 12);
      expect(gateway?.spent().costUsd).toBeCloseTo(EXPECTED.gemini.costUsd, 12);
    });

    it('takes the key from ?key= or a bearer token, strips it and keeps the rest of the query', async () => {
      const fromQuery = await send({
        path: geminiPath(
          'gemini-2.5-flash',
          'streamGenerateContent',
          `?alt=sse&key=${PLACEHOLDER}`,
        ),
        headers: geminiHeaders(null),
        body: geminiBody(),
      });
      expect(fromQuery.status).toBe(200);
      const fromBearer = await send({
        path: geminiPath('gemini-2.5-flash', 'generateContent', `?key=${PLACEHOLDER}`),
        headers: { ...geminiHeaders(null), authorization: `Bearer ${PLACEHOLDER}` },
        body: geminiBody(),
      });
      expect(fromBearer.status).toBe(200);
      expect(upstream.requests.map((request) => request.url)).toEqual([
        '/google/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse',
        '/google/v1beta/models/gemini-2.5-flash:generateContent',
      ]);
      expect(records.map((record) => [record.model, record.stream, record.refused])).toEqual([
        ['gemini-2.5-flash', true, null],
        ['gemini-2.5-flash', false, null],
      ]);
    });

    it('forwards no field mask, so an answer cannot leave its usage out of the count', async () => {
      await start({ budget: { maxCostUsd: 5 } });
      const masks = { 'x-goog-fieldmask': 'candidates', 'x-http-method-override': 'POST' };
      const plain = await send({
        path: geminiPath(
          'gemini-2.5-pro',
          'generateContent',
          '?fields=candidates&%24fields=candidates&prettyPrint=false',
        ),
        headers: { ...geminiHeaders(), ...masks },
        body: geminiBody(),
      });
      expect(plain.status).toBe(200);
      expect(JSON.parse(plain.text)).toMatchObject({ usageMetadata: UPSTREAM_USAGE.gemini });
      const streamed = await send({
        path: geminiPath('gemini-2.5-pro', 'streamGenerateContent', '?$fields=candidates&alt=sse'),
        headers: { ...geminiHeaders(), ...masks },
        body: geminiBody(),
      });
      expect(streamed.status).toBe(200);
      const arrayStream = await send({
        path: geminiPath('gemini-2.5-pro', 'streamGenerateContent', '?fields=candidates'),
        headers: geminiHeaders(),
        body: geminiBody(),
      });
      expect(arrayStream.status).toBe(200);

      expect(upstream.requests.map((request) => request.url)).toEqual([
        '/google/v1beta/models/gemini-2.5-pro:generateContent',
        '/google/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse',
        '/google/v1beta/models/gemini-2.5-pro:streamGenerateContent',
      ]);
      for (const request of upstream.requests) {
        expect(request.headers['x-goog-fieldmask']).toBeUndefined();
        expect(request.headers['x-http-method-override']).toBeUndefined();
      }
      expect(records).toHaveLength(3);
      for (const record of records) {
        expect(record).toMatchObject({
          refused: null,
          unmetered: false,
          inputTokens: EXPECTED.gemini.inputTokens,
          outputTokens: EXPECTED.gemini.outputTokens,
        });
        expect(record.costUsd).toBeCloseTo(EXPECTED.gemini.costUsd, 12);
      }
      expect(gateway?.spent().costUsd).toBeCloseTo(3 * EXPECTED.gemini.costUsd, 12);
    });

    it('refuses an alt other than sse or json with a Google-shaped 400, forwarding nothing', async () => {
      for (const query of ['?alt=proto', '?$alt=media', `?alt=sse&alt=json&key=${PLACEHOLDER}`]) {
        const answer = await send({
          path: geminiPath('gemini-2.5-pro', 'streamGenerateContent', query),
          headers: geminiHeaders(),
          body: geminiBody(),
        });
        expect(answer.status, query).toBe(400);
        expect(answer.headers['x-aas-refused']).toBe('bad_request');
        const body = JSON.parse(answer.text) as { error: Record<string, unknown> };
        expect(body.error).toMatchObject({ code: 400, status: 'INVALID_ARGUMENT' });
        expect(body.error.message).toMatch(/only alt=sse or alt=json/);
      }
      expect(upstream.requests).toHaveLength(0);
      expect(records.map((record) => [record.provider, record.refused])).toEqual([
        ['google', 'bad_request'],
        ['google', 'bad_request'],
        ['google', 'bad_request'],
      ]);
    });

    it('streams an ?alt=sse answer through as it arrives and counts its last usage', async () => {
      const release = upstream.holdStreams();
      let firstChunk: string | null = null;
      let finishedAtFirstChunk = -1;
      const answer = await send({
        path: geminiPath('gemini-2.5-pro', 'streamGenerateContent', '?alt=sse'),
        headers: geminiHeaders(),
        body: geminiBody(),
        onChunk: (chunk) => {
          if (firstChunk !== null) return;
          firstChunk = chunk;
          finishedAtFirstChunk = upstream.streamsFinished;
          release();
        },
      });
      expect(answer.status).toBe(200);
      expect(answer.headers['content-type']).toBe('text/event-stream; charset=utf-8');
      // The first event reached the client while the upstream was still holding the rest.
      expect(finishedAtFirstChunk).toBe(0);
      expect(sseEvents(firstChunk ?? '')).toHaveLength(1);
      expect(upstream.streamsFinished).toBe(1);
      const events = sseEvents(answer.text);
      expect(events).toHaveLength(5);
      expect(JSON.parse(events.at(-1)?.data ?? '{}')).toMatchObject({
        usageMetadata: UPSTREAM_USAGE.gemini,
      });
      expect(records).toHaveLength(1);
      expect(records[0]).toMatchObject({
        api: 'generate_content',
        stream: true,
        status: 200,
        inputTokens: EXPECTED.gemini.inputTokens,
        cachedInputTokens: EXPECTED.gemini.cachedInputTokens,
        // The last cumulative report, not the sum of all five.
        outputTokens: EXPECTED.gemini.outputTokens,
        refused: null,
      });
      expect(records[0]?.costUsd).toBeCloseTo(EXPECTED.gemini.costUsd, 12);
    });

    it('passes a stream sent as a JSON array through as it arrives and counts its usage', async () => {
      const release = upstream.holdStreams();
      let firstChunk: string | null = null;
      let finishedAtFirstChunk = -1;
      const answer = await send({
        path: geminiPath('gemini-2.5-pro', 'streamGenerateContent'),
        headers: geminiHeaders(),
        body: geminiBody(),
        onChunk: (chunk) => {
          if (firstChunk !== null) return;
          firstChunk = chunk;
          finishedAtFirstChunk = upstream.streamsFinished;
          release();
        },
      });
      expect(answer.status).toBe(200);
      expect(answer.headers['content-type']).toBe('application/json; charset=UTF-8');
      expect(finishedAtFirstChunk).toBe(0);
      expect(firstChunk).toMatch(/^\[\{/);
      const chunks = JSON.parse(answer.text) as { usageMetadata: unknown }[];
      expect(chunks).toHaveLength(5);
      expect(chunks.at(-1)?.usageMetadata).toEqual(UPSTREAM_USAGE.gemini);
      expect(upstream.requests[0]?.url).toBe(
        '/google/v1beta/models/gemini-2.5-pro:streamGenerateContent',
      );
      expect(records[0]).toMatchObject({
        stream: true,
        inputTokens: EXPECTED.gemini.inputTokens,
        cachedInputTokens: EXPECTED.gemini.cachedInputTokens,
        outputTokens: EXPECTED.gemini.outputTokens,
        refused: null,
      });
      expect(records[0]?.costUsd).toBeCloseTo(EXPECTED.gemini.costUsd, 12);
    });

    it('still counts what a JSON-array stream reported before the upstream broke off', async () => {
      upstream.fail('reset-mid-stream');
      const error = await send({
        path: geminiPath('gemini-2.5-pro', 'streamGenerateContent'),
        headers: geminiHeaders(),
        body: geminiBody(),
      }).catch((thrown: unknown) => thrown);
      expect(error).toBeInstanceOf(Error);
      await eventually(() => records.length === 1, 'the record');
      expect(records[0]).toMatchObject({
        status: 200,
        refused: 'upstream_error',
        inputTokens: 400,
        cachedInputTokens: 100,
        outputTokens: 1,
      });
    });

    it('forwards countTokens and never costs it', async () => {
      const answer = await send({
        path: geminiPath('gemini-2.5-pro', 'countTokens', `?key=${PLACEHOLDER}`),
        headers: geminiHeaders(),
        body: { contents: [{ role: 'user', parts: [{ text: 'hi' }] }] },
      });
      expect(answer.status).toBe(200);
      expect(JSON.parse(answer.text)).toEqual({ totalTokens: 42 });
      expect(upstream.requests[0]?.url).toBe('/google/v1beta/models/gemini-2.5-pro:countTokens');
      expect(records[0]).toMatchObject({
        provider: 'google',
        api: 'count_tokens',
        model: 'gemini-2.5-pro',
        inputTokens: 0,
        outputTokens: 0,
        costUsd: 0,
        refused: null,
      });
      expect(gateway?.spent()).toEqual({
        calls: 1,
        inputTokens: 0,
        outputTokens: 0,
        cachedInputTokens: 0,
        costUsd: 0,
        unmeteredCalls: 0,
      });
    });

    it('answers a wrong or missing key with a Google-shaped 401 and forwards nothing', async () => {
      const path = geminiPath('gemini-2.5-pro', 'generateContent');
      const cases: { path: string; headers: Record<string, string> }[] = [
        { path, headers: geminiHeaders(null) },
        { path, headers: geminiHeaders('aas-run-not-the-right-key') },
        { path, headers: geminiHeaders(REAL_GOOGLE_KEY) },
        { path: `${path}?key=${REAL_GOOGLE_KEY}`, headers: geminiHeaders(null) },
        // One right key does not excuse a wrong one beside it.
        { path: `${path}?key=aas-run-wrong`, headers: geminiHeaders() },
        { path: `${path}?access_token=ya29.agent-token`, headers: geminiHeaders() },
        { path, headers: { ...geminiHeaders(), authorization: 'Bearer aas-run-wrong' } },
        // Anthropic's header is not where a Google client puts its key.
        { path, headers: { ...geminiHeaders(null), 'x-api-key': PLACEHOLDER } },
        {
          path: geminiPath('gemini-2.5-pro', 'streamGenerateContent', '?alt=sse'),
          headers: geminiHeaders(''),
        },
      ];
      for (const { path: target, headers } of cases) {
        const answer = await send({ path: target, headers, body: geminiBody() });
        expect(answer.status, target).toBe(401);
        expect(answer.headers['x-aas-refused']).toBe('auth');
        expect(JSON.parse(answer.text)).toEqual({
          error: {
            code: 401,
            message: 'AAS: invalid API key; present the key this run was given',
            status: 'UNAUTHENTICATED',
          },
        });
      }
      expect(upstream.requests).toHaveLength(0);
      expect(records).toHaveLength(cases.length);
      expect(records.every((record) => record.refused === 'auth')).toBe(true);
      expect(records.every((record) => record.provider === 'google')).toBe(true);
    });

    it('refuses calls past the budget with a 400 INVALID_ARGUMENT, which Gemini CLI does not retry', async () => {
      // One call costs $0.0013875: it is let through and crosses the limit.
      await start({ budget: { maxCostUsd: 0.001 } });
      const first = await send({
        path: geminiPath('gemini-2.5-pro', 'generateContent'),
        headers: geminiHeaders(),
        body: geminiBody(),
      });
      expect(first.status).toBe(200);
      expect(budgetReasons).toHaveLength(1);

      const message =
        "AAS: the run's model budget is spent (spent $0.0013875 of the $0.001 cost limit); no further model calls are allowed";
      for (const [method, query] of [
        ['generateContent', ''],
        ['streamGenerateContent', '?alt=sse'],
        ['streamGenerateContent', ''],
        ['countTokens', ''],
      ] as const) {
        const refused = await send({
          path: geminiPath('gemini-2.5-pro', method, query),
          headers: geminiHeaders(),
          body: geminiBody(),
        });
        expect(refused.status, method).toBe(400);
        expect(refused.headers['x-aas-refused']).toBe('budget');
        expect(refused.text).toBe(
          JSON.stringify({ error: { code: 400, message, status: 'INVALID_ARGUMENT' } }),
        );
        // Gemini CLI reads "Please retry in <delay>" as a retry delay at any status.
        expect(refused.text).not.toMatch(/retry in/i);
      }
      expect(upstream.requests).toHaveLength(1);
      expect(records.map((record) => record.refused)).toEqual([
        null,
        'budget',
        'budget',
        'budget',
        'budget',
      ]);
      expect(gateway?.spent().calls).toBe(1);
    });

    it('refuses a model without a price under a cost budget, before forwarding', async () => {
      await start({ budget: { maxCostUsd: 5 } });
      const refused = await send({
        path: geminiPath('gemini-9001-super-duper', 'streamGenerateContent', '?alt=sse'),
        headers: geminiHeaders(),
        body: geminiBody(),
      });
      expect(refused.status).toBe(400);
      const body = JSON.parse(refused.text) as {
        error: { code: number; message: string; status: string };
      };
      expect(body.error.code).toBe(400);
      expect(body.error.status).toBe('INVALID_ARGUMENT');
      expect(body.error.message).toContain('"gemini-9001-super-duper"');
      expect(body.error.message).toContain('price table');
      // countTokens is never costed, so it needs no price.
      const counting = await send({
        path: geminiPath('gemini-9001-super-duper', 'countTokens'),
        headers: geminiHeaders(),
        body: geminiBody(),
      });
      expect(counting.status).toBe(200);
      expect(upstream.requests.map((request) => request.url)).toEqual([
        '/google/v1beta/models/gemini-9001-super-duper:countTokens',
      ]);
      expect(records.map((record) => record.refused)).toEqual(['no_price', null]);
    });

    it('refuses a model path that is not one plain segment as an unknown route', async () => {
      const targets: { method?: string; path: string }[] = [
        { path: '/v1beta/models/..:generateContent' },
        { path: '/v1beta/models/../../v1/messages:generateContent' },
        { path: '/v1beta/models/gemini-2.5-pro/..:generateContent' },
        { path: '/v1beta/models/gemini%2F..%2F..:generateContent' },
        { path: '/v1beta/models/gemini-2.5-pro:embedContent' },
        { path: '/v1beta/files' },
        { method: 'GET', path: '/v1beta/models' },
        { method: 'GET', path: geminiPath('gemini-2.5-pro', 'generateContent') },
      ];
      for (const { method, path } of targets) {
        const answer = await send({
          ...(method === undefined ? {} : { method }),
          path,
          headers: geminiHeaders(),
          ...(method === 'GET' ? {} : { body: geminiBody() }),
        });
        expect(answer.status, path).toBe(404);
        expect(JSON.parse(answer.text)).toMatchObject({
          error: { code: 404, status: 'NOT_FOUND' },
        });
      }
      expect(upstream.requests).toHaveLength(0);
      expect(records.map((record) => [record.provider, record.api, record.refused])).toEqual(
        targets.map(() => ['google', null, 'unknown_route']),
      );
    });

    it('answers a missing upstream and a bad body in the Google shape', async () => {
      const notJson = await send({
        path: geminiPath('gemini-2.5-pro', 'generateContent'),
        headers: geminiHeaders(),
        body: 'contents=hello',
      });
      expect(notJson.status).toBe(400);
      expect(JSON.parse(notJson.text)).toMatchObject({
        error: { code: 400, status: 'INVALID_ARGUMENT' },
      });
      await start({ upstreams: { anthropic: { baseUrl: upstream.origin, apiKey: 'sk-ant-x' } } });
      const noUpstream = await send({
        path: geminiPath('gemini-2.5-pro', 'generateContent'),
        headers: geminiHeaders(),
        body: geminiBody(),
      });
      expect(noUpstream.status).toBe(503);
      expect(JSON.parse(noUpstream.text)).toEqual({
        error: {
          code: 503,
          message: 'AAS: no upstream is configured for google in this run',
          status: 'UNAVAILABLE',
        },
      });
      expect(upstream.requests).toHaveLength(0);
    });

    it('passes an upstream error through as it is, and never lets the key be echoed back', async () => {
      upstream.fail('status-500');
      const failed = await send({
        path: geminiPath('gemini-2.5-pro', 'generateContent'),
        headers: geminiHeaders(),
        body: geminiBody(),
      });
      expect(failed.status).toBe(500);
      expect(JSON.parse(failed.text)).toMatchObject({ error: { code: 500, status: 'INTERNAL' } });
      expect(records[0]).toMatchObject({ status: 500, refused: null, costUsd: 0 });

      upstream.fail('echo-key');
      const echoed = await send({
        path: geminiPath('gemini-2.5-pro', 'streamGenerateContent', '?alt=sse'),
        headers: geminiHeaders(),
        body: geminiBody(),
      });
      const echo = sseEvents(echoed.text).find((event) => event.event === 'echo');
      expect(echo?.data).toBe(JSON.stringify({ key: '*'.repeat(REAL_GOOGLE_KEY.length) }));
      expect(records[1]).toMatchObject({ inputTokens: 400, outputTokens: 100 });
    });
  });

  describe('upstream failures', () => {
    it('answers an unreachable upstream with a 502 that names no credentials', async () => {
      const closed = createServer();
      closed.listen(0, '127.0.0.1');
      await once(closed, 'listening');
      const port = (closed.address() as AddressInfo).port;
      await new Promise<void>((resolve) => closed.close(() => resolve()));
      await start({
        upstreams: {
          anthropic: {
            baseUrl: `http://gateway-user:basic-secret-pw@127.0.0.1:${port}/prefix`,
            apiKey: REAL_ANTHROPIC_KEY,
          },
          openai: { baseUrl: `http://127.0.0.1:${port}`, apiKey: REAL_OPENAI_KEY },
        },
      });
      const anthropic = await send({
        path: '/v1/messages',
        headers: anthropicHeaders(),
        body: messagesBody(),
      });
      expect(anthropic.status).toBe(502);
      expect(JSON.parse(anthropic.text)).toEqual({
        type: 'error',
        error: {
          type: 'api_error',
          message: 'AAS: the anthropic upstream could not be reached (ECONNREFUSED)',
        },
      });
      const openai = await send({
        path: '/v1/responses',
        headers: openaiHeaders(),
        body: responsesBody(),
      });
      expect(openai.status).toBe(502);
      expect(JSON.parse(openai.text)).toMatchObject({ error: { type: 'server_error' } });
      expect(records.map((record) => [record.status, record.refused])).toEqual([
        [502, 'upstream_error'],
        [502, 'upstream_error'],
      ]);
      expect(gateway?.spent().calls).toBe(2);
      const said = [...seen, ...logLines].join('\n');
      expect(said).not.toContain('basic-secret-pw');
      expect(logLines.some((line) => line.includes(`http://127.0.0.1:${port}`))).toBe(true);
    });

    it('gives up on a silent upstream after the timeout', async () => {
      await start({ timeoutMs: 200 });
      upstream.fail('hang');
      const answer = await send({
        path: '/v1/chat/completions',
        headers: openaiHeaders(),
        body: chatBody(),
      });
      expect(answer.status).toBe(502);
      expect(JSON.parse(answer.text)).toEqual({
        error: {
          message: 'AAS: the openai upstream did not answer within 200 ms',
          type: 'server_error',
          code: null,
          param: null,
        },
      });
      expect(records[0]).toMatchObject({ status: 502, refused: 'upstream_error' });
    });

    it('cuts the client off when the upstream breaks mid-stream, and still counts what was used', async () => {
      upstream.fail('reset-mid-stream');
      const error = await send({
        path: '/v1/messages',
        headers: anthropicHeaders(),
        body: messagesBody({ stream: true }),
      }).catch((thrown: unknown) => thrown);
      expect(error).toBeInstanceOf(Error);
      await eventually(() => records.length === 1, 'the record');
      expect(records[0]).toMatchObject({
        status: 200,
        refused: 'upstream_error',
        inputTokens: 150,
        outputTokens: 1,
      });
    });

    it('cuts the upstream call when the client hangs up', async () => {
      const release = upstream.holdStreams();
      const error = await send({
        path: '/v1/responses',
        headers: openaiHeaders(),
        body: responsesBody({ stream: true }),
        onChunk: (_chunk, request) => request.destroy(),
      }).catch((thrown: unknown) => thrown);
      expect(error).toBeInstanceOf(Error);
      await eventually(() => upstream.cutByClient === 1, 'the upstream to be cut');
      release();
      await eventually(() => records.length === 1, 'the record');
      expect(upstream.streamsFinished).toBe(0);
      // Nothing of its usage had arrived: the call was answered, but could not be counted.
      expect(records[0]).toMatchObject({
        status: 200,
        refused: null,
        stream: true,
        unmetered: true,
      });
    });

    it('never lets an upstream echo the real key back to the agent', async () => {
      upstream.fail('echo-key');
      const plain = await send({
        path: '/v1/messages',
        headers: anthropicHeaders(),
        body: messagesBody(),
      });
      expect(plain.status).toBe(200);
      expect(plain.headers['x-echo-key']).toBeUndefined();
      const echoed = (JSON.parse(plain.text) as { echo: string }).echo;
      expect(echoed).toBe(`you sent ${'*'.repeat(REAL_ANTHROPIC_KEY.length)}`);
      // The usage is still read from the (redacted) body.
      expect(records[0]).toMatchObject({ inputTokens: 150, outputTokens: 50 });

      const streamed = await send({
        path: '/v1/chat/completions',
        headers: openaiHeaders(),
        body: chatBody({ stream: true }),
      });
      const echo = sseEvents(streamed.text).find((event) => event.event === 'echo');
      expect(echo?.data).toBe(JSON.stringify({ key: '*'.repeat(REAL_OPENAI_KEY.length) }));
      expect(records[1]).toMatchObject({ inputTokens: 300, outputTokens: 60 });
    });

    it('reads a compressed answer it did not ask for before passing it on, or passes none', async () => {
      for (const [mode, index] of [
        ['echo-key-gzip', 0],
        ['echo-key-br', 1],
      ] as const) {
        upstream.fail(mode);
        const answer = await send({
          path: '/v1/messages',
          headers: anthropicHeaders(),
          body: messagesBody(),
        });
        expect(answer.status, mode).toBe(200);
        // Passed on decompressed: the echo is redacted and the usage read.
        expect(answer.headers['content-encoding'], mode).toBeUndefined();
        expect(answer.text, mode).not.toContain(REAL_ANTHROPIC_KEY);
        const echoed = (JSON.parse(answer.text) as { echo: string }).echo;
        expect(echoed, mode).toBe(`you sent ${'*'.repeat(REAL_ANTHROPIC_KEY.length)}`);
        expect(records[index], mode).toMatchObject({ inputTokens: 150, outputTokens: 50 });
      }
      upstream.fail('zstd');
      const unreadable = await send({
        path: '/v1/messages',
        headers: anthropicHeaders(),
        body: messagesBody(),
      });
      expect(unreadable.status).toBe(502);
      expect(unreadable.text).toContain('an encoding the gateway cannot read (zstd)');
      expect(records[2]).toMatchObject({ refused: 'upstream_error' });
    });
  });

  describe('listening on a Unix socket', () => {
    let dir: string;

    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'aas-gateway-'));
    });

    afterEach(() => {
      rmSync(dir, { recursive: true, force: true });
    });

    it('serves on an owner-only socket, replacing a stale one, and removes it on close', async () => {
      const socketPath = join(dir, 'gateway.sock');
      // A socket left behind by a process that died: bound, never closed.
      const stale = spawnSync(process.execPath, [
        '-e',
        `require('node:net').createServer().listen(${JSON.stringify(socketPath)}, () => process.kill(process.pid, 'SIGKILL'))`,
      ]);
      expect(stale.signal).toBe('SIGKILL');
      expect(lstatSync(socketPath).isSocket()).toBe(true);

      const onSocket = await start({ listen: { socketPath } });
      expect(onSocket.url).toBe(socketPath);
      expect(lstatSync(socketPath).mode & 0o777).toBe(0o600);
      const answer = await send({
        socketPath,
        path: '/v1/messages',
        headers: anthropicHeaders(),
        body: messagesBody({ stream: true }),
      });
      expect(answer.status).toBe(200);
      expect(sseEvents(answer.text)).toHaveLength(12);
      expect(records[0]).toMatchObject({ outputTokens: 50, refused: null });

      await onSocket.close();
      gateway = null;
      expect(existsSync(socketPath)).toBe(false);
    });

    it('refuses to replace a file that is not a socket', async () => {
      const socketPath = join(dir, 'gateway.sock');
      writeFileSync(socketPath, 'not a socket');
      const error: unknown = await start({ listen: { socketPath } }).catch(
        (thrown: unknown) => thrown,
      );
      gateway = null;
      expect(isAasError(error) && error.code).toBe('INTERNAL');
      expect(existsSync(socketPath)).toBe(true);
    });
  });

  describe('options', () => {
    it('refuses options that would weaken the gateway, without repeating secrets', async () => {
      const attempts: Partial<ModelGatewayOptions>[] = [
        { placeholderKey: 'short' },
        { placeholderKey: REAL_OPENAI_KEY },
        { listen: { host: '0.0.0.0' as '127.0.0.1', port: 0 } },
        {
          upstreams: {
            anthropic: { baseUrl: `ftp://user:${REAL_ANTHROPIC_KEY}@x`, apiKey: 'k' },
          },
        },
        { prices: { 'gpt-*-mini': { inputPerMTokUsd: 1, outputPerMTokUsd: 1 } } },
        { prices: { 'gpt-5': { inputPerMTokUsd: -1, outputPerMTokUsd: 1 } } },
        { budget: { maxCostUsd: Number.NaN } },
        { timeoutMs: 0 },
        { maxInFlightUnderBudget: 0 },
        { maxInFlightUnderBudget: 1.5 },
      ];
      for (const overrides of attempts) {
        const error: unknown = await start(overrides).catch((thrown: unknown) => thrown);
        gateway = null;
        expect(isAasError(error) && error.code, JSON.stringify(overrides.prices)).toBe(
          'INVALID_ARGUMENT',
        );
        seen.push(isAasError(error) ? error.message : String(error));
      }
    });
  });
});
