import type { Store } from '../store/index.js';
import { historyDisagreements, recordedHistory } from './history-agreement.js';

/** Reads of a session moved on by appends this many times in a row: the last reading stands. */
const MAX_READS = 3;

/**
 * Each way a session's tables disagree with its hash-chained events: its requester, and for each
 * of its runs the patch, the decidable status and every approval (historyDisagreements), each
 * prefixed with the run. The chain proves the events only; a writer with access to the database
 * changes a table without touching one (an approval row inserted by hand lists as counting).
 * Events are read before the tables, and the whole reading is taken again when an append came
 * in between, so a run finishing meanwhile is not taken for a disagreement. Null: no session.
 */
export async function auditSessionRecords(
  store: Pick<Store, 'getSession' | 'readEvents' | 'listRunsForSession' | 'listApprovals'>,
  sessionId: string,
): Promise<string[] | null> {
  let found: string[] = [];
  for (let read = 0; read < MAX_READS; read += 1) {
    const before = await store.getSession(sessionId);
    if (before === null) return null;
    const events = await store.readEvents(sessionId);
    const session = (await store.getSession(sessionId)) ?? before;
    // The session's own disagreement (its requester) comes with every run: said once.
    const problems = new Set<string>();
    for (const run of await store.listRunsForSession(sessionId)) {
      const approvals = await store.listApprovals({ runId: run.id });
      const history = recordedHistory(events, run.id);
      for (const problem of historyDisagreements(history, { session, run, approvals })) {
        problems.add(problem.startsWith("the session's") ? problem : `run ${run.id}: ${problem}`);
      }
    }
    found = [...problems];
    const after = await store.getSession(sessionId);
    if (after?.lastSeq === before.lastSeq) return found;
  }
  return found;
}
