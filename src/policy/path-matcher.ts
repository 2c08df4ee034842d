import picomatch from 'picomatch';

/**
 * The one glob matcher every path decision uses. `dot: true` so `**` and `*` reach dotfiles (the
 * floor's `.env*` rule must catch a root-level `.env`); case-sensitive because repositories are;
 * `windows: false` so a backslash in a path is an ordinary filename character on every host
 * instead of a separator; `nonegate` because a leading `!` is rejected by validation and must
 * never silently invert a rule. The regex `s` (dotAll) flag matters: picomatch compiles `**`
 * with `.`, which without it stops at a newline or U+2028, so `secrets/**` would miss the
 * legal file name `secrets/a<newline>b` and a deny rule could be walked around. (Setting
 * `flags` replaces picomatch's `nocase` flag, which is what we want: matching is case-sensitive.)
 */
export const MATCH_OPTIONS = { dot: true, nonegate: true, windows: false, flags: 's' } as const;

export type PathMatcher = (path: string) => boolean;

// Policies are rebuilt per run from a handful of files, so the same patterns recur endlessly;
// compiling each once keeps merges cheap. Bounded so that hostile input cannot grow it forever.
const compiled = new Map<string, PathMatcher>();
const MAX_CACHED = 4096;

/** A compiled matcher for one glob (cached by pattern text). */
export function pathMatcher(pattern: string): PathMatcher {
  const cached = compiled.get(pattern);
  if (cached) return cached;
  const matcher: PathMatcher = picomatch(pattern, MATCH_OPTIONS);
  if (compiled.size >= MAX_CACHED) compiled.clear();
  compiled.set(pattern, matcher);
  return matcher;
}
