import { once } from 'node:events';
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { brotliCompressSync, gzipSync } from 'node:zlib';

/**
 * A stand-in for the Anthropic, OpenAI and Gemini APIs: the routes the gateway forwards, JSON,
 * event-stream and (for Gemini without `?alt=sse`) streamed JSON-array answers in the
 * providers' formats, every request recorded as received, and failures on demand.
 */

export interface RecordedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly json: Record<string, unknown> | null;
}

/**
 * - `status-500`: a provider-shaped 500.
 * - `reset`: the connection is cut before any answer.
 * - `hang`: no answer at all.
 * - `reset-mid-stream`: a stream is cut after its first event.
 * - `echo-key`: the answer (a header, the body, a stream split across writes) repeats the key
 *   the upstream was sent, as a careless proxy or debugging endpoint might.
 * - `echo-key-gzip`, `echo-key-br`: `echo-key` for a whole answer, compressed although the
 *   gateway asked for `identity`.
 * - `zstd`: a whole answer that says it is in an encoding zlib cannot read.
 * - `no-usage`: a whole (non-streamed) answer that says nothing about its usage.
 */
export type FailMode =
  | 'status-500'
  | 'reset'
  | 'hang'
  | 'reset-mid-stream'
  | 'echo-key'
  | 'echo-key-gzip'
  | 'echo-key-br'
  | 'zstd'
  | 'no-usage';

/** What the upstream reports for each API; the tests compute the expected costs from these. */
export const UPSTREAM_USAGE = {
  messages: {
    input_tokens: 100,
    cache_creation_input_tokens: 20,
    cache_read_input_tokens: 30,
    output_tokens: 50,
  },
  countTokens: { input_tokens: 42 },
  responses: {
    input_tokens: 200,
    input_tokens_details: { cached_tokens: 50 },
    output_tokens: 80,
    output_tokens_details: { reasoning_tokens: 10 },
    total_tokens: 280,
  },
  chat: {
    prompt_tokens: 300,
    completion_tokens: 60,
    total_tokens: 360,
    prompt_tokens_details: { cached_tokens: 100 },
  },
  gemini: {
    promptTokenCount: 400,
    candidatesTokenCount: 70,
    cachedContentTokenCount: 100,
    thoughtsTokenCount: 30,
    totalTokenCount: 500,
  },
  geminiCountTokens: { totalTokens: 42 },
} as const;

export interface ScriptedUpstream {
  /** `http://127.0.0.1:PORT`. */
  readonly origin: string;
  readonly requests: RecordedRequest[];
  /** Every later request fails this way; null restores normal answers. */
  fail(mode: FailMode | null): void;
  /** Streams stop after their first event until the returned function is called. */
  holdStreams(): () => void;
  /** Streams written to their end. */
  readonly streamsFinished: number;
  /** Answers whose client (the gateway) hung up before they were complete. */
  readonly cutByClient: number;
  /** The most requests that were being answered at the same time. */
  readonly maxConcurrent: number;
  close(): Promise<void>;
}

type Event = { readonly event?: string; readonly data: string };

function sse(event: Event): string {
  return `${event.event === undefined ? '' : `event: ${event.event}\n`}data: ${event.data}\n\n`;
}

const WORDS = ['Hel', 'lo', ', ', 'wor', 'ld'];

function anthropicStream(model: string): Event[] {
  const { output_tokens, ...input } = UPSTREAM_USAGE.messages;
  const events: Event[] = [
    {
      event: 'message_start',
      data: JSON.stringify({
        type: 'message_start',
        message: {
          id: 'msg_01',
          type: 'message',
          role: 'assistant',
          model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: { ...input, output_tokens: 1 },
        },
      }),
    },
    {
      event: 'content_block_start',
      data: JSON.stringify({
        type: 'content_block_start',
        index: 0,
        content_block: { type: 'text', text: '' },
      }),
    },
    { event: 'ping', data: JSON.stringify({ type: 'ping' }) },
    ...WORDS.map((text) => ({
      event: 'content_block_delta',
      data: JSON.stringify({
        type: 'content_block_delta',
        index: 0,
        delta: { type: 'text_delta', text },
      }),
    })),
    { event: 'content_block_stop', data: JSON.stringify({ type: 'content_block_stop', index: 0 }) },
    {
      event: 'message_delta',
      data: JSON.stringify({
        type: 'message_delta',
        delta: { stop_reason: 'end_turn', stop_sequence: null },
        usage: { output_tokens: Math.floor(output_tokens / 2) },
      }),
    },
    {
      event: 'message_delta',
      data: JSON.stringify({
        type: 'message_delta',
        delta: { stop_reason: 'end_turn', stop_sequence: null },
        usage: { output_tokens },
      }),
    },
    { event: 'message_stop', data: JSON.stringify({ type: 'message_stop' }) },
  ];
  return events;
}

