import { describe, expect, it } from 'vitest';
import type { ApprovalRecord, RunRecord, SessionRecord } from '../store/index.js';
import { historyDisagreements, recordedHistory } from './history-agreement.js';

const PATCH = 'a'.repeat(64);
const RUN = 'run_000000000000000000000001';

/** bob requests the run, it completes with PATCH, carol approves it for main (attempt 1). */
const EVENTS = [
  { type: 'session.created', data: { requestedBy: 'bob' } },
  {
    type: 'run.completed',
    data: { runId: RUN, status: 'ready_for_promotion', patchSha256: PATCH },
  },
  {
    type: 'approval.recorded',
    data: {
      runId: RUN,
      approvalId: 'apr_1',
      decision: 'approved',
      decidedBy: 'carol',
      patchSha256: PATCH,
      attempt: 1,
      targetBranch: 'main',
      expiresAt: '2026-01-02T00:00:00.000Z',
    },
  },
];

const session = { requestedBy: 'bob' } as SessionRecord;
const run = { id: RUN, status: 'ready_for_promotion', patchSha256: PATCH } as RunRecord;
const approval = {
  id: 'apr_1',
  runId: RUN,
  decision: 'approved',
  decidedBy: 'carol',
  patchSha256: PATCH,
  attemptNumber: 1,
  targetBranch: 'main',
  expiresAt: '2026-01-02T00:00:00.000Z',
  voidedAt: null,
} as ApprovalRecord;

const disagreements = (
  changes: {
    session?: Partial<SessionRecord>;
    run?: Partial<RunRecord>;
    approval?: Partial<ApprovalRecord>;
  } = {},
  events: readonly { type: string; data: unknown }[] = EVENTS,
) =>
  historyDisagreements(recordedHistory(events, RUN), {
    session: { ...session, ...changes.session },
    run: { ...run, ...changes.run },
    approvals: [{ ...approval, ...changes.approval }],
  });

describe('historyDisagreements', () => {
  it('finds none when the tables are what the events say', () => {
    expect(disagreements()).toEqual([]);
    // A run rejected after its approval: blocked in both.
    const rejected = [
      ...EVENTS,
      { type: 'run.completed', data: { runId: RUN, status: 'blocked', patchSha256: PATCH } },
    ];
    expect(disagreements({ run: { status: 'blocked' } }, rejected)).toEqual([]);
    // Voided by a later attempt, in both.
    const voided = [
      ...EVENTS,
      { type: 'approval.voided', data: { runId: RUN, approvalIds: ['apr_1'] } },
    ];
    expect(disagreements({ approval: { voidedAt: '2026-01-01T01:00:00.000Z' } }, voided)).toEqual(
      [],
    );
  });

  it('names each table change that would widen what may be promoted', () => {
    const cases: [Parameters<typeof disagreements>[0], string][] = [
      [
        { session: { requestedBy: 'alice' } },
        "the session's requester is alice in its record but bob",
      ],
      [
        { run: { patchSha256: 'e'.repeat(64) } },
        `the run's patch is ${'e'.repeat(64)} in its record`,
      ],
      [{ approval: { decidedBy: 'mallory' } }, 'approval apr_1 (approved by mallory'],
      [{ approval: { targetBranch: 'release' } }, 'not what its approval.recorded event says'],
      [
        { approval: { expiresAt: '2027-01-01T00:00:00.000Z' } },
        'not what its approval.recorded event says',
      ],
      [{ approval: { attemptNumber: 2 } }, 'not what its approval.recorded event says'],
    ];
    for (const [changes, words] of cases) {
      expect(disagreements(changes).join('; '), words).toContain(words);
    }
  });

  it('sees a rejection or a voiding undone in the tables, and a patch no completion recorded', () => {
    const rejected = [
      ...EVENTS,
      { type: 'run.completed', data: { runId: RUN, status: 'blocked', patchSha256: PATCH } },
    ];
    expect(disagreements({ run: { status: 'awaiting_approval' } }, rejected)).toEqual([
      'the run is awaiting_approval in its record but blocked in run.completed',
    ]);
    const voided = [
      ...EVENTS,
      { type: 'approval.voided', data: { runId: RUN, approvalIds: ['apr_1'] } },
    ];
    expect(disagreements({}, voided)).toEqual([
      'approval apr_1 is standing in its record but voided in the events',
    ]);
    const unfinished = EVENTS.filter((event) => event.type !== 'run.completed');
    expect(disagreements({}, unfinished).join('; ')).toContain(
      `the run's patch is ${PATCH} in its record but it never completed`,
    );
  });
});
