import { describe, expect, it } from 'vitest';
import { SseEventParser } from './sse-event-parser.js';
import {
  createJsonArrayUsageParser,
  createJsonUsageParser,
  createSseUsageParser,
  type UsageParser,
  usageFromBody,
  usageParserFor,
} from './usage-parsers.js';

function sse(events: readonly { event?: string; data: unknown }[]): string {
  return events
    .map(({ event, data }) => {
      const text = typeof data === 'string' ? data : JSON.stringify(data);
      return `${event === undefined ? '' : `event: ${event}\n`}data: ${text}\n\n`;
    })
    .join('');
}

/** Feeds the text in chunks of `size` bytes, splitting lines, CRLFs and UTF-8 sequences. */
function feed(parser: UsageParser, text: string, size: number) {
  const bytes = Buffer.from(text);
  for (let at = 0; at < bytes.length; at += size) parser.push(bytes.subarray(at, at + size));
  return parser.finish();
}

const ANTHROPIC_STREAM = sse([
  {
    event: 'message_start',
    data: {
      type: 'message_start',
      message: {
        id: 'msg_1',
        type: 'message',
        role: 'assistant',
        content: [],
        usage: {
          input_tokens: 12,
          cache_creation_input_tokens: 1000,
          cache_read_input_tokens: 3000,
          output_tokens: 1,
        },
      },
    },
  },
  { event: 'ping', data: { type: 'ping' } },
  {
    event: 'content_block_delta',
    data: {
      type: 'content_block_delta',
      index: 0,
      delta: { type: 'text_delta', text: 'héllo "usage" ✓' },
    },
  },
  {
    event: 'message_delta',
    data: { type: 'message_delta', delta: { stop_reason: null }, usage: { output_tokens: 40 } },
  },
  {
    event: 'message_delta',
    data: {
      type: 'message_delta',
      delta: { stop_reason: 'end_turn' },
      usage: { output_tokens: 95 },
    },
  },
  { event: 'message_stop', data: { type: 'message_stop' } },
]);

const RESPONSES_STREAM = sse([
  {
    event: 'response.created',
    data: { type: 'response.created', response: { id: 'r', status: 'in_progress', usage: null } },
  },
  {
    event: 'response.output_text.delta',
    data: { type: 'response.output_text.delta', delta: 'the word "usage" in text' },
  },
  {
    event: 'response.completed',
    data: {
      type: 'response.completed',
      response: {
        id: 'r',
        status: 'completed',
        usage: {
          input_tokens: 5000,
          input_tokens_details: { cached_tokens: 4096 },
          output_tokens: 700,
          output_tokens_details: { reasoning_tokens: 500 },
          total_tokens: 5700,
        },
      },
    },
  },
]);

const CHAT_STREAM = sse([
  {
    data: { object: 'chat.completion.chunk', choices: [{ delta: { content: 'hi' } }], usage: null },
  },
  { data: { object: 'chat.completion.chunk', choices: [{ delta: {}, finish_reason: 'stop' }] } },
  {
    data: {
      object: 'chat.completion.chunk',
      choices: [],
      usage: {
        prompt_tokens: 900,
        completion_tokens: 33,
        total_tokens: 933,
        prompt_tokens_details: { cached_tokens: 768 },
      },
    },
  },
  { data: '[DONE]' },
]);

/** Gemini stream chunks: each reports the usage so far; zero counts are left out. */
const GEMINI_CHUNKS = [
  {
    candidates: [{ content: { parts: [{ text: 'héllo "usageMetadata": {' }], role: 'model' } }],
    usageMetadata: { promptTokenCount: 5000, cachedContentTokenCount: 4096, totalTokenCount: 5000 },
  },
  {
    candidates: [{ content: { parts: [{ text: '} ✓ \\' }], role: 'model' } }],
    usageMetadata: {
      promptTokenCount: 5000,
      cachedContentTokenCount: 4096,
      candidatesTokenCount: 12,
      thoughtsTokenCount: 300,
      totalTokenCount: 5312,
    },
  },
  {
    candidates: [
      {
        content: { parts: [{ functionCall: { name: 'f', args: { usageMetadata: { x: 1 } } } }] },
        finishReason: 'STOP',
      },
    ],
    usageMetadata: {
      promptTokenCount: 5000,
      cachedContentTokenCount: 4096,
      toolUsePromptTokenCount: 200,
      candidatesTokenCount: 40,
      totalTokenCount: 5540,
    },
  },
];

/** `?alt=sse`: one chunk per event, CRLF-terminated as Google sends them. */
const GEMINI_SSE = GEMINI_CHUNKS.map((chunk) => `data: ${JSON.stringify(chunk)}\r\n\r\n`).join('');

