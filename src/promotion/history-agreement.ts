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
  /** The status the run's last `run.completed` recorded; undefined when it never completed. */
  readonly completedStatus: string | undefined;
  /** Every `approval.recorded` of the run, by approval id. */
  readonly approvals: ReadonlyMap<string, RecordedApproval>;
  /** The approvals an `approval.voided` of the run names. */
  readonly voided: ReadonlySet<string>;
}

export interface RecordedApproval {
  readonly decision: unknown;
  readonly decidedBy: unknown;
  readonly patchSha256: unknown;
  readonly targetBranch: unknown;
  readonly expiresAt: unknown;
  readonly attempt: unknown;
}

/** Statuses a run reaches through run.completed and can be approved or promoted from. */
const DECIDABLE_COMPLETIONS: ReadonlySet<string> = new Set([
  'ready_for_promotion',
  'awaiting_approval',
]);
const DECIDABLE_RECORDS: ReadonlySet<string> = new Set([...DECIDABLE_COMPLETIONS, 'promoting']);

export function recordedHistory(
  events: readonly { readonly type: string; readonly data: unknown }[],
  runId: string,
): RecordedHistory {
  let requestedBy: string | null = null;
  let patchSha256: string | null | undefined;
  let completedStatus: string | undefined;
  const approvals = new Map<string, RecordedApproval>();
  const voided = new Set<string>();
  for (const event of events) {
    const data = dataOf(event);
    if (event.type === 'session.created' && requestedBy === null) {
      requestedBy = typeof data.requestedBy === 'string' ? data.requestedBy : null;
    }
    if (data.runId !== runId) continue;
    if (event.type === 'run.completed') {
      patchSha256 = typeof data.patchSha256 === 'string' ? data.patchSha256 : null;
      completedStatus = typeof data.status === 'string' ? data.status : '';
    }
    if (event.type === 'approval.recorded' && typeof data.approvalId === 'string') {
      approvals.set(data.approvalId, {
        decision: data.decision,
        decidedBy: data.decidedBy,
        patchSha256: data.patchSha256,
        targetBranch: data.targetBranch,
        expiresAt: data.expiresAt,
        attempt: data.attempt,
      });
    }
    if (event.type === 'approval.voided' && Array.isArray(data.approvalIds)) {
      for (const id of data.approvalIds) if (typeof id === 'string') voided.add(id);
    }
  }
  return { requestedBy, patchSha256, completedStatus, approvals, voided };
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
  if ((history.patchSha256 ?? null) !== records.run.patchSha256) {
    found.push(
      `the run's patch is ${records.run.patchSha256 ?? 'none'} in its record but ${history.patchSha256 === undefined ? 'it never completed' : `${history.patchSha256 ?? 'none'} in run.completed`}`,
    );
  }
  // A run the record says may be decided on must have completed so: a rejection is undone
  // by nothing but a status in a table otherwise.
  if (
    DECIDABLE_RECORDS.has(records.run.status) &&
    !DECIDABLE_COMPLETIONS.has(history.completedStatus ?? '')
  ) {
    found.push(
      `the run is ${records.run.status} in its record but ${history.completedStatus ?? 'never completed'} in run.completed`,
    );
  }
  for (const approval of records.approvals) {
    if (approval.runId !== records.run.id) continue;
    const recorded = history.approvals.get(approval.id);
    if (
      recorded === undefined ||
      recorded.decision !== approval.decision ||
      recorded.decidedBy !== approval.decidedBy ||
      recorded.patchSha256 !== approval.patchSha256 ||
      recorded.targetBranch !== approval.targetBranch ||
      recorded.expiresAt !== approval.expiresAt ||
      recorded.attempt !== approval.attemptNumber
    ) {
      found.push(
        `approval ${approval.id} (${approval.decision} by ${approval.decidedBy} of ${approval.patchSha256}) is ${recorded === undefined ? 'in no approval.recorded event' : 'not what its approval.recorded event says'}`,
      );
    } else if ((approval.voidedAt !== null) !== history.voided.has(approval.id)) {
      found.push(
        `approval ${approval.id} is ${approval.voidedAt === null ? 'standing' : 'voided'} in its record but ${history.voided.has(approval.id) ? 'voided' : 'never voided'} in the events`,
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

/** An event's data as a record to read fields of; {} when it is not an object. */
export function dataOf(event: { readonly data: unknown }): Record<string, unknown> {
  return typeof event.data === 'object' && event.data !== null
    ? (event.data as Record<string, unknown>)
    : {};
}
