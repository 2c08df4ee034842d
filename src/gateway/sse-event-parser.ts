import { StringDecoder } from 'node:string_decoder';

/** One dispatched server-sent event. `event` is `message` when the stream named none. */
export interface SseEvent {
  readonly event: string;
  readonly data: string;
}

/** Bigger events are dropped rather than buffered: usage never needs one that large. */
const DEFAULT_MAX_EVENT_CHARS = 32 * 1024 * 1024;

/**
 * Incremental parser for `text/event-stream` (the WHATWG event-stream format: lines end in CRLF,
 * LF or CR, a blank line dispatches, `:` starts a comment). Chunks may split anywhere, even
 * inside a UTF-8 sequence or between CR and LF.
 */
export class SseEventParser {
  private readonly decoder = new StringDecoder('utf8');
  private line = '';
  /** Characters seen on the current line, kept even when an oversized line is not. */
  private lineChars = 0;
  private event = '';
  private data: string[] = [];
  private size = 0;
  private oversized = false;
  /** The last chunk ended in CR: a LF opening the next one belongs to the same line break. */
  private pendingLf = false;

  constructor(private readonly maxEventChars = DEFAULT_MAX_EVENT_CHARS) {}

  push(chunk: Buffer | string): SseEvent[] {
    const text = typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    const events: SseEvent[] = [];
    let start = 0;
    if (this.pendingLf && text.charCodeAt(0) === 10) start = 1;
    this.pendingLf = false;
    for (let i = start; i < text.length; i += 1) {
      const code = text.charCodeAt(i);
      if (code !== 10 && code !== 13) continue;
      this.appendToLine(text.slice(start, i));
      this.takeLine(events);
      if (code === 13) {
        if (i + 1 === text.length) this.pendingLf = true;
        else if (text.charCodeAt(i + 1) === 10) i += 1;
      }
      start = i + 1;
    }
    this.appendToLine(text.slice(start));
    return events;
  }

  /** The stream ended. An event without its closing blank line is discarded, as browsers do. */
  end(): SseEvent[] {
    const rest = this.decoder.end();
    const events = rest === '' ? [] : this.push(rest);
    this.line = '';
    this.lineChars = 0;
    this.resetEvent();
    return events;
  }

  private appendToLine(text: string): void {
    if (text === '') return;
    this.lineChars += text.length;
    if (this.oversized) return;
    this.size += text.length;
    if (this.size > this.maxEventChars) {
      this.oversized = true;
      this.line = '';
      this.data = [];
      return;
    }
    this.line += text;
  }

  private takeLine(events: SseEvent[]): void {
    const line = this.line;
    const blank = this.lineChars === 0;
    this.line = '';
    this.lineChars = 0;
    if (blank) {
      // A blank line: the event, if any, is complete.
      if (!this.oversized && this.data.length > 0) {
        events.push({
          event: this.event === '' ? 'message' : this.event,
          data: this.data.join('\n'),
        });
      }
      this.resetEvent();
      return;
    }
    if (this.oversized || line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.event = value;
    else if (field === 'data') this.data.push(value);
    // `id` and `retry` mean nothing here; unknown fields are ignored by the format's rules.
  }

  private resetEvent(): void {
    this.event = '';
    this.data = [];
    this.size = 0;
    this.oversized = false;
  }
}