function responsesObject(model: string, status: string, usage: unknown): Record<string, unknown> {
  return {
    id: 'resp_01',
    object: 'response',
    created_at: 1_767_225_600,
    status,
    model,
    output:
      status === 'completed'
        ? [
            {
              type: 'message',
              id: 'msg_01',
              status: 'completed',
              role: 'assistant',
              content: [{ type: 'output_text', text: WORDS.join(''), annotations: [] }],
            },
          ]
        : [],
    usage,
  };
}

function responsesStream(model: string): Event[] {
  let sequence = 0;
  const event = (type: string, fields: Record<string, unknown>): Event => ({
    event: type,
    data: JSON.stringify({ type, sequence_number: sequence++, ...fields }),
  });
  return [
    event('response.created', { response: responsesObject(model, 'in_progress', null) }),
    event('response.in_progress', { response: responsesObject(model, 'in_progress', null) }),
    ...WORDS.map((delta) =>
      event('response.output_text.delta', {
        item_id: 'msg_01',
        output_index: 0,
        content_index: 0,
        delta,
      }),
    ),
    event('response.output_text.done', {
      item_id: 'msg_01',
      output_index: 0,
      content_index: 0,
      text: WORDS.join(''),
    }),
    event('response.completed', {
      response: responsesObject(model, 'completed', UPSTREAM_USAGE.responses),
    }),
  ];
}

function chatStream(model: string, includeUsage: boolean): Event[] {
  const chunk = (choices: unknown[], usage: unknown): Event => ({
    data: JSON.stringify({
      id: 'chatcmpl-01',
      object: 'chat.completion.chunk',
      created: 1_767_225_600,
      model,
      choices,
      ...(includeUsage ? { usage } : {}),
    }),
  });
  return [
    chunk([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }], null),
    ...WORDS.map((content) => chunk([{ index: 0, delta: { content }, finish_reason: null }], null)),
    chunk([{ index: 0, delta: {}, finish_reason: 'stop' }], null),
    ...(includeUsage ? [chunk([], UPSTREAM_USAGE.chat)] : []),
    { data: '[DONE]' },
  ];
}

function geminiResponse(model: string, text: string, usage: unknown): Record<string, unknown> {
  return {
    candidates: [{ content: { parts: [{ text }], role: 'model' }, index: 0 }],
    usageMetadata: usage,
    modelVersion: model,
    responseId: 'resp-gemini-01',
  };
}

/**
 * A Gemini stream's chunks: every chunk reports the usage so far (the prompt, and the candidates
 * counted up to then); the last one carries the totals and the finish reason.
 */
function geminiChunks(model: string): Record<string, unknown>[] {
  const { promptTokenCount, cachedContentTokenCount } = UPSTREAM_USAGE.gemini;
  return WORDS.map((text, index) =>
    index === WORDS.length - 1
      ? {
          ...geminiResponse(model, text, UPSTREAM_USAGE.gemini),
          candidates: [
            { content: { parts: [{ text }], role: 'model' }, index: 0, finishReason: 'STOP' },
          ],
        }
      : geminiResponse(model, text, {
          promptTokenCount,
          cachedContentTokenCount,
          candidatesTokenCount: index + 1,
          totalTokenCount: promptTokenCount + index + 1,
        }),
  );
}

/**
 * Google's field mask (`?fields=`, `?$fields=` or `X-Goog-FieldMask`), as Google applies it to
 * an answer: only the top-level fields it names are kept. Null when the request sets none.
 */
function geminiFieldMask(query: URLSearchParams, headers: IncomingHttpHeaders): Set<string> | null {
  const masks = [
    ...query.getAll('fields'),
    ...query.getAll('$fields'),
    ...[headers['x-goog-fieldmask'] ?? []].flat(),
  ];
  if (masks.length === 0) return null;
  return new Set(
    masks.flatMap((mask) => mask.split(',').map((path) => path.trim().split('.')[0] ?? '')),
  );
}

function masked(
  answer: Record<string, unknown>,
  mask: Set<string> | null,
): Record<string, unknown> {
  if (mask === null) return answer;
  return Object.fromEntries(Object.entries(answer).filter(([key]) => mask.has(key)));
}

