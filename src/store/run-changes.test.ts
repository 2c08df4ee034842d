import { describe, expect, it } from 'vitest';
import { runChangesToRow, runConflict, runUpdatedAt } from './run-changes.js';

const event = (at: string) => ({ type: 't', at, actor: 'a', data: null });

describe('runChangesToRow', () => {
  it('sets only the fields present, clears with null, stores summary as JSON', () => {
    expect(runChangesToRow({})).toEqual({});
    expect(
      runChangesToRow({
        status: 'running',
        leaseOwner: null,
        summary: { files: 2 },
        baseRef: 'main',
      }),
    ).toEqual({ status: 'running', lease_owner: null, summary: '{"files":2}', base_ref: 'main' });
    expect(runChangesToRow({ summary: null })).toEqual({ summary: null });
    expect(
      runChangesToRow({ notBefore: 'N', cancelRequestedAt: null, cancelRequestedBy: 'bob' }),
    ).toEqual({ not_before: 'N', cancel_requested_at: null, cancel_requested_by: 'bob' });
  });
});

describe('runUpdatedAt', () => {
  it('prefers the last event, then finishedAt, then startedAt', () => {
    const changes = { finishedAt: 'F', startedAt: 'S' };
    expect(runUpdatedAt(changes, [event('E1'), event('E2')])).toBe('E2');
    expect(runUpdatedAt(changes, [])).toBe('F');
    expect(runUpdatedAt({ finishedAt: null, startedAt: 'S' }, [])).toBe('S');
  });

  it('keeps the old value (undefined) when nothing dates the update', () => {
    expect(runUpdatedAt({ status: 'failed' }, [])).toBeUndefined();
    expect(runUpdatedAt({ startedAt: null, finishedAt: null }, [])).toBeUndefined();
  });
});

describe('runConflict', () => {
  it('says what the run is and what was expected', () => {
    const error = runConflict(
      'run_1',
      { status: 'failed', version: 4 },
      { status: ['running'], version: 3 },
    );
    expect(error.code).toBe('CONFLICT');
    expect(error.message).toBe(
      'run run_1 is failed at version 4; expected status in [running] and version 3',
    );
    expect(error.details).toMatchObject({ actualStatus: 'failed', actualVersion: 4 });
  });
});
