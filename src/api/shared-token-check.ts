import { type Clock, isAasError } from '../kernel/index.js';
import type { Store } from '../store/index.js';
import { authenticate } from './authenticate.js';

interface RecentCheck {
  readonly atMs: number;
  readonly answer: Promise<boolean>;
}

/**
 * Whether the token that opened a stream still holds. Authentication runs once per request, and
 * a stream is one request that lasts, so each stream asks again at every keep-alive; the streams
 * of one token share one lookup per `maxAgeMs` instead of one each, so a client following many
 * sessions costs the store no more than one following one. A revoked token's streams end
 * within one keep-alive plus `maxAgeMs`.
 */
export class SharedTokenCheck {
  private readonly recent = new Map<string, RecentCheck>();

  constructor(
    private readonly deps: {
      readonly store: Store;
      readonly clock: Clock;
      readonly maxAgeMs: number;
    },
  ) {}

  /** The check a stream opened with this `Authorization` header asks at its keep-alives. */
  forHeader(authorization: string | undefined): () => Promise<boolean> {
    const header = authorization ?? '';
    return () => this.check(header);
  }

  private check(header: string): Promise<boolean> {
    const nowMs = this.deps.clock.nowMs();
    for (const [key, entry] of this.recent) {
      if (nowMs - entry.atMs >= this.deps.maxAgeMs || nowMs < entry.atMs) this.recent.delete(key);
    }
    const cached = this.recent.get(header);
    if (cached !== undefined) return cached.answer;
    const answer = authenticate(this.deps.store, header === '' ? undefined : header).then(
      () => true,
      // Only a refused token ends a stream: a store that cannot answer now is asked again later.
      (error: unknown) => !(isAasError(error) && error.code === 'UNAUTHENTICATED'),
    );
    this.recent.set(header, { atMs: nowMs, answer });
    return answer;
  }
}
