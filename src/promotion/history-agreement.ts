import { AasError } from '../kernel/index.js';
import type { ApprovalRecord, RunRecord, SessionRecord } from '../store/index.js';

/**
 * What the session's hash-chained events say about the facts promotion decides on. The tables
 * (sessions, runs, approvals) are projections a writer with access to the database can change
 * without touching a single event; `aas audit verify` proves only the chain. So the requester,
 * the patch and every approval are taken from the events, and a table that says otherwise stops
 * the promotion (measured: a patch swapped in `runs.patch_sha256` and `approvals`, with the
 * requester renamed in `sessions`, was approved by the real requester, pushed and attested).
 */
export interface RecordedHistory {
  /** `session.created`'s requester; null when the session has no such event. */
  readonly requestedBy: string | null;
  /** The patch the run's last `run.completed` recorded; undefined when it never completed. */
  readonly patchSha256: string | null | undefined;
  /** Every `approval.recorded` of the run, by approval id. */
  readonly approvals: ReadonlyMap<string, RecordedApproval>;
}

export interface RecordedApproval {
  readonly decision: unknown;
  readonly decidedBy: unknown;
  readonly patchSha256: unknown;
}

export function recordedHistory(
  events: readonly { readonly type: string; readonly data: unknown }[],
  runId: string,
): RecordedHistory {
  let requestedBy: string | null = null;
  let patchSha256: string | null | undefined;
  const approvals = new Map<string, RecordedApproval>();
  for (const event of events) {
    const data = dataOf(event);
    if (event.type === 'session.created' && requestedBy === null) {
      requestedBy = typeof data.requestedBy === 'string' ? data.requestedBy : null;
    }
    if (data.runId !== runId) continue;
    if (event.type === 'run.completed') {
      patchSha256 = typeof data.patchSha256 === 'string' ? data.patchSha256 : null;
    }
    if (event.type === 'approval.recorded' && typeof data.approvalId === 'string') {
      approvals.set(data.approvalId, {
        decision: data.decision,
        decidedBy: data.decidedBy,
        patchSha256: data.patchSha256,
      });
    }
  }
  return { requestedBy, patchSha256, approvals };
}

/** Each way the tables disagree with the events, in words; empty when they agree. */
export function historyDisagreements(
  history: RecordedHistory,
  records: {
    readonly session: SessionRecord;
    readonly run: RunRecord;
    readonly approvals: readonly ApprovalRecord[];
  },
): string[] {
  const found: string[] = [];
  if (history.requestedBy !== records.session.requestedBy) {
    found.push(
      `the session's requester is ${records.session.requestedBy} in its record but ${history.requestedBy ?? 'nobody'} in session.created`,
    );
  }
  if (history.patchSha256 !== undefined && history.patchSha256 !== records.run.patchSha256) {
    found.push(
      `the run's patch is ${records.run.patchSha256 ?? 'none'} in its record but ${history.patchSha256 ?? 'none'} in run.completed`,
    );
  }
  for (const approval of records.approvals) {
    if (approval.runId !== records.run.id) continue;
    const recorded = history.approvals.get(approval.id);
    if (
      recorded === undefined ||
      recorded.decision !== approval.decision ||
      recorded.decidedBy !== approval.decidedBy ||
      recorded.patchSha256 !== approval.patchSha256
    ) {
      found.push(
        `approval ${approval.id} (${approval.decision} by ${approval.decidedBy} of ${approval.patchSha256}) is ${recorded === undefined ? 'in no approval.recorded event' : 'not what its approval.recorded event says'}`,
      );
    }
  }
  return found;
}

/** The refusal for records that disagree with the history (integrity, exit 6). */
export function historyRefusal(runId: string, disagreements: readonly string[]): AasError {
  return new AasError(
    'AUDIT_CHAIN_BROKEN',
    `run ${runId}'s stored records disagree with its hash-chained events: ${disagreements.join('; ')}`,
    {
      runId,
      hint: 'the database was changed outside AAS: restore it from a backup before approving or promoting this run (aas audit verify checks the events themselves)',
    },
  );
}

function dataOf(event: { readonly data: unknown }): Record<string, unknown> {
  return typeof event.data === 'object' && event.data !== null
    ? (event.data as Record<string, unknown>)
    : {};
}