/** `/v1beta/models/{model}:{method}`, after any base-URL prefix. */
const GEMINI_ROUTE = /\/models\/([^/:]+):(generateContent|streamGenerateContent|countTokens)$/;

function jsonAnswer(path: string, model: string): unknown {
  const gemini = GEMINI_ROUTE.exec(path);
  if (gemini?.[2] === 'countTokens') return UPSTREAM_USAGE.geminiCountTokens;
  if (gemini !== null) return geminiResponse(model, WORDS.join(''), UPSTREAM_USAGE.gemini);
  if (path.endsWith('/v1/messages/count_tokens')) return UPSTREAM_USAGE.countTokens;
  if (path.endsWith('/v1/messages')) {
    return {
      id: 'msg_01',
      type: 'message',
      role: 'assistant',
      model,
      content: [{ type: 'text', text: WORDS.join('') }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: UPSTREAM_USAGE.messages,
    };
  }
  if (path.endsWith('/v1/responses')) {
    return responsesObject(model, 'completed', UPSTREAM_USAGE.responses);
  }
  return {
    id: 'chatcmpl-01',
    object: 'chat.completion',
    created: 1_767_225_600,
    model,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: WORDS.join('') },
        finish_reason: 'stop',
      },
    ],
    usage: UPSTREAM_USAGE.chat,
  };
}

const ROUTES = [
  '/v1/messages/count_tokens',
  '/v1/messages',
  '/v1/responses',
  '/v1/chat/completions',
];

