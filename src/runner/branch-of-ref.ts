/** A branch name from a base ref when it names one (`main`, `refs/heads/main`). */
export function branchOfRef(ref: string | null | undefined): string | null {
  if (ref === null || ref === undefined || ref === 'HEAD' || /^[0-9a-f]{7,40}$/.test(ref)) {
    return null;
  }
  if (ref.startsWith('refs/heads/')) return ref.slice('refs/heads/'.length);
  if (ref.startsWith('refs/')) return null;
  return ref;
}
