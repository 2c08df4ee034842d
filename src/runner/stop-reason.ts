import { AasError } from '../kernel/index.js';

/**
 * Why a run's work was stopped before it finished, as the abort reason of its signal: whoever
 * sees the signal (the runner, the driver classifying the attempt) can tell a cancel from an
 * interruption.
 */
export const STOP_REASON = {
  cancel: new AasError('CANCELLED', 'the run was cancelled'),
  shutdown: new AasError(
    'INTERRUPTED',
    'this worker is shutting down, and the run goes back to the queue',
  ),
  leaseLost: new AasError('INTERRUPTED', "the run's lease was lost"),
} as const;

/**
 * What an attempt stopped by `signal` is recorded as. Only a cancel is CANCELLED; a shutdown or
 * a lost lease interrupted the attempt, and the run itself is not over.
 */
export function stoppedAttempt(
  signal: AbortSignal,
  during: string,
): { code: 'CANCELLED' | 'INTERRUPTED'; detail: string } {
  const reason: unknown = signal.reason;
  if (reason instanceof AasError && reason.code === 'INTERRUPTED') {
    return { code: 'INTERRUPTED', detail: `stopped ${during}: ${reason.message}` };
  }
  return { code: 'CANCELLED', detail: `cancelled ${during}` };
}
