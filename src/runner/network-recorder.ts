import { assertNever } from '../kernel/index.js';
import type { EffectivePolicy } from '../policy/index.js';
import { allowsHost } from '../policy/index.js';
import type { EgressDecision, SandboxNetwork } from '../sandbox/index.js';
import { sessionEvent, type TypedEvent } from '../sessions/index.js';

/** Per attempt and phase: enough to see what an agent reached for, bounded against a flood. */
const MAX_RECORDED_DECISIONS = 200;

/**
 * Turns the egress proxy's decisions into session events. The first MAX_RECORDED_DECISIONS
 * are recorded one by one; the rest are only counted, and `summary()` reports the counts, so
 * an agent hammering a refused host cannot fill the session log.
 */
export class NetworkRecorder {
  private allowed = 0;
  private refused = 0;
  private recorded = 0;

  constructor(
    private readonly runId: string,
    private readonly attempt: number,
    private readonly phase: 'agent' | 'validators',
    private readonly push: (event: TypedEvent) => void,
  ) {}

  readonly onDecision = (decision: EgressDecision): void => {
    if (decision.kind === 'allowed') this.allowed += 1;
    else this.refused += 1;
    if (this.recorded >= MAX_RECORDED_DECISIONS) return;
    this.recorded += 1;
    const data = {
      runId: this.runId,
      attempt: this.attempt,
      phase: this.phase,
      method: decision.method,
      host: decision.host,
      port: decision.port,
      reason: decision.reason,
    };
    this.push(
      decision.kind === 'allowed'
        ? sessionEvent('network.allowed', data)
        : sessionEvent('network.refused', data),
    );
  };

  summary(): TypedEvent | null {
    if (this.allowed + this.refused === 0) return null;
    return sessionEvent('network.summary', {
      runId: this.runId,
      attempt: this.attempt,
      phase: this.phase,
      allowed: this.allowed,
      refused: this.refused,
      unrecorded: this.allowed + this.refused - this.recorded,
    });
  }
}

/** The sandbox's network from the merged policy; an allow-list goes through the egress proxy. */
export function sandboxNetworkFor(
  policy: EffectivePolicy,
  recorder: NetworkRecorder,
): SandboxNetwork {
  const network = policy.network;
  switch (network.mode) {
    case 'disabled':
      return { mode: 'disabled' };
    case 'full':
      return { mode: 'full' };
    case 'allowlist':
      return {
        mode: 'allowlist',
        decide: (host, port) => allowsHost(policy, host, port),
        onDecision: recorder.onDecision,
      };
    default:
      return assertNever(network, 'network mode');
  }
}
