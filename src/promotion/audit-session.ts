import { type ChainVerification, verifyChain } from '../sessions/index.js';
import type { SessionRecord, Store, StoredEvent } from '../store/index.js';
import { historyDisagreements, recordedHistory } from './history-agreement.js';

/** Readings of a session moved on by appends this many times in a row: the chain alone is judged. */
const MAX_READS = 3;

/** A session's chain recomputed, and each way its tables disagree with it. */
export interface SessionAudit extends ChainVerification {
  /** `ok` only when the chain holds and the tables, when checked, agree with it. */
  readonly disagreements: readonly string[];
  /**
   * False when the tables were not held to the chain: it is broken, or the session kept
   * changing while they were read (a live run), and only the chain was judged.
   */
  readonly tablesChecked: boolean;
  /** The head the chain was verified up to, as the session row recorded it. */
  readonly lastHash: string;
}

/**
 * What `aas audit verify` and `GET /sessions/{id}/verify` check: the session's hash chain up to
 * the head its row records, then, for a chain that holds, its tables against its events (the
 * requester; each run's patch, decidable status and approvals: historyDisagreements). The chain
 * proves the events only; a writer with access to the database changes a table without touching
 * one (an approval row inserted by hand listed as counting). The head is read first, then the
 * events, then the tables, then the head again: an append in between (a run finishing) makes the
 * tables newer than the events, and the reading is taken again. A session that kept moving has
 * its chain judged and its tables left for a quieter moment (promotion holds them to the events
 * anyway). Null: no such session.
 */
export async function auditSession(
  store: Pick<Store, 'getSession' | 'readEvents' | 'listRunsForSession' | 'listApprovals'>,
  sessionId: string,
): Promise<SessionAudit | null> {
  for (let read = 1; ; read += 1) {
    const first = await store.getSession(sessionId);
    if (first === null) return null;
    const { head, events } = await chainSnapshot(store, first);
    const chain = verifyChain(head, events);
    if (!chain.ok) {
      return { ...chain, disagreements: [], tablesChecked: false, lastHash: head.lastHash };
    }
    const problems = new Set<string>();
    for (const run of await store.listRunsForSession(sessionId)) {
      const approvals = await store.listApprovals({ runId: run.id });
      const history = recordedHistory(events, run.id);
      for (const problem of historyDisagreements(history, { session: head, run, approvals })) {
        // The session's own (its requester) comes with every run: said once.
        problems.add(problem.startsWith("the session's") ? problem : `run ${run.id}: ${problem}`);
      }
    }
    // A session without runs has its requester held to session.created all the same.
    const requester = recordedHistory(events, '').requestedBy;
    if (requester !== head.requestedBy) {
      problems.add(
        `the session's requester is ${head.requestedBy} in its record but ${requester ?? 'nobody'} in session.created`,
      );
    }
    const after = await store.getSession(sessionId);
    if (after?.lastSeq === head.lastSeq && head.lastSeq === first.lastSeq) {
      const disagreements = [...problems];
      return {
        ...chain,
        ok: disagreements.length === 0,
        disagreements,
        tablesChecked: true,
        lastHash: head.lastHash,
      };
    }
    if (read >= MAX_READS) {
      return { ...chain, disagreements: [], tablesChecked: false, lastHash: head.lastHash };
    }
  }
}

/**
 * The events to verify against a head that matches them. The head is read before the events,
 * so a live run may have appended events it does not cover yet: when a second read of the head
 * covers them, they were appended meanwhile and the chain is checked up to the first head; when
 * it does not, they are events the head never recorded (written around AAS), and the chain is
 * checked against the newer head so that the mismatch shows.
 */
async function chainSnapshot(
  store: Pick<Store, 'getSession' | 'readEvents'>,
  first: SessionRecord,
): Promise<{ head: SessionRecord; events: StoredEvent[] }> {
  const events = await store.readEvents(first.id);
  const newest = events.at(-1);
  if (newest === undefined || newest.seq <= first.lastSeq) return { head: first, events };
  const now = (await store.getSession(first.id)) ?? first;
  if (now.lastSeq >= newest.seq) {
    return { head: first, events: events.filter((event) => event.seq <= first.lastSeq) };
  }
  return { head: now, events };
}
