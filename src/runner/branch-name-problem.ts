/**
 * Why `name` cannot be a branch to promote onto, or null. The rules of `git check-ref-format
 * --branch` (which would be a git process per submission), plus two names that are refs but
 * not branch names: `HEAD`, and a full `refs/...` name, where the branch is meant short.
 */
export function branchNameProblem(name: string): string | null {
  if (name === 'HEAD' || name === '@') return `"${name}" names a commit, not a branch`;
  if (name.startsWith('refs/')) {
    const short = name.startsWith('refs/heads/') ? name.slice('refs/heads/'.length) : null;
    return short === null || short === ''
      ? `"${name}" is a full ref name; a target is a branch, named short (main, release/1.x)`
      : `"${name}" is a full ref name; name the branch short: "${short}"`;
  }
  if (name.startsWith('-')) return `"${name}" starts with "-"`;
  // Control characters, space and what git reserves for revision syntax.
  const controlOrSpace = [...name].some((char) => char.charCodeAt(0) <= 0x20 || char === '\x7f');
  if (controlOrSpace || /[~^:?*[\\]/.test(name)) {
    return `"${name}" holds a space, a control character or one of ~ ^ : ? * [ \\`;
  }
  if (name.includes('..')) return `"${name}" holds ".."`;
  if (name.includes('@{')) return `"${name}" holds "@{"`;
  if (name.startsWith('/') || name.endsWith('/') || name.includes('//')) {
    return `"${name}" has an empty part between slashes`;
  }
  if (name.endsWith('.')) return `"${name}" ends with "."`;
  for (const part of name.split('/')) {
    if (part.startsWith('.')) return `"${name}" has a part starting with "."`;
    if (part.endsWith('.lock')) return `"${name}" has a part ending with ".lock"`;
  }
  return null;
}
