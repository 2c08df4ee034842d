import { AasError, isCode, normaliseError } from '../../kernel/index.js';
import type { StoredEvent } from '../../sessions/index.js';
import { isTransient, type ServerClient } from './server-client.js';
import { SseParser } from './sse-parser.js';
import { asEvent, ErrorBodyWire, StoredEventWire } from './wire.js';

export interface ReconnectSettings {
  /** First wait after a dropped connection; doubles per consecutive failure. */
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  /** Consecutive connections that fail (or end) without delivering an event before giving up. */
  readonly maxFailures: number;
  /**
   * A connection that delivers nothing, not even the server's keep-alive comments, for this
   * long is taken as dead (a half-open TCP connection never errors by itself).
   */
  readonly idleTimeoutMs: number;
}

/** Consecutive TOO_MANY_STREAMS answers tried again before the refusal is reported. */
const MAX_REFUSALS_IN_ROW = 3;

export const DEFAULT_RECONNECT: ReconnectSettings = {
  initialDelayMs: 250,
  maxDelayMs: 5_000,
  maxFailures: 12,
  idleTimeoutMs: 60_000,
};

export interface FollowOptions {
  /** Deliver events with a greater seq (0 = from the session's first event). */
  readonly after?: number;
  /** Called once per event, in seq order, never twice for one seq. */
  readonly onEvent: (event: StoredEvent) => void;
  /** Stop after delivering the event for which this returns true. */
  readonly until?: (event: StoredEvent) => boolean;
  /** Stops following (it does not cancel anything on the server). */
  readonly signal?: AbortSignal;
  /** Told about each reconnection, before its wait. */
  readonly onReconnect?: (info: { failures: number; delayMs: number; error: AasError }) => void;
  readonly reconnect?: Partial<ReconnectSettings>;
  /** For tests: how to wait between reconnections. */
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export interface FollowResult {
  /** Seq of the last event delivered. */
  readonly lastSeq: number;
  readonly stoppedBy: 'until' | 'signal';
}

function sleepFor(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Follows a session's live event stream. A dropped, ended or stalled connection is reopened
 * with `Last-Event-ID` after a growing wait; events are delivered strictly after the last seq
 * delivered, so none is missed or repeated across reconnections, and a gap in seqs (which a
 * resumed stream should never show) is filled from the paged event list before going on.
 */
export async function followSessionEvents(
  client: ServerClient,
  sessionId: string,
  options: FollowOptions,
): Promise<FollowResult> {
  const settings = { ...DEFAULT_RECONNECT, ...options.reconnect };
  const sleep = options.sleep ?? sleepFor;
  const signal = options.signal;
  let lastSeq = options.after ?? 0;
  let failures = 0;
  let refusedInRow = 0;
  let serverRetryMs: number | null = null;
  /** What the caller's own callbacks threw: theirs to see, never a reason to reconnect. */
  let callbackFailure: { thrown: unknown } | null = null;

  /** Delivers one event unless already delivered; true when following should stop. */
  const deliver = (event: StoredEvent): boolean => {
    if (event.seq <= lastSeq) return false;
    lastSeq = event.seq;
    failures = 0;
    try {
      options.onEvent(event);
      return options.until?.(event) === true;
    } catch (thrown) {
      callbackFailure = { thrown };
      throw thrown;
    }
  };

  const fillGap = async (upTo: number): Promise<boolean> => {
    while (lastSeq < upTo - 1) {
      const page = await client.readEvents(sessionId, {
        after: lastSeq,
        limit: Math.min(1000, upTo - 1 - lastSeq),
      });
      const items = page.items.filter((event) => event.seq < upTo);
      if (items.length === 0) return false;
      for (const event of items) if (deliver(event)) return true;
    }
    return false;
  };

  for (;;) {
    if (signal?.aborted) return { lastSeq, stoppedBy: 'signal' };
    const connection = new AbortController();
    const stop = () => connection.abort();
    signal?.addEventListener('abort', stop, { once: true });
    let idle = false;
    let idleTimer: NodeJS.Timeout | undefined;
    const touch = () => {
      clearTimeout(idleTimer);
      idleTimer = setTimeout(() => {
        idle = true;
        connection.abort();
      }, settings.idleTimeoutMs);
    };
    let error: AasError;
    try {
      touch();
      const body = await client.openEventStream(sessionId, {
        after: lastSeq,
        signal: connection.signal,
      });
      const parser = new SseParser();
      const decoder = new TextDecoder();
      const reader = body.getReader();
      try {
        for (;;) {
          let chunk: Awaited<ReturnType<typeof reader.read>>;
          try {
            chunk = await reader.read();
          } catch (thrown) {
            if (signal?.aborted || idle) throw thrown;
            throw client.connectionLost(thrown);
          }
          if (chunk.done) break;
          touch();
          for (const message of parser.push(decoder.decode(chunk.value, { stream: true }))) {
            const event = parseMessage(client, message.event, message.data);
            if (event === null) continue;
            if (event.sessionId !== sessionId) continue;
            if (event.seq > lastSeq + 1 && (await fillGap(event.seq))) {
              return { lastSeq, stoppedBy: 'until' };
            }
            if (deliver(event)) return { lastSeq, stoppedBy: 'until' };
          }
        }
      } finally {
        serverRetryMs = parser.retryMs ?? serverRetryMs;
        await reader.cancel().catch(() => {});
      }
      error = new AasError('SERVER_UNAVAILABLE', `the server at ${client.url} ended the stream`);
    } catch (thrown) {
      if (callbackFailure !== null) throw callbackFailure.thrown;
      if (signal?.aborted) return { lastSeq, stoppedBy: 'signal' };
      error = idle
        ? new AasError(
            'SERVER_UNAVAILABLE',
            `the stream from ${client.url} went silent for ${settings.idleTimeoutMs} ms`,
          )
        : normaliseError(thrown);
      if (!idle && !isTransient(error)) throw error;
    } finally {
      clearTimeout(idleTimer);
      signal?.removeEventListener('abort', stop);
      connection.abort();
    }
    failures += 1;
    // A slot may free up in a moment (a stream just closed), but a token holding all its
    // streams open will not change by waiting long: refused a few times in a row, say so.
    refusedInRow = error.code === 'TOO_MANY_STREAMS' ? refusedInRow + 1 : 0;
    if (refusedInRow > MAX_REFUSALS_IN_ROW) throw error;
    if (failures > settings.maxFailures) {
      throw new AasError(
        'SERVER_UNAVAILABLE',
        `lost the event stream of ${sessionId} from ${client.url} (${failures} connections in a row failed): ${error.message}`,
        {
          sessionId,
          lastSeq,
          hint: `the run continues on the server: aas sessions show ${sessionId} --server ${client.url}`,
        },
        { cause: error },
      );
    }
    const base = serverRetryMs ?? settings.initialDelayMs;
    // A server that said how long to wait (Retry-After) is believed, within maxDelayMs.
    const askedMs =
      typeof error.details.retryAfterSec === 'number' ? error.details.retryAfterSec * 1_000 : 0;
    const delayMs = Math.min(settings.maxDelayMs, Math.max(askedMs, base * 2 ** (failures - 1)));
    options.onReconnect?.({ failures, delayMs, error });
    await sleep(delayMs, signal);
  }
}

/** A stored event from one SSE message; an `error` message raises what the server said. */
function parseMessage(client: ServerClient, type: string, data: string): StoredEvent | null {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    throw new AasError('INTERNAL', `the server at ${client.url} sent an event that is not JSON`, {
      event: type,
    });
  }
  if (type === 'error') {
    // The server gave up on this stream (it is draining, say): its reason, then a reconnect
    // unless the reason is one that waiting cannot fix.
    const body = ErrorBodyWire.safeParse(value);
    const code = body.success && isCode(body.data.code) ? body.data.code : 'SERVER_UNAVAILABLE';
    const permanent = code === 'UNAUTHENTICATED' || code === 'FORBIDDEN' || code === 'NOT_FOUND';
    throw new AasError(
      permanent ? code : 'SERVER_UNAVAILABLE',
      client.redact(body.success ? body.data.message : 'the server reported a stream error'),
    );
  }
  const parsed = StoredEventWire.safeParse(value);
  if (!parsed.success) {
    // Not a stored event (a future control message, say): not ours to print.
    return null;
  }
  return asEvent(parsed.data);
}
