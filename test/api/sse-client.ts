/** A minimal Server-Sent Events reader over fetch, for tests: frames in arrival order. */

export interface SseEvent {
  readonly id: string | undefined;
  readonly event: string | undefined;
  readonly data: string;
}

export interface SseConnection {
  readonly status: number;
  readonly contentType: string | null;
  /** Resolves with the next `count` events (waits as long as it takes). */
  take(count: number): Promise<SseEvent[]>;
  /** Resolves once `predicate` holds, checked after every chunk received. */
  until(predicate: () => boolean): Promise<void>;
  /** Comments received so far (keep-alives). */
  readonly comments: string[];
  /** Resolves when the server ends the stream. */
  readonly ended: Promise<void>;
  close(): void;
}

export async function openSse(
  url: string,
  headers: Record<string, string>,
): Promise<SseConnection> {
  const abort = new AbortController();
  const response = await fetch(url, { headers, signal: abort.signal });
  const queue: SseEvent[] = [];
  const comments: string[] = [];
  const waiters: (() => void)[] = [];
  const notify = () => {
    for (const waiter of waiters.splice(0)) waiter();
  };
  let finished = false;
  const body = response.body;
  if (body === null) throw new Error('no body');
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();

  const ended = (async () => {
    let buffer = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let boundary = buffer.indexOf('\n\n');
        while (boundary >= 0) {
          const frame = buffer.slice(0, boundary);
          buffer = buffer.slice(boundary + 2);
          const fields: Record<string, string[]> = {};
          for (const line of frame.split('\n')) {
            if (line.startsWith(':')) {
              comments.push(line.slice(1).trim());
              continue;
            }
            const colon = line.indexOf(':');
            const name = colon < 0 ? line : line.slice(0, colon);
            const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
            fields[name] = [...(fields[name] ?? []), value];
          }
          if (fields.data !== undefined) {
            queue.push({
              id: fields.id?.[0],
              event: fields.event?.[0],
              data: fields.data.join('\n'),
            });
          }
          boundary = buffer.indexOf('\n\n');
        }
        notify();
      }
    } catch {
      // Aborted by the test.
    } finally {
      finished = true;
      notify();
    }
  })();

  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    comments,
    ended,
    async take(count) {
      while (queue.length < count) {
        if (finished) throw new Error(`stream ended after ${queue.length} of ${count} events`);
        await new Promise<void>((resolve) => waiters.push(resolve));
      }
      return queue.splice(0, count);
    },
    async until(predicate) {
      while (!predicate()) {
        if (finished) throw new Error('stream ended before the condition held');
        await new Promise<void>((resolve) => waiters.push(resolve));
      }
    },
    close() {
      abort.abort();
    },
  };
}
