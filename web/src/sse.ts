import { fetchWithToken } from './api';

export type StreamState = 'live' | 'reconnecting' | 'stopped';

export interface SseMessage {
  readonly id: string | null;
  readonly event: string;
  readonly data: string;
}

/**
 * Server-Sent Events over fetch, so the bearer token travels in a header (EventSource cannot
 * send one, and a token in the URL would end up in logs). Reconnects with Last-Event-ID after a
 * drop, with a growing pause, until `signal` aborts.
 */
export async function streamEvents(
  path: string,
  onMessage: (message: SseMessage) => void,
  signal: AbortSignal,
  onState?: (state: StreamState) => void,
): Promise<void> {
  let lastId: string | null = null;
  let pauseMs = 500;
  while (!signal.aborted) {
    try {
      const headers: Record<string, string> = { accept: 'text/event-stream' };
      if (lastId !== null) headers['last-event-id'] = lastId;
      const response = await fetchWithToken(path, { headers, signal });
      // A refusal that retrying cannot change (unknown id, no permission, signed out) ends it.
      if (
        response.status >= 400 &&
        response.status < 500 &&
        ![408, 429].includes(response.status)
      ) {
        onState?.('stopped');
        return;
      }
      if (!response.ok || response.body === null) throw new Error(`stream ${response.status}`);
      onState?.('live');
      pauseMs = 500;
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end = buffer.search(/\r?\n\r?\n/);
        while (end !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, '');
          const message = parseBlock(block);
          if (message !== null) {
            if (message.id !== null) lastId = message.id;
            onMessage(message);
          }
          end = buffer.search(/\r?\n\r?\n/);
        }
      }
    } catch {
      if (signal.aborted) return;
    }
    onState?.('reconnecting');
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, pauseMs);
      signal.addEventListener(
        'abort',
        () => {
          clearTimeout(timer);
          resolve();
        },
        { once: true },
      );
    });
    pauseMs = Math.min(pauseMs * 2, 10_000);
  }
}

function parseBlock(block: string): SseMessage | null {
  let id: string | null = null;
  let event = 'message';
  const data: string[] = [];
  for (const line of block.split(/\r?\n/)) {
    if (line.startsWith(':') || line === '') continue;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'id') id = value;
    else if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  }
  return data.length === 0 ? null : { id, event, data: data.join('\n') };
}
