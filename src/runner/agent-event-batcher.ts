import type { SessionRecorder, TypedEvent } from '../sessions/index.js';

/**
 * Driver events arrive in bursts; appending each on its own would be one transaction per line.
 * They are buffered and appended in batches every `intervalMs`, and flushed at the end. The
 * first append that fails is kept: `onError` is told at once (the caller stops the agent) and
 * `stop()` raises it; later batches are not attempted.
 */
export class AgentEventBatcher {
  private buffer: TypedEvent[] = [];
  private timer: NodeJS.Timeout | null = null;
  private chain: Promise<void> = Promise.resolve();
  private failure: unknown = null;

  constructor(
    private readonly recorder: SessionRecorder,
    private readonly onError: (error: unknown) => void,
    private readonly intervalMs = 200,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.flush(), this.intervalMs);
    this.timer.unref();
  }

  push(event: TypedEvent): void {
    this.buffer.push(event);
  }

  /** Appends what is buffered; appends stay in order because they are chained. Never rejects. */
  flush(): Promise<void> {
    const batch = this.buffer;
    this.buffer = [];
    if (batch.length > 0 && this.failure === null) {
      this.chain = this.chain.then(async () => {
        if (this.failure !== null) return;
        try {
          await this.recorder.append(...batch);
        } catch (error) {
          this.failure = error;
          this.onError(error);
        }
      });
    }
    return this.chain;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.flush();
    if (this.failure !== null) throw this.failure;
  }
}
