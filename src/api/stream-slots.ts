import type { ServerResponse } from 'node:http';
import { AasError } from '../kernel/index.js';
import type { STREAM_LIMITS } from './api-metrics.js';

type StreamLimitName = (typeof STREAM_LIMITS)[number];

export interface StreamLimits {
  /** Event streams open on this server at once, of every caller. */
  readonly maxStreams: number;
  /** Event streams one token may hold open at once. */
  readonly maxStreamsPerToken: number;
}

/**
 * Counts the Server-Sent Events streams a server holds open, so that neither one caller nor all
 * of them together can hold more than the limits: each stream holds a connection (a file
 * descriptor the database pool and the sandboxes need too) and a keep-alive timer for as long
 * as its client stays.
 */
export class StreamSlots {
  private open = 0;
  private readonly byToken = new Map<string, number>();

  constructor(
    private readonly limits: StreamLimits,
    private readonly onRefused: (limit: StreamLimitName) => void = () => undefined,
  ) {}

  /** Streams open now. */
  get size(): number {
    return this.open;
  }

  /**
   * Takes a slot for a stream of `tokenId` answered on `raw`, given back when `raw` closes;
   * TOO_MANY_STREAMS when a limit is reached.
   */
  hold(tokenId: string, raw: ServerResponse): void {
    const ofToken = this.byToken.get(tokenId) ?? 0;
    if (ofToken >= this.limits.maxStreamsPerToken) {
      this.onRefused('token');
      throw new AasError(
        'TOO_MANY_STREAMS',
        `this token has ${ofToken} event streams open, as many as this server allows one token`,
        {
          hint: `close streams no longer read (each panel tab and each following command holds one), give each client a token of its own, or raise AAS_MAX_STREAMS_PER_TOKEN (${this.limits.maxStreamsPerToken})`,
        },
      );
    }
    if (this.open >= this.limits.maxStreams) {
      this.onRefused('server');
      throw new AasError(
        'TOO_MANY_STREAMS',
        `this server has ${this.open} event streams open, as many as it allows`,
        {
          hint: `retry later, or raise AAS_MAX_STREAMS (${this.limits.maxStreams}) where the host allows that many open connections`,
        },
      );
    }
    this.open += 1;
    this.byToken.set(tokenId, ofToken + 1);
    let held = true;
    const free = () => {
      if (!held) return;
      held = false;
      this.open -= 1;
      const left = (this.byToken.get(tokenId) ?? 1) - 1;
      if (left > 0) this.byToken.set(tokenId, left);
      else this.byToken.delete(tokenId);
    };
    // The client may have gone while the route looked things up: 'close' would not come again.
    const socket = raw.socket;
    if (socket === null || socket.destroyed) {
      free();
      return;
    }
    raw.once('close', free);
  }
}
