import type { AasError } from '../kernel/index.js';
import type { LeaseOp } from './lease-ops.js';
import type { RemoteLease } from './remote-workers.js';

/**
 * A claim as a remote worker receives it: the control plane's RemoteLease as it crosses the
 * wire, whose policy layer is checked again on arrival (see serverPolicyOf) and whose base-pack
 * path the worker does not need (it asks by run id).
 */
export type LeaseGrant = Omit<RemoteLease, 'serverPolicy' | 'basePackPath'> & {
  readonly serverPolicy: {
    readonly name: string;
    readonly source: string;
    readonly layer: unknown;
  } | null;
};

export type LeaseOrderWire = 'ok' | 'cancel' | 'lost';

/**
 * How a remote worker reaches its control plane: the worker protocol over HTTP(S), under the
 * worker's own credential. Failures are AasErrors; `isTransient` tells those worth retrying
 * (unreachable, 5xx) from answers that will not change (fenced, refused, bad input).
 */
export interface ControlPlaneLink {
  /** The server as shown to people. */
  readonly url: string;
  claimRun(waitSec: number, signal: AbortSignal): Promise<LeaseGrant | null>;
  /**
   * `state.draining`: this worker is draining itself, so the control plane shows it so.
   * `state.timeoutMs`: give up on the answer sooner than the link's own limit (a beat that
   * hangs holds back the next, so it must end well within the shortest lease it renews).
   */
  workerHeartbeat(
    leases: readonly { readonly runId: string; readonly fencingToken: number }[],
    state: { readonly draining: boolean; readonly timeoutMs?: number },
  ): Promise<{ runs: { runId: string; order: LeaseOrderWire }[]; drain: boolean }>;
  leaseOp(runId: string, fencingToken: number, operation: LeaseOp): Promise<unknown>;
  basePack(
    runId: string,
    fencingToken: number,
    haves: readonly string[],
  ): Promise<{ commit: string; pack: Buffer }>;
  putRunArtifact(
    runId: string,
    upload: {
      readonly fencingToken: number;
      readonly name: string;
      readonly sha256: string;
      readonly originalBytes: number;
      readonly content: Buffer;
    },
  ): Promise<void>;
  isTransient(error: AasError): boolean;
}
