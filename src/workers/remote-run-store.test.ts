import { describe, expect, it } from 'vitest';
import { AasError, isAasError, ManualClock, silentLogger } from '../kernel/index.js';
import type { ControlPlaneLink } from './control-plane-link.js';
import { deadlineAfter, readClock } from './lease-deadline.js';
import type { LeaseOp } from './lease-ops.js';
import { RemoteRunStore } from './remote-run-store.js';

/** A link whose answers the test scripts: `failures` transient errors, then `answer`. */
function scriptedLink(script: { failures: number; answer: unknown }) {
  const sent: LeaseOp[] = [];
  let failures = script.failures;
  const link: ControlPlaneLink = {
    url: 'http://control-plane.test',
    claimRun: async () => null,
    workerHeartbeat: async () => ({ runs: [], drain: false }),
    basePack: async () => ({ commit: '0'.repeat(40), pack: Buffer.alloc(0) }),
    putRunArtifact: async () => undefined,
    leaseOp: async (_runId, _token, operation) => {
      sent.push(operation);
      if (failures > 0) {
        failures -= 1;
        throw new AasError('SERVER_UNAVAILABLE', 'connection refused');
      }
      return script.answer;
    },
    isTransient: (error) => error.code === 'SERVER_UNAVAILABLE',
  };
  return { link, sent };
}

function storeOver(
  link: ControlPlaneLink,
  clock: ManualClock | SteppingClock,
  leaseMs: number,
  jitter = 1,
  lease: { retryBudgetMs?: number; stop?: AbortController; renewed?: boolean } = {},
) {
  const granted = readClock(clock);
  // `renewed`: heartbeats keep the lease a full length ahead of now, as a reachable peer would.
  const deadline = () =>
    deadlineAfter(lease.renewed === true ? readClock(clock) : granted, leaseMs);
  const slept: number[] = [];
  const store = new RemoteRunStore(
    {
      link,
      clock,
      log: silentLogger,
      // Sleeping advances the manual clock: the retry schedule is observable without waiting.
      sleep: async (ms) => {
        slept.push(ms);
        clock.advance(ms);
      },
      random: () => jitter,
    },
    {
      runId: 'run_1',
      sessionId: 'ses_1',
      fencingToken: 3,
      deadline,
      stopped: (lease.stop ?? new AbortController()).signal,
      retryBudgetMs: lease.retryBudgetMs ?? 60_000,
    },
  );
  return { store, slept };
}