export async function startScriptedUpstream(
  options: {
    readonly eventDelayMs?: number;
    /** How long every answer waits before it starts, once the request has been read. */
    readonly answerDelayMs?: number;
  } = {},
): Promise<ScriptedUpstream> {
  const eventDelayMs = options.eventDelayMs ?? 3;
  const answerDelayMs = options.answerDelayMs ?? 0;
  let concurrent = 0;
  let maxConcurrent = 0;
  const requests: RecordedRequest[] = [];
  let failMode: FailMode | null = null;
  let gate: Promise<void> | null = null;
  let streamsFinished = 0;
  let cutByClient = 0;

  /**
   * Gemini's stream without `?alt=sse`: one JSON array written element by element, as Google
   * writes it (`[{…}\n,\r\n{…}\n]`).
   */
  const writeJsonArray = async (
    response: ServerResponse,
    request: IncomingMessage,
    chunks: readonly Record<string, unknown>[],
    mode: FailMode | null,
    delayMs: number,
  ): Promise<boolean> => {
    response.writeHead(200, {
      'content-type': 'application/json; charset=UTF-8',
      'request-id': 'req_01',
    });
    response.flushHeaders();
    for (const [index, chunk] of chunks.entries()) {
      if (response.destroyed) return false;
      response.write(`${index === 0 ? '[' : ',\r\n'}${JSON.stringify(chunk, null, 2)}\n`);
      if (index === 0) {
        if (mode === 'reset-mid-stream') {
          await sleep(delayMs);
          request.socket.destroy();
          return false;
        }
        if (gate !== null) await gate;
      }
      if (delayMs > 0) await sleep(delayMs);
    }
    if (response.destroyed) return false;
    response.end(']');
    return true;
  };

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    concurrent += 1;
    maxConcurrent = Math.max(maxConcurrent, concurrent);
    response.once('close', () => {
      concurrent -= 1;
    });
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    let json: Record<string, unknown> | null = null;
    try {
      json = JSON.parse(body) as Record<string, unknown>;
    } catch {
      json = null;
    }
    const url = request.url ?? '';
    requests.push({ method: request.method ?? '', url, headers: request.headers, body, json });
    response.once('close', () => {
      if (!response.writableFinished) cutByClient += 1;
    });

    const path = url.split('?')[0] ?? '';
    const query = new URLSearchParams(url.split('?')[1] ?? '');
    const anthropic = path.includes('/v1/messages');
    const gemini = GEMINI_ROUTE.exec(path);
    if (
      request.method !== 'POST' ||
      (gemini === null && !ROUTES.some((route) => path.endsWith(route)))
    ) {
      response.writeHead(404, { 'content-type': 'application/json' });
      response.end('{"error":"not found"}');
      return;
    }
    const mode = failMode;
    if (answerDelayMs > 0) await sleep(answerDelayMs);
    if (mode === 'hang') return;
    if (mode === 'reset') {
      request.socket.destroy();
      return;
    }
    if (mode === 'status-500') {
      response.writeHead(500, { 'content-type': 'application/json', 'request-id': 'req_500' });
      response.end(
        anthropic
          ? '{"type":"error","error":{"type":"api_error","message":"Internal server error"}}'
          : gemini !== null
            ? '{"error":{"code":500,"message":"An internal error has occurred.","status":"INTERNAL"}}'
            : '{"error":{"message":"The server had an error","type":"server_error","param":null,"code":null}}',
      );
      return;
    }
    const presented = String(
      request.headers['x-api-key'] ??
        request.headers['x-goog-api-key'] ??
        request.headers.authorization?.replace(/^Bearer /, '') ??
        '',
    );
    // Gemini names the model and the stream in the path.
    const model = gemini?.[1] ?? (typeof json?.model === 'string' ? json.model : 'unknown');
    const stream =
      gemini !== null
        ? gemini[2] === 'streamGenerateContent'
        : json?.stream === true && !path.endsWith('/count_tokens');

    const mask = gemini === null ? null : geminiFieldMask(query, request.headers);
    if (!stream) {
      let answer = masked(jsonAnswer(path, model) as Record<string, unknown>, mask);
      if (mode === 'no-usage') {
        const { usage: _usage, usageMetadata: _usageMetadata, ...rest } = answer;
        answer = rest;
      }
      const echoes = mode === 'echo-key' || mode === 'echo-key-gzip' || mode === 'echo-key-br';
      const text = JSON.stringify(echoes ? { ...answer, echo: `you sent ${presented}` } : answer);
      const encoding =
        mode === 'echo-key-gzip'
          ? 'gzip'
          : mode === 'echo-key-br'
            ? 'br'
            : mode === 'zstd'
              ? 'zstd'
              : null;
      const body =
        encoding === 'gzip'
          ? gzipSync(text)
          : encoding === 'br'
            ? brotliCompressSync(text)
            : Buffer.from(text);
      response.writeHead(200, {
        'content-type': 'application/json',
        'request-id': 'req_01',
        ...(mode === 'echo-key' ? { 'x-echo-key': presented } : {}),
        ...(encoding === null ? {} : { 'content-encoding': encoding }),
        'content-length': body.length,
      });
      response.end(body);
      return;
    }

    const chunksOf = (name: string) => geminiChunks(name).map((chunk) => masked(chunk, mask));
    if (gemini !== null && query.get('alt') !== 'sse') {
      if (await writeJsonArray(response, request, chunksOf(model), mode, eventDelayMs)) {
        streamsFinished += 1;
      }
      return;
    }

    const streamOptions = json?.stream_options as { include_usage?: unknown } | undefined;
    const events =
      gemini !== null
        ? chunksOf(model).map((chunk) => ({ data: JSON.stringify(chunk) }))
        : path.endsWith('/v1/messages')
          ? anthropicStream(model)
          : path.endsWith('/v1/responses')
            ? responsesStream(model)
            : chatStream(model, streamOptions?.include_usage === true);
    response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'request-id': 'req_01',
    });
    response.flushHeaders();
    for (const [index, event] of events.entries()) {
      if (response.destroyed) return;
      // Google ends its events with CRLF pairs.
      response.write(gemini !== null ? `data: ${event.data}\r\n\r\n` : sse(event));
      if (index === 0) {
        if (mode === 'reset-mid-stream') {
          await sleep(eventDelayMs);
          request.socket.destroy();
          return;
        }
        if (mode === 'echo-key') {
          // The key split across two writes, to make the gateway see it in two chunks.
          const half = Math.floor(presented.length / 2);
          response.write(`event: echo\ndata: {"key":"${presented.slice(0, half)}`);
          await sleep(eventDelayMs);
          response.write(`${presented.slice(half)}"}\n\n`);
        }
        if (gate !== null) await gate;
      }
      if (eventDelayMs > 0) await sleep(eventDelayMs);
    }
    if (response.destroyed) return;
    response.end();
    streamsFinished += 1;
  };

  const server = createServer((request, response) => {
    handle(request, response).catch(() => response.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;

  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    fail(mode) {
      failMode = mode;
    },
    holdStreams() {
      let release: () => void = () => {};
      gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      return () => {
        gate = null;
        release();
      };
    },
    get streamsFinished() {
      return streamsFinished;
    },
    get cutByClient() {
      return cutByClient;
    },
    get maxConcurrent() {
      return maxConcurrent;
    },
    close() {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