/** Without `?alt=sse`: one JSON array, pretty-printed and written element by element. */
const GEMINI_ARRAY = `[${GEMINI_CHUNKS.map((chunk) => JSON.stringify(chunk, null, 2)).join('\n,\r\n')}\n]`;

/**
 * Input is the prompt (cached part included) plus the tool-use prompt; output is candidates plus
 * thoughts, the thoughts kept from the chunk that last reported them.
 */
const GEMINI_TOTAL = { inputTokens: 5200, cachedInputTokens: 4096, outputTokens: 340 };

describe('SSE usage parsers', () => {
  it('reads Anthropic usage: all input parts, cache reads as cached, the last output count', () => {
    for (const size of [1, 3, 7, 64, 100_000]) {
      expect(feed(createSseUsageParser('messages'), ANTHROPIC_STREAM, size), `${size}`).toEqual({
        inputTokens: 4012,
        cachedInputTokens: 3000,
        outputTokens: 95,
      });
    }
  });

  it('reads usage from the terminal Responses event', () => {
    for (const size of [1, 5, 100_000]) {
      expect(feed(createSseUsageParser('responses'), RESPONSES_STREAM, size)).toEqual({
        inputTokens: 5000,
        cachedInputTokens: 4096,
        outputTokens: 700,
      });
    }
    const incomplete = RESPONSES_STREAM.replaceAll('response.completed', 'response.incomplete');
    expect(feed(createSseUsageParser('responses'), incomplete, 9)?.outputTokens).toBe(700);
  });

  it('reads usage from the chat chunk that carries it', () => {
    for (const size of [1, 11, 100_000]) {
      expect(feed(createSseUsageParser('chat.completions'), CHAT_STREAM, size)).toEqual({
        inputTokens: 900,
        cachedInputTokens: 768,
        outputTokens: 33,
      });
    }
  });

  it('reads Gemini usage from the events that carry it, later counts overwriting earlier ones', () => {
    for (const size of [1, 7, 100_000]) {
      expect(feed(createSseUsageParser('generate_content'), GEMINI_SSE, size), `${size}`).toEqual(
        GEMINI_TOTAL,
      );
    }
    const promptOnly = `data: ${JSON.stringify(GEMINI_CHUNKS[0])}\r\n\r\n`;
    expect(feed(createSseUsageParser('generate_content'), promptOnly, 5)).toEqual({
      inputTokens: 5000,
      cachedInputTokens: 4096,
      outputTokens: 0,
    });
    expect(
      feed(createSseUsageParser('generate_content'), 'data: {"candidates":[]}\n\n', 3),
    ).toBeNull();
  });

  it('handles CRLF and CR line endings, comments and unnamed Anthropic events', () => {
    const crlf = `: keep-alive\r\n\r\n${ANTHROPIC_STREAM.replaceAll('event: message_start\n', '').replaceAll('\n', '\r\n')}`;
    expect(feed(createSseUsageParser('messages'), crlf, 2)).toEqual({
      inputTokens: 4012,
      cachedInputTokens: 3000,
      outputTokens: 95,
    });
    expect(
      feed(createSseUsageParser('chat.completions'), CHAT_STREAM.replaceAll('\n', '\r'), 4),
    ).toMatchObject({ outputTokens: 33 });
  });

  it('reports what arrived before a stream was cut, and null when nothing did', () => {
    const cut = ANTHROPIC_STREAM.slice(0, ANTHROPIC_STREAM.indexOf('event: message_delta'));
    expect(feed(createSseUsageParser('messages'), cut, 10)).toEqual({
      inputTokens: 4012,
      cachedInputTokens: 3000,
      outputTokens: 1,
    });
    // An event without its closing blank line is not dispatched.
    const unterminated = RESPONSES_STREAM.trimEnd();
    expect(feed(createSseUsageParser('responses'), unterminated, 10)).toBeNull();
    expect(feed(createSseUsageParser('chat.completions'), 'data: [DONE]\n\n', 4)).toBeNull();
    expect(feed(createSseUsageParser('messages'), 'data: {not json\n\n', 4)).toBeNull();
  });
});

