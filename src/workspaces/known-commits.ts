import type { RunGit } from './types.js';

/**
 * Commit ids a `RunGit` has already had git resolve to a commit (the base `resolveBase`
 * returned, a snapshot commit it made), kept per `RunGit` object. `createWorkspace` checks
 * its `baseCommit` against this before asking git again: that `rev-parse --verify` cost one
 * git start (~3.5 ms) per attempt and answered what the run already knew. Only the object
 * `prepareRunGit` returned carries the memory (a copy or a restarted run asks git again),
 * and an id that later becomes unreadable still fails the checkout, with BASE_REF_UNKNOWN.
 */
const known = new WeakMap<RunGit, Set<string>>();

export function rememberCommit(git: RunGit, commit: string): void {
  const commits = known.get(git) ?? new Set<string>();
  commits.add(commit);
  known.set(git, commits);
}

export function isKnownCommit(git: RunGit, commit: string): boolean {
  return known.get(git)?.has(commit) ?? false;
}
