import { computeEventHash, GENESIS_HASH } from '../kernel/index.js';
import type { SessionRecord, StoredEvent } from '../store/index.js';

export const CHAIN_PROBLEM_KINDS = [
  'gap',
  'reordered',
  'prev-hash-mismatch',
  'hash-mismatch',
  'head-mismatch',
  'wrong-session',
] as const;
export type ChainProblemKind = (typeof CHAIN_PROBLEM_KINDS)[number];

export interface ChainProblem {
  readonly seq: number;
  readonly kind: ChainProblemKind;
  readonly detail: string;
}

export interface ChainVerification {
  readonly sessionId: string;
  readonly ok: boolean;
  readonly eventCount: number;
  /** The first problem found: the seq at which the chain broke. */
  readonly firstProblem: ChainProblem | null;
}

/**
 * Recomputes the hash chain. An edited event fails its own hash; a removed event leaves a seq
 * gap (and its successor's prevHash dangling); reordered events break seq order; a removed tail
 * no longer reaches the head the session row recorded at its last append.
 */
export function verifyChain(
  session: Pick<SessionRecord, 'id' | 'lastSeq' | 'lastHash'>,
  events: readonly StoredEvent[],
): ChainVerification {
  const fail = (problem: ChainProblem): ChainVerification => ({
    sessionId: session.id,
    ok: false,
    eventCount: events.length,
    firstProblem: problem,
  });

  let expectedSeq = 1;
  let prevHash = GENESIS_HASH;
  for (const event of events) {
    if (event.sessionId !== session.id) {
      return fail({
        seq: event.seq,
        kind: 'wrong-session',
        detail: `event belongs to session ${event.sessionId}`,
      });
    }
    if (event.seq < expectedSeq) {
      return fail({
        seq: event.seq,
        kind: 'reordered',
        detail: `seq ${event.seq} appears after seq ${expectedSeq - 1}`,
      });
    }
    if (event.seq > expectedSeq) {
      return fail({
        seq: expectedSeq,
        kind: 'gap',
        detail: `seq ${expectedSeq}${event.seq - expectedSeq > 1 ? `..${event.seq - 1}` : ''} missing; next present is ${event.seq}`,
      });
    }
    if (event.prevHash !== prevHash) {
      return fail({
        seq: event.seq,
        kind: 'prev-hash-mismatch',
        detail: 'prevHash does not match the previous event hash',
      });
    }
    const recomputed = computeEventHash(event);
    if (recomputed !== event.hash) {
      return fail({
        seq: event.seq,
        kind: 'hash-mismatch',
        detail: 'content does not match its hash (edited?)',
      });
    }
    prevHash = event.hash;
    expectedSeq += 1;
  }
  const lastSeq = expectedSeq - 1;
  if (lastSeq !== session.lastSeq) {
    return fail({
      seq: Math.min(lastSeq, session.lastSeq) + 1,
      kind: 'head-mismatch',
      detail: `chain ends at seq ${lastSeq} but the session head records seq ${session.lastSeq}`,
    });
  }
  if (lastSeq > 0 && prevHash !== session.lastHash) {
    return fail({
      seq: lastSeq,
      kind: 'head-mismatch',
      detail: 'the last event hash differs from the head the session recorded (tail rewritten?)',
    });
  }
  return { sessionId: session.id, ok: true, eventCount: events.length, firstProblem: null };
}