describe('JSON usage', () => {
  it('reads each API body', () => {
    expect(
      usageFromBody('messages', {
        usage: { input_tokens: 10, cache_read_input_tokens: 5, output_tokens: 2 },
      }),
    ).toEqual({ inputTokens: 15, cachedInputTokens: 5, outputTokens: 2 });
    expect(
      usageFromBody('responses', {
        usage: { input_tokens: 10, input_tokens_details: { cached_tokens: 4 }, output_tokens: 3 },
      }),
    ).toEqual({ inputTokens: 10, cachedInputTokens: 4, outputTokens: 3 });
    expect(
      usageFromBody('chat.completions', { usage: { prompt_tokens: 8, completion_tokens: 1 } }),
    ).toEqual({ inputTokens: 8, cachedInputTokens: 0, outputTokens: 1 });
    expect(
      usageFromBody('generate_content', {
        usageMetadata: {
          promptTokenCount: 10,
          cachedContentTokenCount: 6,
          candidatesTokenCount: 3,
          thoughtsTokenCount: 4,
        },
      }),
    ).toEqual({ inputTokens: 10, cachedInputTokens: 6, outputTokens: 7 });
    expect(usageFromBody('generate_content', { candidates: [] })).toBeNull();
    expect(usageFromBody('messages', { error: {} })).toBeNull();
    expect(usageFromBody('chat.completions', [1, 2])).toBeNull();
    expect(
      usageFromBody('responses', { usage: { input_tokens: -3, output_tokens: 'many' } }),
    ).toEqual({ inputTokens: 0, cachedInputTokens: 0, outputTokens: 0 });
  });

  it('parses a body that arrives in pieces', () => {
    const body = JSON.stringify({ id: 'x', usage: { prompt_tokens: 7, completion_tokens: 2 } });
    expect(feed(createJsonUsageParser('chat.completions'), body, 3)).toEqual({
      inputTokens: 7,
      cachedInputTokens: 0,
      outputTokens: 2,
    });
    expect(feed(createJsonUsageParser('chat.completions'), '<html>', 3)).toBeNull();
  });
});

describe('Gemini JSON-array stream usage', () => {
  it('reads each element as it closes, whatever the chunking', () => {
    for (const size of [1, 2, 3, 13, 64, 100_000]) {
      expect(feed(createJsonArrayUsageParser(), GEMINI_ARRAY, size), `${size}`).toEqual(
        GEMINI_TOTAL,
      );
    }
  });

  it('counts the complete elements of an array cut off midway', () => {
    const cut = GEMINI_ARRAY.slice(0, GEMINI_ARRAY.lastIndexOf('toolUsePromptTokenCount'));
    expect(feed(createJsonArrayUsageParser(), cut, 9)).toEqual({
      inputTokens: 5000,
      cachedInputTokens: 4096,
      outputTokens: 312,
    });
    expect(feed(createJsonArrayUsageParser(), '[', 1)).toBeNull();
    expect(feed(createJsonArrayUsageParser(), '<html>{oops', 2)).toBeNull();
  });

  it('reads a top-level object too, and nothing from an error', () => {
    const whole = JSON.stringify(GEMINI_CHUNKS[2]);
    expect(feed(createJsonArrayUsageParser(), whole, 4)).toEqual({
      inputTokens: 5200,
      cachedInputTokens: 4096,
      outputTokens: 40,
    });
    const error = '{"error":{"code":400,"message":"bad","status":"INVALID_ARGUMENT"}}';
    expect(feed(createJsonArrayUsageParser(), error, 4)).toBeNull();
    expect(feed(createJsonArrayUsageParser(), `[${error}]`, 4)).toBeNull();
  });

  it('is chosen for a Gemini stream that is not an event stream', () => {
    const streamed = usageParserFor('generate_content', 'application/json; charset=UTF-8', true);
    expect(streamed === null ? null : feed(streamed, GEMINI_ARRAY, 50)).toEqual(GEMINI_TOTAL);
    const events = usageParserFor('generate_content', 'text/event-stream', true);
    expect(events === null ? null : feed(events, GEMINI_SSE, 50)).toEqual(GEMINI_TOTAL);
    // A whole answer is one JSON object.
    const plain = usageParserFor('generate_content', 'application/json', false);
    const body = JSON.stringify(GEMINI_CHUNKS[1]);
    expect(plain === null ? null : feed(plain, body, 50)).toEqual({
      inputTokens: 5000,
      cachedInputTokens: 4096,
      outputTokens: 312,
    });
    expect(usageParserFor('count_tokens', 'application/json', false)).toBeNull();
  });
});

describe('SseEventParser', () => {
  it('joins data lines, defaults the event name and ignores other fields', () => {
    const parser = new SseEventParser();
    const events = [
      ...parser.push('id: 1\nretry: 10\ndata: a\ndata:b\n\nevent: x\ndata\n\n:c\n\n'),
      ...parser.end(),
    ];
    expect(events).toEqual([
      { event: 'message', data: 'a\nb' },
      { event: 'x', data: '' },
    ]);
  });

  it('drops an event larger than its limit and carries on after it', () => {
    const parser = new SseEventParser(10);
    const events = parser.push(`data: ${'x'.repeat(50)}\n\ndata: ok\n\n`);
    expect(events).toEqual([{ event: 'message', data: 'ok' }]);
  });
});
