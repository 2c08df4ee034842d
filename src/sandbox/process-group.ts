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

/** Groups this process started and has not yet seen end (see killGroupsOnExit). */
const liveGroups = new Set<number>();
let exitHookInstalled = false;

/**
 * Remembers a process group so that it is killed if this process exits first. Groups start
 * detached (their own session), so nothing else ends them with us: a second Ctrl-C or SIGTERM
 * exits at once (cli/main.ts) and would otherwise leave unsandboxed agents and validators
 * running, past the lease under which they were started. bubblewrap's own `--die-with-parent`
 * covers only the sandboxed ones.
 */
export function trackProcessGroup(pgid: number): void {
  liveGroups.add(pgid);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // 'exit' listeners run synchronously on process.exit() and at the natural end alike.
  process.on('exit', () => {
    for (const group of liveGroups) signalProcessGroup(group, 'SIGKILL');
  });
}

export function untrackProcessGroup(pgid: number): void {
  liveGroups.delete(pgid);
}
