/**
 * Signals go to the whole process group (negative pid), never only to the direct child: an
 * agent that forks helpers must not leave them running after a timeout or a cancel.
 */
export function signalProcessGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH means the group is already gone, which is the goal. EPERM cannot be fixed from
    // here; the launch outcome still reports how the process ended.
  }
}
