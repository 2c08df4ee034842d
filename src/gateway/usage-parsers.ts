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

/**
 * Gemini's `usageMetadata`. `promptTokenCount` already includes `cachedContentTokenCount`;
 * `toolUsePromptTokenCount` (the prompts of Google's own tools, such as search grounding) is
 * input counted apart from it. Thinking is billed as output, so `thoughtsTokenCount` is output.
 */
class GeminiUsage {
  private prompt: number | undefined;
  private cached: number | undefined;
  private toolUse: number | undefined;
  private candidates: number | undefined;
  private thoughts: number | undefined;

  /**
   * Later reports overwrite earlier ones field by field: each chunk of a stream reports the
   * counts so far, and a count of 0 is left out of the JSON rather than sent.
   */
  take(usage: Json | null): void {
    if (usage === null) return;
    this.prompt = count(usage, 'promptTokenCount') ?? this.prompt;
    this.cached = count(usage, 'cachedContentTokenCount') ?? this.cached;
    this.toolUse = count(usage, 'toolUsePromptTokenCount') ?? this.toolUse;
    this.candidates = count(usage, 'candidatesTokenCount') ?? this.candidates;
    this.thoughts = count(usage, 'thoughtsTokenCount') ?? this.thoughts;
  }

  /** Reads the usage of one `GenerateContentResponse` (a whole answer, or one stream chunk). */
  takeResponse(response: unknown): void {
    this.take(objectAt(response, 'usageMetadata'));
  }

  result(): TokenUsage | null {
    const fields = [this.prompt, this.cached, this.toolUse, this.candidates, this.thoughts];
    if (fields.every((v) => v === undefined)) return null;
    return {
      inputTokens: (this.prompt ?? 0) + (this.toolUse ?? 0),
      outputTokens: (this.candidates ?? 0) + (this.thoughts ?? 0),
      cachedInputTokens: this.cached ?? 0,
    };
  }
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
    case 'generate_content': {
      const total = new GeminiUsage();
      total.takeResponse(body);
      return total.result();
    }
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
    case 'generate_content': {
      // `?alt=sse`: each event's data is one GenerateContentResponse, most without usage.
      const total = new GeminiUsage();
      return {
        read(event) {
          if (!event.data.includes('"usageMetadata"')) return;
          total.takeResponse(parseJson(event.data));
        },
        result: () => total.result(),
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

const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Google's stream without `?alt=sse`: one JSON array, `[{…}\n,\r\n{…}\n]`, written element by
 * element as the answer is generated. Each element is cut out as soon as it closes and only the
 * ones that mention `usageMetadata` are parsed, so an answer cut off midway still reports what
 * its complete elements said. A top-level object (an error, or a whole answer) is read the same
 * way. Structural characters are ASCII and never part of a UTF-8 sequence, so the bytes are
 * scanned as they come.
 */
export function createJsonArrayUsageParser(): UsageParser {
  const total = new GeminiUsage();
  /** 0 before the first value; then the nesting depth, counting the outer array. */
  let depth = 0;
  /** The depth an element object opens at: 1 inside the outer array, 0 at the top level. */
  let elementDepth = -1;
  let inString = false;
  let escaped = false;
  let parts: Buffer[] = [];
  let size = 0;
  let collecting = false;
  let oversized = false;

  const closeElement = (): void => {
    const text = Buffer.concat(parts).toString('utf8');
    if (!oversized && text.includes('"usageMetadata"')) total.takeResponse(parseJson(text));
    parts = [];
    size = 0;
    collecting = false;
    oversized = false;
  };

  const keep = (part: Buffer): void => {
    size += part.length;
    if (size > MAX_JSON_BODY_BYTES) {
      oversized = true;
      parts = [];
    }
    if (!oversized) parts.push(part);
  };

  return {
    push(chunk) {
      let start = collecting ? 0 : -1;
      for (let i = 0; i < chunk.length; i += 1) {
        const byte = chunk[i];
        if (inString) {
          if (escaped) escaped = false;
          else if (byte === BACKSLASH) escaped = true;
          else if (byte === QUOTE) inString = false;
          continue;
        }
        if (byte === QUOTE) {
          inString = true;
        } else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) {
          if (elementDepth === -1) elementDepth = byte === OPEN_BRACKET ? 1 : 0;
          if (byte === OPEN_BRACE && depth === elementDepth && !collecting) {
            collecting = true;
            start = i;
          }
          depth += 1;
        } else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
          depth = Math.max(0, depth - 1);
          if (byte === CLOSE_BRACE && collecting && depth === elementDepth) {
            keep(chunk.subarray(start, i + 1));
            closeElement();
            start = -1;
          }
        }
      }
      if (collecting && start !== -1) keep(chunk.subarray(start));
    },
    finish() {
      // An element still open was cut off: its usage, if any, is not trusted half-read.
      return total.result();
    },
  };
}

/**
 * The parser for an answer, chosen by its content type (and, for Google's stream, which may
 * come as a JSON array instead of events); null for APIs that are not costed.
 */
export function usageParserFor(
  api: ModelApi,
  contentType: string,
  stream: boolean,
): UsageParser | null {
  if (api === 'count_tokens') return null;
  if (isEventStream(contentType)) return createSseUsageParser(api);
  return api === 'generate_content' && stream
    ? createJsonArrayUsageParser()
    : createJsonUsageParser(api);
}

export function isEventStream(contentType: string): boolean {
  return contentType.trim().toLowerCase().startsWith('text/event-stream');
}