/** A wall clock an operator sets back an hour once the first retry slept; elapsed time runs on. */
class SteppingClock extends ManualClock {
  #stepped = false;
  override advance(ms: number): void {
    super.advance(ms);
    this.#stepped = true;
  }
  override nowMs(): number {
    return super.nowMs() - (this.#stepped ? 3_600_000 : 0);
  }
}

const event = { type: 'agent.event', at: '2026-01-01T00:00:00.000Z', actor: 'w', data: {} };

describe('RemoteRunStore', () => {
  it('retries a write with the same number, backing off, until the control plane answers', async () => {
    const clock = new ManualClock(0);
    const { link, sent } = scriptedLink({
      failures: 3,
      answer: { op: 'appendEvents', events: [] },
    });
    const { store, slept } = storeOver(link, clock, 30_000);
    await store.appendEvents('ses_1', [event]);
    await store.appendEvents('ses_1', [event]);
    const numbers = sent.map((op) => ('writeSeq' in op ? op.writeSeq : null));
    // Four tries of write 1 (three lost), then write 2 once.
    expect(numbers).toEqual([1, 1, 1, 1, 2]);
    expect(slept).toEqual([250, 500, 1_000]);
  });

  it('draws each wait in the upper half of its step, so cut-off workers do not retry in step', async () => {
    const clock = new ManualClock(0);
    const { link } = scriptedLink({ failures: 3, answer: { op: 'appendEvents', events: [] } });
    const { store, slept } = storeOver(link, clock, 30_000, 0);
    await store.appendEvents('ses_1', [event]);
    expect(slept).toEqual([125, 250, 500]);
  });

  it('gives the run up as fenced once the lease would have lapsed', async () => {
    const clock = new ManualClock(0);
    const { link, sent } = scriptedLink({ failures: 1_000, answer: null });
    const { store, slept } = storeOver(link, clock, 10_000);
    const error = await store.appendEvents('ses_1', [event]).catch((thrown: unknown) => thrown);
    expect(isAasError(error) && error.code).toBe('LEASE_FENCED');
    // Never waits past the lease: the last sleep is cut to what was left.
    expect(slept.reduce((sum, ms) => sum + ms, 0)).toBe(10_000);
    expect(Math.max(...slept)).toBeLessThanOrEqual(5_000);
    // Nothing is sent once the last wait ended at the deadline.
    expect(sent.length).toBe(slept.length);
  });

  it('gives a request up after its retry budget although heartbeats keep the lease', async () => {
    const clock = new ManualClock(0);
    const { link, sent } = scriptedLink({ failures: 1_000, answer: null });
    const { store, slept } = storeOver(link, clock, 10_000, 1, {
      retryBudgetMs: 30_000,
      renewed: true,
    });
    const error = await store.appendEvents('ses_1', [event]).catch((thrown: unknown) => thrown);
    expect(isAasError(error) && error.code).toBe('SERVER_UNAVAILABLE');
    expect(String(error)).toMatch(/given up/);
    expect(slept.reduce((sum, ms) => sum + ms, 0)).toBeGreaterThanOrEqual(30_000);
    expect(sent.length).toBe(slept.length + 1);
  });

  it('gives a request whose tries each time out a few tries before its budget counts', async () => {
    const clock = new ManualClock(0);
    const scripted = scriptedLink({ failures: 1_000, answer: null });
    // Each try hangs 40 s before it fails, longer than the whole 30 s budget.
    const slow: ControlPlaneLink = {
      ...scripted.link,
      leaseOp: async (runId, token, operation) => {
        clock.advance(40_000);
        return scripted.link.leaseOp(runId, token, operation);
      },
    };
    const { store } = storeOver(slow, clock, 10_000, 1, { retryBudgetMs: 30_000, renewed: true });
    const error = await store.appendEvents('ses_1', [event]).catch((thrown: unknown) => thrown);
    expect(String(error)).toMatch(/failed 5 times/);
    expect(scripted.sent).toHaveLength(5);
  });

  it('sends nothing once the run was stopped here or its lease lapsed, not even a first try', async () => {
    const clock = new ManualClock(0);
    const { link, sent } = scriptedLink({ failures: 0, answer: { events: [] } });
    const stop = new AbortController();
    const { store } = storeOver(link, clock, 10_000, 1, { stop });
    await store.appendEvents('ses_1', [event]);
    expect(sent).toHaveLength(1);
    clock.advance(10_000);
    const lapsed = await store.appendEvents('ses_1', [event]).catch((thrown: unknown) => thrown);
    expect(isAasError(lapsed) && lapsed.code).toBe('LEASE_FENCED');
    const stopped = storeOver(link, clock, 10_000, 1, { stop }).store;
    stop.abort();
    const refused = await stopped.appendEvents('ses_1', [event]).catch((thrown: unknown) => thrown);
    expect(isAasError(refused) && refused.code).toBe('LEASE_FENCED');
    expect(sent).toHaveLength(1);
  });

  it('counts the lease on the monotonic clock: a wall clock set back does not stretch it', async () => {
    const clock = new SteppingClock(0);
    const { link } = scriptedLink({ failures: 1_000, answer: null });
    const { store, slept } = storeOver(link, clock, 10_000);
    const error = await store.appendEvents('ses_1', [event]).catch((thrown: unknown) => thrown);
    expect(isAasError(error) && error.code).toBe('LEASE_FENCED');
    expect(clock.nowMs()).toBeLessThan(0);
    expect(slept.reduce((sum, ms) => sum + ms, 0)).toBe(10_000);
  });

  it('does not retry an answer that will not change, and refuses other runs and sessions', async () => {
    const clock = new ManualClock(0);
    const fenced: ControlPlaneLink = {
      ...scriptedLink({ failures: 0, answer: null }).link,
      leaseOp: async () => {
        throw new AasError('LEASE_FENCED', 'another holder');
      },
    };
    const { store, slept } = storeOver(fenced, clock, 30_000);
    const error = await store.getRun('run_1').catch((thrown: unknown) => thrown);
    expect(isAasError(error) && error.code).toBe('LEASE_FENCED');
    expect(slept).toEqual([]);
    expect(await store.getRun('run_other')).toBeNull();
    const elsewhere = await store
      .appendEvents('ses_other', [event])
      .catch((thrown: unknown) => thrown);
    expect(isAasError(elsewhere) && elsewhere.code).toBe('FORBIDDEN');
    const approval = await store.recordApproval().catch((thrown: unknown) => thrown);
    expect(isAasError(approval) && approval.code).toBe('FORBIDDEN');
  });
});
