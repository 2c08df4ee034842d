import type { ModelApi, TokenUsage } from './model-call-record.js';
import { type SseEvent, SseEventParser } from './sse-event-parser.js';

/** The APIs whose answers carry usage; count_tokens only estimates and is never costed. */
export type CostedApi = Exclude<ModelApi, 'count_tokens'>;

/**
 * Reads a response's usage on the side while its bytes pass through to the client untouched.
 * `finish` returns what the answer reported, or null when it reported nothing.
 */
export interface UsageParser {
  push(chunk: Buffer): void;
  finish(): TokenUsage | null;
}

/** A JSON answer larger than this is passed through but not parsed for usage. */
const MAX_JSON_BODY_BYTES = 32 * 1024 * 1024;

type Json = Readonly<Record<string, unknown>>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function objectAt(value: unknown, key: string): Json | null {
  if (!isObject(value)) return null;
  const inner = value[key];
  return isObject(inner) ? inner : null;
}

/** A token count, or undefined when the field is absent or not a count. */
function count(value: Json | null, key: string): number | undefined {
  const raw = value?.[key];
  return typeof raw === 'number' && Number.isFinite(raw) && raw >= 0 ? Math.floor(raw) : undefined;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * Anthropic reports input in three parts (uncached, written to the cache, read from the cache);
 * all three are input, and the part read from the cache is what is cheaper.
 */
class AnthropicUsage {
  private input: number | undefined;
  private cacheCreation: number | undefined;
  private cacheRead: number | undefined;
  private output: number | undefined;

  /** Later reports overwrite earlier ones field by field: `message_delta` counts are cumulative. */
  take(usage: Json | null): void {
    if (usage === null) return;
    this.input = count(usage, 'input_tokens') ?? this.input;
    this.cacheCreation = count(usage, 'cache_creation_input_tokens') ?? this.cacheCreation;
    this.cacheRead = count(usage, 'cache_read_input_tokens') ?? this.cacheRead;
    this.output = count(usage, 'output_tokens') ?? this.output;
  }

  result(): TokenUsage | null {
    if ([this.input, this.cacheCreation, this.cacheRead, this.output].every((v) => v === undefined))
      return null;
    const cached = this.cacheRead ?? 0;
    return {
      inputTokens: (this.input ?? 0) + (this.cacheCreation ?? 0) + cached,
      outputTokens: this.output ?? 0,
      cachedInputTokens: cached,
    };
  }
}

/** Responses API: `input_tokens` already includes the cached ones. */
function responsesUsage(usage: Json | null): TokenUsage | null {
  if (usage === null) return null;
  return {
    inputTokens: count(usage, 'input_tokens') ?? 0,
    outputTokens: count(usage, 'output_tokens') ?? 0,
    cachedInputTokens: count(objectAt(usage, 'input_tokens_details'), 'cached_tokens') ?? 0,
  };
}

/** Chat Completions: `prompt_tokens` already includes the cached ones. */
function chatUsage(usage: Json | null): TokenUsage | null {
  if (usage === null) return null;
  return {
    inputTokens: count(usage, 'prompt_tokens') ?? 0,
    outputTokens: count(usage, 'completion_tokens') ?? 0,
    cachedInputTokens: count(objectAt(usage, 'prompt_tokens_details'), 'cached_tokens') ?? 0,
  };
}

/** Usage from a complete (non-streamed) JSON answer. */
export function usageFromBody(api: CostedApi, body: unknown): TokenUsage | null {
  const usage = objectAt(body, 'usage');
  switch (api) {
    case 'messages': {
      const total = new AnthropicUsage();
      total.take(usage);
      return total.result();
    }
    case 'responses':
      return responsesUsage(usage);
    case 'chat.completions':
      return chatUsage(usage);
  }
}

/** The Responses API events that end a response; each carries the response with its usage. */
const RESPONSE_TERMINAL_EVENTS = new Set([
  'response.completed',
  'response.incomplete',
  'response.failed',
]);

/**
 * Usage from a stream's events, one at a time. Only the few events that can carry usage are
 * JSON-parsed; text deltas are skipped on their event name or a substring test.
 */
export function createSseEventUsageReader(api: CostedApi): {
  read(event: SseEvent): void;
  result(): TokenUsage | null;
} {
  switch (api) {
    case 'messages': {
      const total = new AnthropicUsage();
      return {
        read(event) {
          const named = event.event === 'message_start' || event.event === 'message_delta';
          if (!named && !(event.event === 'message' && event.data.includes('"message_'))) return;
          const data = parseJson(event.data);
          if (!isObject(data)) return;
          if (data.type === 'message_start') total.take(objectAt(data.message, 'usage'));
          else if (data.type === 'message_delta') total.take(objectAt(data, 'usage'));
        },
        result: () => total.result(),
      };
    }
    case 'responses': {
      let last: TokenUsage | null = null;
      return {
        read(event) {
          const named = RESPONSE_TERMINAL_EVENTS.has(event.event);
          if (!named && !(event.event === 'message' && event.data.includes('"usage"'))) return;
          const data = parseJson(event.data);
          if (!isObject(data) || typeof data.type !== 'string') return;
          if (!RESPONSE_TERMINAL_EVENTS.has(data.type)) return;
          last = responsesUsage(objectAt(data.response, 'usage')) ?? last;
        },
        result: () => last,
      };
    }
    case 'chat.completions': {
      let last: TokenUsage | null = null;
      return {
        read(event) {
          // With include_usage every chunk says `"usage":null`; only one carries an object.
          if (!event.data.includes('"usage"')) return;
          last = chatUsage(objectAt(parseJson(event.data), 'usage')) ?? last;
        },
        result: () => last,
      };
    }
  }
}

export function createSseUsageParser(api: CostedApi): UsageParser {
  const parser = new SseEventParser();
  const reader = createSseEventUsageReader(api);
  return {
    push(chunk) {
      for (const event of parser.push(chunk)) reader.read(event);
    },
    finish() {
      for (const event of parser.end()) reader.read(event);
      return reader.result();
    },
  };
}

export function createJsonUsageParser(api: CostedApi): UsageParser {
  const chunks: Buffer[] = [];
  let size = 0;
  return {
    push(chunk) {
      size += chunk.length;
      if (size <= MAX_JSON_BODY_BYTES) chunks.push(chunk);
    },
    finish() {
      if (size > MAX_JSON_BODY_BYTES) return null;
      return usageFromBody(api, parseJson(Buffer.concat(chunks).toString('utf8')));
    },
  };
}

/** The parser for an answer, chosen by its content type; null for APIs that are not costed. */
export function usageParserFor(api: ModelApi, contentType: string): UsageParser | null {
  if (api === 'count_tokens') return null;
  return isEventStream(contentType) ? createSseUsageParser(api) : createJsonUsageParser(api);
}

export function isEventStream(contentType: string): boolean {
  return contentType.trim().toLowerCase().startsWith('text/event-stream');
}
