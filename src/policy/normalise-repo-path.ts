export type NormalisedPath =
  | { readonly ok: true; readonly path: string }
  | { readonly ok: false; readonly reason: string };

/**
 * A repo-relative POSIX path in the one form every policy rule is matched against. Only `/`
 * separates: a backslash is an ordinary filename character on POSIX and is kept literally.
 * `./` segments and doubled or trailing slashes collapse; empty, absolute, NUL-containing and
 * `..`-containing paths are refused outright, never "resolved", so nothing can climb out.
 * Git metadata is a separate question (the path is well-formed); decidePath always denies it.
 */
export function normaliseRepoPath(path: string): NormalisedPath {
  if (path.length === 0) return { ok: false, reason: 'empty path' };
  if (path.includes('\0')) return { ok: false, reason: 'path contains a NUL byte' };
  if (path.startsWith('/'))
    return { ok: false, reason: 'absolute path; paths must be relative to the repository root' };
  const segments = path.split('/').filter((segment) => segment !== '' && segment !== '.');
  if (segments.includes('..')) return { ok: false, reason: "path contains a '..' segment" };
  if (segments.length === 0)
    return { ok: false, reason: 'path names the repository root, not a file' };
  return { ok: true, path: segments.join('/') };
}

// Characters HFS+ ignores when comparing names, so `.g\u200Cit` is `.git` on macOS.
const HFS_IGNORABLE = /[\u200C-\u200F\u202A-\u202E\u206A-\u206F\uFEFF]/g;

/**
 * Whether one path segment names git metadata on some filesystem a checkout might land on:
 * `.git` in any case (case-insensitive filesystems), with trailing dots or spaces or an NTFS
 * stream suffix (`.git.`, `.git::$INDEX_ALLOCATION`), with HFS+-ignorable characters, or as
 * the NTFS short name `git~1`. The same rules git itself uses to protect `.git`.
 */
export function isGitMetadataSegment(segment: string): boolean {
  const name = segment.replace(HFS_IGNORABLE, '').toLowerCase();
  if (name === 'git~1') return true;
  if (!name.startsWith('.git')) return false;
  const rest = name.slice(4);
  return /^[. ]*$/.test(rest) || rest.startsWith(':');
}

/** Whether a normalised path has a git-metadata component anywhere. */
export function touchesGitMetadata(path: string): boolean {
  return path.split('/').some(isGitMetadataSegment);
}
