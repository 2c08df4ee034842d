/**
 * An incremental parser for `text/event-stream` (the WHATWG server-sent events format): lines
 * end in LF, CRLF or CR (also split across chunks), `:` starts a comment, `data:` lines of one
 * event are joined with LF, a blank line dispatches, and an event without data is dropped.
 */

export interface SseMessage {
  /** The last `id:` seen on this stream so far (the spec's "last event ID"), or null. */
  readonly id: string | null;
  /** `event:` of this message; `message` when absent. */
  readonly event: string;
  readonly data: string;
}

export class SseParser {
  #buffer = '';
  /** The previous chunk ended in CR: a LF opening the next one belongs to that line break. */
  #pendingCr = false;
  #data: string[] = [];
  #event = '';
  #lastId: string | null = null;
  #retryMs: number | null = null;

  /** The last event id seen, dispatched or not: what a reconnect sends as `Last-Event-ID`. */
  get lastEventId(): string | null {
    return this.#lastId;
  }

  /** The reconnection delay the server asked for with `retry:`, if any. */
  get retryMs(): number | null {
    return this.#retryMs;
  }

  /** Feeds decoded text; returns the messages it completed, in order. */
  push(text: string): SseMessage[] {
    let chunk = text;
    if (this.#pendingCr && chunk.startsWith('\n')) chunk = chunk.slice(1);
    this.#pendingCr = false;
    this.#buffer += chunk;
    const messages: SseMessage[] = [];
    let start = 0;
    for (let i = 0; i < this.#buffer.length; i += 1) {
      const char = this.#buffer[i];
      if (char !== '\n' && char !== '\r') continue;
      const line = this.#buffer.slice(start, i);
      if (char === '\r') {
        if (i + 1 < this.#buffer.length) {
          if (this.#buffer[i + 1] === '\n') i += 1;
        } else {
          this.#pendingCr = true;
        }
      }
      start = i + 1;
      const message = this.#line(line);
      if (message) messages.push(message);
    }
    this.#buffer = this.#buffer.slice(start);
    return messages;
  }

  #line(line: string): SseMessage | null {
    if (line === '') return this.#dispatch();
    if (line.startsWith(':')) return null;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'data':
        this.#data.push(value);
        break;
      case 'event':
        this.#event = value;
        break;
      case 'id':
        if (!value.includes('\u0000')) this.#lastId = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.#retryMs = Number(value);
        break;
      default:
        break;
    }
    return null;
  }

  #dispatch(): SseMessage | null {
    const event = this.#event || 'message';
    const data = this.#data;
    this.#data = [];
    this.#event = '';
    if (data.length === 0) return null;
    return { id: this.#lastId, event, data: data.join('\n') };
  }
}
