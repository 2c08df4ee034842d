import type { StoredEvent } from '../store/index.js';

export interface ReplayedAttempt {
  readonly attempt: number;
  readonly agentId: string;
  status: string;
  code: string | null;
  readonly gates: {
    gate: string;
    passed: boolean;
    code: string;
    detail: string;
    durationMs: number;
  }[];
  agentDurationMs: number | null;
}

/** What a session's history says, rebuilt purely from its events. */
export interface SessionProjection {
  sessionId: string | null;
  task: string | null;
  status: string;
  reasonCode: string | null;
  detail: string | null;
  baseCommit: string | null;
  patchSha256: string | null;
  attempts: ReplayedAttempt[];
  degraded: string[];
  /**
   * Why the last try to promote stopped half-way (`promotion.failed` of a promotion past its
   * preflight), until a later try records anything: what a run left `promoting` waits on.
   */
  promotionFailure: { step: string; code: string; detail: string } | null;
  lastSeq: number;
  eventCount: number;
}

/**
 * Folds events into a projection. Pure and allocation-light: it is the recovery and display
 * path, and is benchmarked (replay of 1,000 events).
 */
export function replaySession(events: Iterable<StoredEvent>): SessionProjection {
  const state: SessionProjection = {
    sessionId: null,
    task: null,
    status: 'queued',
    reasonCode: null,
    detail: null,
    baseCommit: null,
    patchSha256: null,
    attempts: [],
    degraded: [],
    promotionFailure: null,
    lastSeq: 0,
    eventCount: 0,
  };
  let current: ReplayedAttempt | undefined;
  for (const event of events) {
    state.eventCount += 1;
    state.lastSeq = event.seq;
    state.sessionId ??= event.sessionId;
    const data = (event.data ?? {}) as Record<string, unknown>;
    switch (event.type) {
      case 'session.created':
        state.task = typeof data.task === 'string' ? data.task : null;
        break;
      case 'run.started':
        state.status = 'running';
        break;
      case 'run.base.resolved':
        state.baseCommit = typeof data.baseCommit === 'string' ? data.baseCommit : null;
        break;
      case 'sandbox.degraded':
        state.degraded.push(String(data.reason));
        break;
      case 'run.attempt.started':
        current = {
          attempt: Number(data.attempt),
          agentId: String(data.agentId),
          status: 'running',
          code: null,
          gates: [],
          agentDurationMs: null,
        };
        state.attempts.push(current);
        break;
      case 'agent.finished':
        if (current) current.agentDurationMs = Number(data.durationMs);
        break;
      case 'gate.passed':
      case 'gate.failed':
        current?.gates.push({
          gate: String(data.gate),
          passed: event.type === 'gate.passed',
          code: String(data.code),
          detail: String(data.detail),
          durationMs: Number(data.durationMs),
        });
        break;
      case 'run.attempt.finished':
        if (current) {
          current.status = String(data.status);
          current.code = String(data.code);
        }
        break;
      case 'run.completed':
        state.status = String(data.status);
        state.reasonCode = String(data.reasonCode);
        state.detail = String(data.detail);
        state.patchSha256 = typeof data.patchSha256 === 'string' ? data.patchSha256 : null;
        break;
      case 'promotion.failed':
        state.promotionFailure = {
          step: String(data.step),
          code: String(data.code),
          detail: String(data.detail),
        };
        break;
      case 'promotion.requested':
      case 'promotion.completed':
        state.promotionFailure = null;
        break;
      case 'run.interrupted':
        state.status = 'failed';
        state.reasonCode = 'INTERRUPTED';
        state.detail = String(data.detail);
        break;
      default:
        break;
    }
  }
  return state;
}
