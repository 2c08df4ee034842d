import { readFileChunk } from './bounded-read.js';
import { type DriverEvent, type EventRejection, parseDriverEventLine } from './driver-event.js';

export interface EventLimits {
  /** Events delivered per attempt; later lines are counted as rejected. */
  readonly maxEvents: number;
  /** A line longer than this (bytes, without the newline) is rejected unparsed. */
  readonly maxLineBytes: number;
}

export const DEFAULT_EVENT_LIMITS: EventLimits = { maxEvents: 1000, maxLineBytes: 16 * 1024 };

const CHUNK_BYTES = 256 * 1024;
const NEWLINE = 0x0a;

/**
 * Follows the agent's ndjson event log while it runs. The file is agent-controlled, so every
 * read is bounded (per chunk and in total), lines are size-checked before parsing, and a bad
 * line is counted, never thrown. Events are delivered in file order, one at a time.
 */
export class EventLogTailer {
  private offset = 0;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Inside a line already known to be too long: drop bytes until its newline. */
  private skipping = false;
  private delivered = 0;
  private readonly rejections = new Map<EventRejection, number>();
  private stopReason: string | null = null;
  private readonly maxReadBytes: number;
  private loop: Promise<void> | null = null;
  private stopping = false;
  private wake: (() => void) | null = null;
  private failure: { error: unknown } | null = null;

  constructor(
    private readonly path: string,
    private readonly limits: EventLimits,
    private readonly deliver: (event: DriverEvent) => Promise<void>,
  ) {
    // Room for every allowed event at full size plus as much again of rejected lines.
    this.maxReadBytes = 2 * (limits.maxEvents + 1) * (limits.maxLineBytes + 1);
  }

  get deliveredCount(): number {
    return this.delivered;
  }

  get rejectedCount(): number {
    let total = 0;
    for (const count of this.rejections.values()) total += count;
    return total;
  }

  get rejectionsByReason(): Readonly<Record<string, number>> {
    return Object.fromEntries(this.rejections);
  }

  /** Why reading stopped early (log too large or replaced by something unreadable), if it did. */
  get stoppedEarly(): string | null {
    return this.stopReason;
  }

  /** Polls every `intervalMs` until `stop()`. A failing `deliver` ends polling and calls `onFailure`. */
  start(intervalMs: number, onFailure: (error: unknown) => void): void {
    this.loop = (async () => {
      while (!this.stopping) {
        try {
          await this.poll();
        } catch (error) {
          this.failure = { error };
          onFailure(error);
          return;
        }
        if (this.stopping) return;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, intervalMs);
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.wake = null;
      }
    })();
  }

  /**
   * Ends polling, then reads whatever the agent wrote last (a final line without a newline
   * counts: the writer is gone). Rethrows a `deliver` failure.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.loop;
    if (this.failure !== null) throw this.failure.error;
    await this.poll();
    if (this.skipping) {
      this.reject('oversized');
    } else if (this.pendingBytes > 0) {
      await this.handleLine(Buffer.concat(this.pending));
    }
    this.skipping = false;
    this.pending = [];
    this.pendingBytes = 0;
  }

  private async poll(): Promise<void> {
    while (this.stopReason === null) {
      const budget = Math.min(CHUNK_BYTES, this.maxReadBytes - this.offset);
      if (budget <= 0) {
        this.stopReason = `event log exceeded ${this.maxReadBytes} bytes; the rest was not read`;
        return;
      }
      const chunk = await readFileChunk(this.path, this.offset, budget);
      switch (chunk.kind) {
        case 'ok':
          break;
        case 'missing':
          return; // Not created yet, or removed by the agent: nothing to read.
        case 'not-regular':
          this.stopReason = `event log is ${chunk.what}; it was not read further`;
          return;
        case 'too-large':
        case 'error':
          this.stopReason = `event log could not be read: ${chunk.kind === 'error' ? chunk.message : 'too large'}`;
          return;
      }
      if (chunk.bytes.length === 0) return;
      this.offset += chunk.bytes.length;
      await this.consume(chunk.bytes);
    }
  }

  private async consume(bytes: Buffer): Promise<void> {
    let start = 0;
    while (start < bytes.length) {
      const newline = bytes.indexOf(NEWLINE, start);
      const end = newline === -1 ? bytes.length : newline;
      const piece = bytes.subarray(start, end);
      if (!this.skipping) {
        this.pending.push(piece);
        this.pendingBytes += piece.length;
        if (this.pendingBytes > this.limits.maxLineBytes) {
          this.skipping = true;
          this.pending = [];
          this.pendingBytes = 0;
        }
      }
      if (newline === -1) return;
      if (this.skipping) {
        this.reject('oversized');
        this.skipping = false;
      } else {
        const line = Buffer.concat(this.pending);
        this.pending = [];
        this.pendingBytes = 0;
        await this.handleLine(line);
      }
      start = newline + 1;
    }
  }

  private async handleLine(bytes: Buffer): Promise<void> {
    const line = bytes.toString('utf8').trim();
    if (line === '') return;
    if (this.delivered >= this.limits.maxEvents) {
      this.reject('over-limit');
      return;
    }
    const parsed = parseDriverEventLine(line);
    if (!parsed.ok) {
      this.reject(parsed.reason);
      return;
    }
    this.delivered += 1;
    await this.deliver(parsed.event);
  }

  private reject(reason: EventRejection): void {
    this.rejections.set(reason, (this.rejections.get(reason) ?? 0) + 1);
  }
}
