import type { Code } from '../kernel/index.js';

/**
 * What kind of "no" a failed gate is. The runner treats them differently: a policy denial ends
 * the run (an agent that reached for forbidden paths is not retried into compliance), while a
 * limit or validator failure is fed back to the next attempt.
 */
export const GateClass = {
  policy: 'policy',
  limit: 'limit',
  integrity: 'integrity',
  validator: 'validator',
} as const;
export type GateClass = (typeof GateClass)[keyof typeof GateClass];

export interface GateVerdict {
  readonly gate: string;
  readonly gateClass: GateClass;
  readonly passed: boolean;
  /** GATES_PASSED when passed; otherwise why it denied. */
  readonly code: Code;
  readonly detail: string;
  readonly durationMs: number;
  readonly evidence?: unknown;
}

export interface PathDenial {
  readonly path: string;
  readonly kind: string;
  readonly layer: string | null;
  readonly rule: string | null;
  readonly reason: string;
}
