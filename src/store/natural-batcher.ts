/** What a batch answers for one of its items: a value, or "submit me to the next batch". */
export type BatchAnswer<O> = { readonly value: O } | { readonly again: true };

interface Waiting<I, O> {
  readonly item: I;
  readonly resolve: (value: O) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Natural batching: items submitted while a batch is in flight wait and go together in the
 * next one; an item submitted to an idle batcher goes at once (after the current microtask, so
 * items submitted together also go together). Under load a batch carries whatever arrived
 * during the previous one, so one round trip and one commit serve many items; with no load
 * nothing waits for a timer. At most `maxBatch` items per batch, taken in submission order; an
 * item answered `again` goes first in the next batch.
 *
 * One batch at a time: on the fleet bench (8 claimers, one store) two or more in flight, with
 * batches capped at 2–4 to make them, were 20–40% slower than one at a time with batches of 8;
 * a statement's fixed cost outweighs the overlap.
 *
 * A batch that throws rejects each of its items with that error.
 */
export class NaturalBatcher<I, O> {
  #waiting: Waiting<I, O>[] = [];
  #running = false;

  constructor(
    private readonly runBatch: (items: readonly I[]) => Promise<readonly BatchAnswer<O>[]>,
    private readonly maxBatch: number,
    /** Called whenever the last batch ends with nothing waiting. */
    private readonly onIdle: () => void = () => undefined,
  ) {
    if (!Number.isInteger(maxBatch) || maxBatch < 1) {
      throw new RangeError(`maxBatch must be a positive integer, got ${maxBatch}`);
    }
  }

  /** Items waiting for a batch (not counting the one in flight). */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** Whether a batch is in flight or items wait for one. */
  get busy(): boolean {
    return this.#running || this.#waiting.length > 0;
  }

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.#waiting.push({ item, resolve, reject });
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#running) return;
    this.#running = true;
    queueMicrotask(() => void this.#send(this.#waiting.splice(0, this.maxBatch)));
  }

  async #send(batch: Waiting<I, O>[]): Promise<void> {
    try {
      const answers = await this.runBatch(batch.map((waiting) => waiting.item));
      if (answers.length !== batch.length) {
        throw new Error(`a batch of ${batch.length} answered ${answers.length} times`);
      }
      const again: Waiting<I, O>[] = [];
      batch.forEach((waiting, index) => {
        const answer = answers[index];
        if (answer === undefined || 'again' in answer) again.push(waiting);
        else waiting.resolve(answer.value);
      });
      this.#waiting.unshift(...again);
    } catch (error) {
      for (const waiting of batch) waiting.reject(error);
    } finally {
      this.#running = false;
      if (this.#waiting.length > 0) this.#schedule();
      else this.onIdle();
    }
  }
}
